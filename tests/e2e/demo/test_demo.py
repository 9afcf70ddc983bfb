"""``make demo`` end to end: every service as a local process, then the summary."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.e2e

SUMMARY_LINES = (
    "drone messages sent",
    "emails delivered",
    "alerts resolved",
    "bad CSV lines",
    "rows stored per dataset",
    "top violation codes",
)


def test_demo_runs_everything_prints_non_zero_counts_and_leaves_no_process(
    tmp_path: Path,
) -> None:
    workdir = tmp_path / "demo-run"
    devkit = Path(sys.executable).with_name("prestacop-devkit")
    done = subprocess.run(  # noqa: S603
        [str(devkit), "demo", "--duration-s", "60", "--rows", "20000", "--workdir", str(workdir)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = done.stdout
    assert done.returncode == 0, output[-3000:] + done.stderr[-3000:]
    summary = output[output.index("Prestacop demo — summary") :]
    for label in SUMMARY_LINES:
        line = next(line for line in summary.splitlines() if line.strip().startswith(label))
        numbers = [int(n) for n in re.findall(r"(?<![\w.])(\d+)(?![\w.])", line.split(label, 1)[1])]
        assert numbers, line
        assert all(n > 0 for n in numbers), f"a zero count in: {line}"

    stored = next(line for line in summary.splitlines() if "rows stored per dataset" in line)
    counts = dict(re.findall(r"(\w+) (\d+)", stored.split("rows stored per dataset", 1)[1]))
    sent = next(line for line in summary.splitlines() if "drone messages sent" in line)
    alerts_sent = int(re.search(r"alerts (\d+)", sent).group(1))  # type: ignore[union-attr]
    mails = int(re.search(r"emails delivered\s+(\d+)", summary).group(1))  # type: ignore[union-attr]
    assert mails == alerts_sent == int(counts["drone_alerts"])
    assert int(counts["tickets"]) >= 20_000
    assert int(counts["quarantine"]) == 3  # the malformed messages the demo injects

    left = [
        p.info["pid"]
        for p in psutil.process_iter(["pid", "cmdline"])
        if any(str(workdir) in part for part in (p.info["cmdline"] or []))
    ]
    assert left == [], f"processes left behind: {left}"

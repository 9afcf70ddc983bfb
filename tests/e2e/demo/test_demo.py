"""``make demo`` end to end: every service as a local process, then the summary.

With no terminal attached (stdout is a pipe here, as in CI) the demo prints a plain status line
every few seconds instead of its live view; the test checks those lines carry the services' own
figures, and that each service logged to its file under ``<workdir>/logs``.

While the fleet runs, the test uses the demo's dashboard as a newcomer would after ``make demo``
(no token anywhere): the page and the reports API answer, and triggering a run is refused with a
message that says why.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

pytestmark = pytest.mark.e2e

SUMMARY_COUNTS: dict[str, tuple[str, str]] = {
    "drone messages sent": (r"status \d+, violations \d+, alerts \d+", r"\w+ (\d+)"),
    "emails delivered": (r"\d+ \(one per alert; Maildir .*\)", r"^(\d+) "),
    "alerts resolved": (r"\d+ by the demo's operator, through the operator API", r"^(\d+) "),
    "bad CSV lines": (
        r"\d+ quarantined in \S+; \d+ malformed drone messages injected .*",
        r"(\d+) (?:quarantined|malformed)",
    ),
    "rows stored per dataset": (r"\w+ \d+(?:, \w+ \d+)*", r"\w+ (\d+)"),
    "top violation codes": (r".+: \d+", r": (\d+)(?:,|$)"),
}
"""Per summary line: the shape it must have, and where its counts are (never inside a path)."""
DASHBOARD_LINE = re.compile(r"demo: dashboard (http://127\.0\.0\.1:\d+)/")
STATUS_LINE = re.compile(
    r"^demo \d+:\d\d \| drones: messages sent: status (?P<status>[\d,]+) · violations [\d,]+ · "
    r"alerts [\d,]+ \| alert-mailer: emails delivered (?P<emails>[\d,]+) · .* \| csv-ingestor: "
    r"rows ingested (?P<ingested>[\d,]+) / (?P<expected>[\d,]+) · .* \| stream-storage: rows "
    r"stored (?P<stored>[\d,]+) · lag: .*$"
)
"""The plain-text fallback's status line."""


def summary_counts(summary: str) -> dict[str, list[int]]:
    """The counts of the summary lines present, by label; a line of another shape fails."""
    counts = {}
    for line in summary.splitlines():
        label = next((label for label in SUMMARY_COUNTS if line.strip().startswith(label)), None)
        if label is None:
            continue
        shape, count = SUMMARY_COUNTS[label]
        rest = line.split(label, 1)[1].strip()
        assert re.fullmatch(shape, rest), f"unexpected summary line: {line}"
        counts[label] = [int(n) for n in re.findall(count, rest)]
    return counts


SERVICES = ("drones", "alert-mailer", "csv-ingestor", "stream-storage", "analytics")


def assert_every_service_logged(workdir: Path) -> None:
    """Each service wrote its own log file under ``<workdir>/logs`` (aiosmtpd's stays empty)."""
    assert (workdir / "logs" / "smtp.log").is_file()
    for service in SERVICES:
        assert (workdir / "logs" / f"{service}.log").stat().st_size > 0, service


def assert_nothing_left_running(workdir: Path) -> None:
    """No process whose command line names the demo's folder is still running."""
    left = [
        p.info["pid"]
        for p in psutil.process_iter(["pid", "cmdline"])
        if any(str(workdir) in part for part in (p.info["cmdline"] or []))
    ]
    assert left == [], f"processes left behind: {left}"


def test_digits_in_the_maildir_path_are_not_counts() -> None:
    """The first pytest run of a machine puts the Maildir under ``pytest-0``: not a zero count."""
    summary = (
        "  emails delivered         12 (one per alert; Maildir /tmp/pytest-of-root/pytest-0/m)\n"
        "  rows stored per dataset  drone_alerts 12, tickets 30212"
    )
    assert summary_counts(summary) == {
        "emails delivered": [12],
        "rows stored per dataset": [12, 30212],
    }


def _read_lines(stream: object, lines: list[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.append(line)


def _use_dashboard_without_token(lines: list[str], demo: subprocess.Popen[str]) -> None:
    """Find the demo's dashboard in its output, then read it and try to trigger a run."""
    deadline = time.monotonic() + 300
    url = None
    while url is None and time.monotonic() < deadline and demo.poll() is None:
        url = next((m.group(1) for line in lines if (m := DASHBOARD_LINE.search(line))), None)
        time.sleep(0.5)
    assert url is not None, "".join(lines)[-3000:]
    with httpx.Client(base_url=url, timeout=10) as client:
        while time.monotonic() < deadline:
            try:
                if client.get("/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        page = client.get("/")
        assert page.status_code == 200 and 'data-chart="fleet"' in page.text
        assert "content-security-policy" in page.headers
        assert client.get("/api/reports").status_code == 200
        assert client.get("/api/runs/current").json()["running"] is False
        refused = client.post("/api/runs")
        assert refused.status_code == 403, refused.text
        assert "read-only" in refused.json()["detail"]
        assert "ANALYTICS_API_TOKEN" in refused.json()["detail"]


def test_demo_runs_everything_prints_non_zero_counts_and_leaves_no_process(
    tmp_path: Path,
) -> None:
    workdir = tmp_path / "demo-run"
    devkit = Path(sys.executable).with_name("prestacop-devkit")
    demo = subprocess.Popen(  # noqa: S603
        [str(devkit), "demo", "--duration-s", "60", "--rows", "20000", "--workdir", str(workdir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=_read_lines, args=(demo.stdout, lines), daemon=True)
    reader.start()
    try:
        _use_dashboard_without_token(lines, demo)
        returncode = demo.wait(timeout=900)
    finally:
        if demo.poll() is None:
            demo.kill()
    reader.join(timeout=30)
    output = "".join(lines)
    assert returncode == 0, output[-6000:]
    summary = output[output.index("Prestacop demo — summary") :]
    counts = summary_counts(summary)
    assert set(counts) == set(SUMMARY_COUNTS), summary
    for label, numbers in counts.items():
        assert numbers, label
        assert all(n > 0 for n in numbers), f"a zero count in {label}: {numbers}"

    status_lines = [m for line in output.splitlines() if (m := STATUS_LINE.match(line))]
    assert len(status_lines) >= 3, output[-6000:]
    last = {key: int(value.replace(",", "")) for key, value in status_lines[-1].groupdict().items()}
    assert last["expected"] == 20_000 + 10_212  # the generated file and the real sample
    # Spark may not have committed a batch yet when a loaded machine ends a 60 s run; the rest
    # has always moved by then.
    working = {key: value for key, value in last.items() if key != "stored"}
    assert all(value > 0 for value in working.values()), status_lines[-1].group(0)
    assert f"demo: each service logs to {workdir / 'logs'}/<service>.log" in output
    assert_every_service_logged(workdir)
    assert '"event"' not in output.split("Prestacop demo — summary")[0]  # no service log lines

    stored = next(line for line in summary.splitlines() if "rows stored per dataset" in line)
    datasets = dict(re.findall(r"(\w+) (\d+)", stored.split("rows stored per dataset", 1)[1]))
    status, violations, alerts_sent = counts["drone messages sent"]
    (mails,) = counts["emails delivered"]
    assert status > 0 and violations > 0
    assert mails == alerts_sent == int(datasets["drone_alerts"])
    assert int(datasets["tickets"]) >= 20_000
    assert int(datasets["quarantine"]) == 3  # the malformed messages the demo injects

    assert_nothing_left_running(workdir)

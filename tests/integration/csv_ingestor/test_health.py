"""The ingestor's /healthz and /metrics (shared helper) while `watch` ingests a real file."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from prestacop_devkit.broker import free_ports
from prestacop_shared.kafka import KafkaSettings
from tests.integration.csv_ingestor.conftest import INGESTOR, ingestor_env

pytestmark = pytest.mark.integration


def _rows_committed(base: str) -> float:
    try:
        text = httpx.get(f"{base}/metrics", timeout=5).text
    except httpx.TransportError:
        return -1.0
    found = re.search(r"^prestacop_csv_ingestor_rows_total (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else -1.0


def _files(base: str, outcome: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=5).text
    found = re.search(
        rf'^prestacop_csv_ingestor_files{{outcome="{outcome}"}} (\S+)$', text, re.MULTILINE
    )
    return float(found.group(1)) if found else -1.0


def test_metrics_count_the_committed_rows_and_health_says_up(
    tmp_path: Path, nyc_data: Path, kafka_settings: KafkaSettings
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (port,) = free_ports(1)
    base = f"http://127.0.0.1:{port}"
    env = ingestor_env(kafka_settings, poll_interval_s=0.2, http_port=port, http_host="127.0.0.1")
    process = subprocess.Popen(  # noqa: S603
        [*INGESTOR, "watch", "--inbox", str(inbox)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while _rows_committed(base) < 0:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the ingestor never served /metrics"
            time.sleep(0.2)
        assert _rows_committed(base) == 0
        assert httpx.get(f"{base}/healthz", timeout=5).json() == {"status": "up"}

        shutil.copy(nyc_data / "fy2016_head_99_rows.csv", inbox)
        while _rows_committed(base) < 99:
            assert time.monotonic() < deadline, f"rows committed: {_rows_committed(base)}"
            time.sleep(0.2)
        assert _rows_committed(base) == 99  # every data line, sent or quarantined, once
        while _files(base, "done") < 1:
            assert time.monotonic() < deadline, f"files done: {_files(base, 'done')}"
            time.sleep(0.2)
        (inbox / "unreadable.csv").write_bytes(b"\xff\xfe not a csv header at all\n")
        while _files(base, "refused") + _files(base, "failed") < 1:
            assert time.monotonic() < deadline, "the bad file was never counted"
            time.sleep(0.2)
        assert _files(base, "done") == 1
        health = httpx.get(f"{base}/healthz", timeout=5)
        assert (health.status_code, health.json()) == (200, {"status": "up"})
    finally:
        process.terminate()
        assert process.wait(timeout=60) == 0

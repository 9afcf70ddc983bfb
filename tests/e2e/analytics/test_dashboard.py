"""The dashboard in a real headless Chromium: every chart drawn, with the report's item counts.

The API runs as its own process (``python -m prestacop_analytics serve``) over a report computed
from stored data; Chromium loads the page with no network but the loopback. A screenshot is kept
under ``test-artifacts/`` for a person to look at.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from pyspark.sql import SparkSession

from prestacop_analytics.config import AnalyticsSettings
from prestacop_analytics.report import ReportResult, run_report
from tests.integration.analytics.stored_data import (
    generated_tickets,
    real_sample_tickets,
    store_everything,
)

pytestmark = pytest.mark.e2e

TOKEN = "e2e-dashboard-token-0123456789"  # noqa: S105 - a test-only secret
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium")


def _chromium() -> str | None:
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


class _Charts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, dict[str, str | None]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:  # noqa: ARG002
        values = dict(attrs)
        name = values.get("data-chart")
        if name:
            self.charts[name] = values


@pytest.fixture(scope="module")
def report(
    spark: SparkSession, nyc_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[AnalyticsSettings, ReportResult]:
    data_dir = tmp_path_factory.mktemp("dashboard") / "data"
    store_everything(spark, data_dir, real_sample_tickets(nyc_data) + generated_tickets(500))
    settings = AnalyticsSettings(DATA_DIR=data_dir, API_TOKEN=TOKEN)
    return settings, run_report(spark, settings)


@pytest.fixture
def api_url(
    report: tuple[AnalyticsSettings, ReportResult], free_tcp_port: int, tmp_path: Path
) -> Iterator[str]:
    settings, _ = report
    env = {
        **os.environ,
        "ANALYTICS_DATA_DIR": str(settings.DATA_DIR),
        "ANALYTICS_API_TOKEN": TOKEN,
        "ANALYTICS_HTTP_PORT": str(free_tcp_port),
        "SPARK_MASTER_URL": "local[1]",
    }
    log_file = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "prestacop_analytics", "serve"],
        env=env,
        stdout=log_file,
        stderr=log_file,
    )
    url = f"http://127.0.0.1:{free_tcp_port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail(f"the API did not answer: {(tmp_path / 'serve.log').read_text()[-2000:]}")
    try:
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=120) == 0, "SIGTERM must stop the API cleanly"
        finally:
            if process.poll() is None:
                process.kill()
            log_file.close()


def _table_rows(result: ReportResult, name: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads(
        (result.folder / f"{name}.json").read_text(encoding="utf-8")
    )["rows"]
    return rows


def test_every_chart_renders_the_report(
    report: tuple[AnalyticsSettings, ReportResult], api_url: str, tmp_path: Path, repo_root: Path
) -> None:
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no Chromium binary found (install Debian's chromium to run this test)")
    _, result = report
    flags = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium'}", "--virtual-time-budget=10000",
        "--window-size=1300,1500",
    ]  # fmt: skip
    dom = subprocess.run(
        [*flags, "--dump-dom", f"{api_url}/"],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    ).stdout
    artifacts = repo_root / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    screenshot = artifacts / "analytics-dashboard.png"
    subprocess.run(
        [*flags, f"--screenshot={screenshot}", f"{api_url}/"],
        capture_output=True,
        timeout=180,
        check=True,
    )
    parser = _Charts()
    parser.feed(dom)
    expected = {
        "top_codes": min(15, len(_table_rows(result, "top_violation_codes"))),
        "hour_weekday": len(_table_rows(result, "tickets_by_hour_weekday")),
        "positions": len(_table_rows(result, "violations_by_position")),
        "fleet": len(_table_rows(result, "fleet")),
        "data_quality": len(_table_rows(result, "data_quality")),
    }
    assert set(parser.charts) == set(expected)
    for name, items in expected.items():
        chart = parser.charts[name]
        assert chart.get("data-rendered") == "true", name
        assert chart.get("data-items") == str(items), name
    assert all(items > 0 for items in expected.values())
    assert result.run_id in dom
    assert screenshot.stat().st_size > 10_000

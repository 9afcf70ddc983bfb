"""The dashboard in a real headless Chromium: every chart drawn, and data shown as text only.

The API runs as its own process (``python -m prestacop_analytics serve``) over a report computed
from stored data; Chromium loads the page with no network but the loopback. A screenshot is kept
under ``test-artifacts/`` for a person to look at. A second report, over drone messages whose
``drone_id`` is an HTML payload, proves that nothing from the data runs in the page.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from pyspark.sql import SparkSession

from prestacop_analytics.config import AnalyticsSettings
from prestacop_analytics.report import ReportResult, run_report
from prestacop_shared.events import DroneState, DroneStatus, Violation
from tests.integration.analytics.stored_data import (
    generated_tickets,
    real_sample_tickets,
    store_everything,
    store_models,
)
from tests.support.browser import find_chromium

pytestmark = pytest.mark.e2e

TOKEN = "e2e-dashboard-token-0123456789"  # noqa: S105 - a test-only secret
HOSTILE_DRONE_ID = "<img src=x onerror=\"document.body.dataset.xss='ran'\">"
"""A drone id as anyone who can write to ``drone.status`` could send it (the model allows it)."""


class _Charts(HTMLParser):
    """The dumped DOM's charts, every tag seen, the body's attributes and each cell's text."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, dict[str, str | None]] = {}
        self.tags: set[str] = set()
        self.body: dict[str, str | None] = {}
        self.cells: list[str] = []
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.tags.add(tag)
        if tag == "body":
            self.body = values
        if tag == "td":
            self._in_cell = True
            self.cells.append("")
        name = values.get("data-chart")
        if name:
            self.charts[name] = values

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self.cells[-1] += data


def _parse(dom: str) -> _Charts:
    parser = _Charts()
    parser.feed(dom)
    return parser


@pytest.fixture(scope="module")
def report(
    spark: SparkSession, nyc_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[AnalyticsSettings, ReportResult]:
    data_dir = tmp_path_factory.mktemp("dashboard") / "data"
    store_everything(spark, data_dir, real_sample_tickets(nyc_data) + generated_tickets(500))
    settings = AnalyticsSettings(DATA_DIR=data_dir, API_TOKEN=TOKEN)
    return settings, run_report(spark, settings)


@contextmanager
def _serving(data_dir: Path, port: int, log_path: Path) -> Iterator[str]:
    """``prestacop-analytics serve`` over ``data_dir`` as its own process; yields its URL."""
    env = {
        **os.environ,
        "ANALYTICS_DATA_DIR": str(data_dir),
        "ANALYTICS_API_TOKEN": TOKEN,
        "ANALYTICS_HTTP_PORT": str(port),
        "SPARK_MASTER_URL": "local[1]",
    }
    log_file = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "prestacop_analytics", "serve"],
        env=env,
        stdout=log_file,
        stderr=log_file,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail(f"the API did not answer: {log_path.read_text()[-2000:]}")
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


@pytest.fixture
def api_url(
    report: tuple[AnalyticsSettings, ReportResult], free_tcp_port: int, tmp_path: Path
) -> Iterator[str]:
    settings, _ = report
    with _serving(settings.DATA_DIR, free_tcp_port, tmp_path / "serve.log") as url:
        yield url


def _chromium_flags(tmp_path: Path) -> list[str]:
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium binary found (install Debian's chromium to run this test)")
    return [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium'}", "--virtual-time-budget=10000",
        "--window-size=1300,1500",
    ]  # fmt: skip


def _dump_dom(flags: list[str], url: str) -> str:
    return subprocess.run(
        [*flags, "--dump-dom", url], capture_output=True, text=True, timeout=180, check=True
    ).stdout


def _table_rows(result: ReportResult, name: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads(
        (result.folder / f"{name}.json").read_text(encoding="utf-8")
    )["rows"]
    return rows


def test_every_chart_renders_the_report(
    report: tuple[AnalyticsSettings, ReportResult], api_url: str, tmp_path: Path, repo_root: Path
) -> None:
    flags = _chromium_flags(tmp_path)
    _, result = report
    dom = _dump_dom(flags, f"{api_url}/")
    artifacts = repo_root / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    screenshot = artifacts / "analytics-dashboard.png"
    subprocess.run(
        [*flags, f"--screenshot={screenshot}", f"{api_url}/"],
        capture_output=True,
        timeout=180,
        check=True,
    )
    parser = _parse(dom)
    expected = {
        "top_codes": min(15, len(_table_rows(result, "top_violation_codes"))),
        "hour_weekday": len(_table_rows(result, "tickets_by_hour_weekday")),
        "positions": len(_table_rows(result, "violations_by_position")),
        "density_map": sum(
            1
            for row in _table_rows(result, "violations_by_position")
            if row["latitude"] is not None and row["longitude"] is not None and row["total"]
        ),
        "fleet": len(_table_rows(result, "fleet")),
        "data_quality": len(_table_rows(result, "data_quality")),
    }
    assert set(parser.charts) == set(expected)
    for name, items in expected.items():
        chart = parser.charts[name]
        assert chart.get("data-rendered") == "true", name
        assert chart.get("data-items") == str(items), name
    assert all(items > 0 for items in expected.values())
    assert parser.charts["density_map"].get("data-boroughs") == "5", "the shared borough map"
    assert result.run_id in dom
    assert f'data-computed-at="{result.manifest["computed_at"]}"' in dom
    tickets = result.manifest["inputs"]["tickets"]
    assert f"covers tickets {tickets['rows']:,} rows in {tickets['files']:,} file" in dom
    assert '<button id="refresh-button" type="button">' in dom, "runs enabled: refresh offered"
    assert screenshot.stat().st_size > 10_000


@pytest.fixture(scope="module")
def hostile_data_dir(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stored drone messages whose ``drone_id`` is an HTML payload, and a report over them."""
    data_dir = tmp_path_factory.mktemp("dashboard-hostile") / "data"
    position = {
        "drone_id": HOSTILE_DRONE_ID,
        "emitted_at": datetime(2026, 3, 1, 8, tzinfo=UTC),
        "latitude": 40.75,
        "longitude": -73.98,
    }
    statuses = [DroneStatus(**position, battery_pct=55.0, state=DroneState.PATROLLING)]
    violations = [Violation(**position, violation_code=21, plate_id="XSS1", image_id="img-x")]
    store_models(spark, statuses, data_dir / "drone_msg" / "status", topic="drone.status")
    store_models(spark, violations, data_dir / "drone_msg" / "violations", topic="drone.violations")
    fleet = run_report(spark, AnalyticsSettings(DATA_DIR=data_dir)).folder / "fleet.json"
    rows = json.loads(fleet.read_text(encoding="utf-8"))["rows"]
    assert [row["drone_id"] for row in rows] == [HOSTILE_DRONE_ID]
    return data_dir


def test_a_drone_id_holding_html_is_shown_as_text_and_never_runs(
    hostile_data_dir: Path, free_tcp_port: int, tmp_path: Path
) -> None:
    flags = _chromium_flags(tmp_path)
    with _serving(hostile_data_dir, free_tcp_port, tmp_path / "serve.log") as url:
        dom = _dump_dom(flags, f"{url}/")
    parsed = _parse(dom)
    assert parsed.charts["fleet"].get("data-rendered") == "true", dom[-2000:]
    assert "data-xss" not in parsed.body, "the payload's onerror handler ran"
    assert "img" not in parsed.tags, "data became an element"
    assert HOSTILE_DRONE_ID in parsed.cells, parsed.cells

"""The HTTP API over real report folders: listing, tables as JSON/CSV, auth, traversal, runs."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pyspark.sql import SparkSession

from prestacop_analytics.api import create_app
from prestacop_analytics.config import AnalyticsSettings
from prestacop_analytics.runner import ReportRunner
from prestacop_analytics.store import ReportStore, write_table

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token-for-tests-only-0123"  # noqa: S105 - a test-only secret
OLD_RUN = "20260101T000000Z-aaaaaa"
NEW_RUN = "20260102T000000Z-bbbbbb"


def _publish(store: ReportStore, run_id: str, tickets: int) -> None:
    with store.writing(run_id) as folder:
        write_table(folder, "tickets_by_hour", ["hour", "tickets"], [(0, tickets), (None, 2)])
        manifest = {"run_id": run_id, "tables": {"tickets_by_hour": {"rows": 2}}}
        (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture
def settings(tmp_path: Path, generated_data_dir: Path) -> AnalyticsSettings:
    return AnalyticsSettings(
        DATA_DIR=generated_data_dir, REPORTS_DIR=tmp_path / "reports", API_TOKEN=TOKEN
    )


@pytest.fixture
def runner(settings: AnalyticsSettings, spark: SparkSession) -> Iterator[ReportRunner]:
    runner = ReportRunner(settings, lambda: spark)
    yield runner
    runner.wait(600)  # never stop the shared test session


@pytest.fixture
def client(settings: AnalyticsSettings, runner: ReportRunner) -> TestClient:
    store = ReportStore(settings.reports_dir)
    _publish(store, OLD_RUN, 5)
    _publish(store, NEW_RUN, 7)
    (settings.reports_dir.parent / "secret.json").write_text('{"secret": true}')
    return TestClient(create_app(settings, runner))


def test_lists_reports_newest_first_and_serves_latest(client: TestClient) -> None:
    listed = client.get("/api/reports").json()["reports"]
    assert [r["run_id"] for r in listed] == [NEW_RUN, OLD_RUN]
    assert client.get("/api/reports/latest").json()["run_id"] == NEW_RUN
    assert client.get(f"/api/reports/{OLD_RUN}").json()["run_id"] == OLD_RUN


def test_table_as_json_and_csv(client: TestClient) -> None:
    as_json = client.get(f"/api/reports/{NEW_RUN}/tables/tickets_by_hour").json()
    assert as_json["rows"] == [{"hour": 0, "tickets": 7}, {"hour": None, "tickets": 2}]
    response = client.get(f"/api/reports/{NEW_RUN}/tables/tickets_by_hour?format=csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(response.text))) == [
        ["hour", "tickets"],
        ["0", "7"],
        ["", "2"],
    ]


def test_unknown_report_or_table_is_404(client: TestClient) -> None:
    assert client.get("/api/reports/20990101T000000Z-cccccc").status_code == 404
    assert client.get(f"/api/reports/{NEW_RUN}/tables/fleet").status_code == 404
    assert (
        client.get(f"/api/reports/{NEW_RUN}/tables/tickets_by_hour?format=xml").status_code == 422
    )


@pytest.mark.parametrize(
    "path",
    [
        "/api/reports/..",
        "/api/reports/../secret.json",
        "/api/reports/..%2Fsecret.json",
        "/api/reports/%2E%2E/tables/secret",
        f"/api/reports/{NEW_RUN}/tables/..%2F..%2Fsecret",
        f"/api/reports/{NEW_RUN}/tables/%2Fetc%2Fpasswd",
        "/api/reports/%2Fetc%2Fpasswd",
        f"/api/reports/{NEW_RUN}/tables/manifest",
        "/api/reports/.tmp-x/tables/tickets_by_hour",
        "/static/../api.py",
        "/static/%2E%2E/api.py",
    ],
)
def test_no_path_outside_the_reports_folder_is_reachable(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code in (404, 422), (path, response.status_code)
    assert "secret" not in response.text.replace("secret.json", "")
    assert "root:" not in response.text


def test_trigger_requires_the_token(client: TestClient) -> None:
    assert client.post("/api/runs").status_code == 401
    wrong = client.post("/api/runs", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401


def test_triggered_run_publishes_a_report_and_refuses_a_second_at_once(
    client: TestClient, runner: ReportRunner
) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post("/api/runs", headers=auth).status_code == 202
    assert client.post("/api/runs", headers=auth).status_code == 409
    runner.wait(600)
    state = client.get("/api/runs/current").json()
    assert state["running"] is False and state["last_error"] is None
    latest = client.get("/api/reports/latest").json()
    assert latest["run_id"] == state["last_run_id"]
    assert latest["inputs"]["tickets"]["rows"] == 3000
    top = client.get(f"/api/reports/{latest['run_id']}/tables/top_violation_codes").json()
    assert sum(row["tickets"] for row in top["rows"]) == 3000
    metrics = client.get("/metrics").text
    assert 'prestacop_analytics_runs_total{outcome="ok"} 1.0' in metrics
    assert client.get("/healthz").json()["status"] == "ok"


def test_dashboard_and_its_assets_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and 'data-chart="top_codes"' in page.text
    script = client.get("/static/dashboard.js")
    assert script.status_code == 200
    # Everything the page needs is served by the app: no CDN, no tile server.
    assert "https://" not in script.text and "https://" not in page.text


def test_without_a_token_the_dashboard_is_read_only(tmp_path: Path) -> None:
    """No token configured: every read works, a run cannot be triggered, and the answer says why."""
    settings = AnalyticsSettings(DATA_DIR=tmp_path / "data", REPORTS_DIR=tmp_path / "reports")
    _publish(ReportStore(settings.reports_dir), NEW_RUN, 7)

    def no_spark() -> SparkSession:
        raise AssertionError("a read-only dashboard must not start Spark")

    runner = ReportRunner(settings, no_spark)
    client = TestClient(create_app(settings, runner))
    assert client.get("/").status_code == 200
    assert client.get("/api/reports/latest").json()["run_id"] == NEW_RUN
    assert client.get(f"/api/reports/{NEW_RUN}/tables/tickets_by_hour").status_code == 200
    for headers in ({}, {"Authorization": f"Bearer {TOKEN}"}):
        refused = client.post("/api/runs", headers=headers)
        assert refused.status_code == 403, refused.text
        assert "ANALYTICS_API_TOKEN" in refused.json()["detail"]
        assert "read-only" in refused.json()["detail"]
    assert client.get("/api/runs/current").json()["running"] is False
    assert client.get("/healthz").json()["runs_enabled"] is False


SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
CSP_DIRECTIVES = (
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
)


@pytest.mark.parametrize(
    "path", ["/", "/static/dashboard.js", "/api/reports/latest", "/api/reports/nope-x"]
)
def test_responses_carry_a_content_security_policy(client: TestClient, path: str) -> None:
    response = client.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (path, name)
    policy = [part.strip() for part in response.headers["content-security-policy"].split(";")]
    for directive in CSP_DIRECTIVES:
        assert directive in policy, (path, directive)
    assert "unsafe-inline" not in response.headers["content-security-policy"]


def test_report_runs_over_missing_datasets(tmp_path: Path, spark: SparkSession) -> None:
    """No data stored yet: every table exists and is empty (or zero), no crash."""
    settings = AnalyticsSettings(DATA_DIR=tmp_path / "nothing-yet", API_TOKEN=TOKEN)
    runner = ReportRunner(settings, lambda: spark)
    result = runner.run_now()
    assert result.manifest["inputs"]["tickets"]["rows"] == 0
    assert result.manifest["tables"]["fleet"]["rows"] == 0
    assert result.manifest["tables"]["top_violation_codes"]["rows"] == 0

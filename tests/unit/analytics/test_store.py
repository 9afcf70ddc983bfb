"""The reports folder: atomic publication, sortable ids, names that cannot escape the folder."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from prestacop_analytics.exceptions import InvalidNameError, ReportNotFoundError
from prestacop_analytics.store import ReportStore, new_run_id, write_table

pytestmark = pytest.mark.unit


def _publish(store: ReportStore, run_id: str) -> None:
    with store.writing(run_id) as folder:
        write_table(folder, "by_hour", ["hour", "tickets"], [(0, 3), (None, 1)])
        (folder / "manifest.json").write_text(json.dumps({"tables": {"by_hour": {"rows": 2}}}))


def test_run_ids_sort_by_time() -> None:
    early = new_run_id(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    late = new_run_id(datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC))
    assert early.startswith("20260102T030405Z-") and sorted([late, early]) == [early, late]


def test_a_failed_run_publishes_nothing(tmp_path: Path) -> None:
    store = ReportStore(tmp_path)
    with pytest.raises(RuntimeError), store.writing("20260101T000000Z-abcdef") as folder:
        (folder / "half.csv").write_text("hour\n")
        raise RuntimeError("Spark died")
    assert store.run_ids() == []
    assert list(tmp_path.iterdir()) == []


def test_a_report_in_progress_is_invisible(tmp_path: Path) -> None:
    store = ReportStore(tmp_path)
    _publish(store, "20260101T000000Z-aaaaaa")
    with store.writing("20260102T000000Z-bbbbbb"):
        assert store.latest_run_id() == "20260101T000000Z-aaaaaa"
    assert store.latest_run_id() == "20260102T000000Z-bbbbbb"


def test_tables_are_written_as_csv_and_json(tmp_path: Path) -> None:
    store = ReportStore(tmp_path)
    _publish(store, "20260101T000000Z-aaaaaa")
    csv_path = store.table_path("20260101T000000Z-aaaaaa", "by_hour", "csv")
    assert csv_path.read_text().splitlines() == ["hour,tickets", "0,3", ",1"]
    document = json.loads(
        store.table_path("20260101T000000Z-aaaaaa", "by_hour", "json").read_text()
    )
    assert document["rows"] == [{"hour": 0, "tickets": 3}, {"hour": None, "tickets": 1}]


@pytest.mark.parametrize(
    "run_id", ["..", "../x", "/etc", "20260101T000000Z-aaaaaa/..", ".tmp-x", ""]
)
def test_bad_run_ids_are_refused_before_any_lookup(tmp_path: Path, run_id: str) -> None:
    with pytest.raises(InvalidNameError):
        ReportStore(tmp_path).report_dir(run_id)


@pytest.mark.parametrize(
    "table", ["../manifest", "/etc/passwd", "manifest", "BY_HOUR", "by_hour.csv"]
)
def test_only_tables_of_the_manifest_are_served(tmp_path: Path, table: str) -> None:
    store = ReportStore(tmp_path)
    _publish(store, "20260101T000000Z-aaaaaa")
    with pytest.raises((InvalidNameError, ReportNotFoundError)):
        store.table_path("20260101T000000Z-aaaaaa", table, "json")


def test_a_symlink_out_of_the_folder_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "manifest.json").write_text("{}")
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "20260101T000000Z-aaaaaa").symlink_to(outside)
    with pytest.raises(ReportNotFoundError):
        ReportStore(reports).manifest("20260101T000000Z-aaaaaa")

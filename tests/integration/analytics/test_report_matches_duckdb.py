"""Acceptance: every table of a Spark report equals DuckDB's independent computation.

DuckDB reads the very part files listed in each sink's ``_spark_metadata`` log; the two engines
share nothing but the stored files and the documented parsing rules.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from prestacop_analytics.config import AnalyticsSettings
from prestacop_analytics.report import ReportResult, run_report
from prestacop_analytics.tables import TABLES
from tests.integration.analytics import duckdb_report

pytestmark = pytest.mark.integration


def _normalise(value: Any) -> Any:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat()
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    return value


def _sort_key(row: tuple[Any, ...]) -> tuple[tuple[bool, str], ...]:
    return tuple((v is None, repr(v)) for v in row)


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        return math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-9)
    return bool(left == right)


def assert_report_equals_duckdb(result: ReportResult, data_dir: Path) -> None:
    counts, expected_tables = duckdb_report.run(data_dir)
    manifest = result.manifest
    assert {name: entry["rows"] for name, entry in manifest["inputs"].items()} == counts
    assert set(manifest["tables"]) == set(expected_tables) == {spec.name for spec in TABLES}
    for name, (columns, expected_rows) in expected_tables.items():
        document = json.loads((result.folder / f"{name}.json").read_text(encoding="utf-8"))
        assert document["columns"] == columns, name
        got = sorted(
            (tuple(_normalise(row[c]) for c in columns) for row in document["rows"]), key=_sort_key
        )
        want = sorted((tuple(_normalise(v) for v in row) for row in expected_rows), key=_sort_key)
        assert len(got) == len(want) == manifest["tables"][name]["rows"], name
        for got_row, want_row in zip(got, want, strict=True):
            assert all(_same(g, w) for g, w in zip(got_row, want_row, strict=True)), (
                f"{name}: spark {got_row} != duckdb {want_row}"
            )


def test_report_on_real_samples_equals_duckdb(
    spark: SparkSession, real_data_dir: Path, tmp_path: Path
) -> None:
    result = run_report(spark, AnalyticsSettings(DATA_DIR=real_data_dir, REPORTS_DIR=tmp_path))
    assert_report_equals_duckdb(result, real_data_dir)
    assert result.manifest["inputs"]["tickets"]["rows"] == 10212 + 4 * 99


def test_report_on_generated_data_equals_duckdb(
    spark: SparkSession, generated_data_dir: Path, tmp_path: Path
) -> None:
    result = run_report(spark, AnalyticsSettings(DATA_DIR=generated_data_dir, REPORTS_DIR=tmp_path))
    assert_report_equals_duckdb(result, generated_data_dir)
    quality = {
        row["metric"]: row["value"]
        for row in json.loads((result.folder / "data_quality.json").read_text())["rows"]
    }
    # The generator plants junk: it must be counted, never dropped.
    assert quality["violation_time_unparseable"] > 0
    assert quality["issue_date_unparseable"] > 0
    assert quality["issue_date_out_of_range"] > 0
    assert quality["repeated_summons_numbers"] > 0
    assert quality["quarantined_records"] == 7
    hours = json.loads((result.folder / "tickets_by_hour.json").read_text())["rows"]
    assert sum(row["tickets"] for row in hours) == quality["tickets_stored"]

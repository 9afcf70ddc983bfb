"""Acceptance: incremental reports equal DuckDB over all committed files, step after step.

Data is stored in steps by real Spark file-sink queries (one batch per call, a sink log
compacted every 2 batches so that batch ids are forgotten): new days, a late batch for an old
day, resolutions of alerts counted in an earlier run, a quarantine batch. After every step the
incremental report equals the DuckDB oracle over every committed file; after the last step a
``--full`` run gives the identical report. Then an incremental run is SIGKILLed mid-way in a real
subprocess, and the next run still equals the oracle.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from pyspark.sql import SparkSession

from prestacop_analytics.config import AnalyticsSettings
from prestacop_analytics.report import ReportResult, run_report
from prestacop_analytics.state import PARTIALS, STATE_FILE
from prestacop_analytics.tables import TABLES
from prestacop_shared import datasets
from prestacop_shared.sink_log import committed_files
from prestacop_shared.spark import QUARANTINE_SCHEMA
from prestacop_shared.tickets import HistoricalTicket
from tests.integration.analytics.stored_data import (
    generated_fleet,
    generated_tickets,
    quarantine_records,
    store_models,
    write_stored,
)
from tests.integration.analytics.test_report_matches_duckdb import assert_report_equals_duckdb

pytestmark = pytest.mark.integration

DAY_1 = datetime(2026, 2, 1, 9, tzinfo=UTC)


def _on_day(tickets: Sequence[HistoricalTicket], day: datetime) -> list[HistoricalTicket]:
    return [
        t.model_copy(update={"emitted_at": day + timedelta(seconds=i)})
        for i, t in enumerate(tickets)
    ]


def _store(spark: SparkSession, data: Path, dataset: datasets.Dataset, models: Any) -> None:
    store_models(spark, list(models), dataset.output_dir(data), topic=dataset.topic)


def _store_quarantine(spark: SparkSession, data: Path, records: list[dict[str, Any]]) -> None:
    write_stored(
        spark, records, QUARANTINE_SCHEMA, datasets.STATUS.quarantine_dir(data),
        topic=None, date_column="kafka_timestamp",
    )  # fmt: skip


def _tables(result: ReportResult) -> dict[str, Any]:
    return {
        spec.name: json.loads((result.folder / f"{spec.name}.json").read_text(encoding="utf-8"))
        for spec in TABLES
    }


def _assert_covers_every_committed_file(result: ReportResult, data: Path) -> None:
    tickets = result.manifest["inputs"]["tickets"]
    assert tickets["files"] == len(committed_files(datasets.TICKETS.output_dir(data)))
    as_of = result.manifest["tables"]["top_violation_codes"]["as_of"]
    assert as_of == {"tickets": {k: v for k, v in tickets.items() if k != "path"}}


@pytest.fixture(scope="module")
def compacting_sink_log(spark: SparkSession) -> Iterator[None]:
    """Sink logs compacted every 2 batches: later runs can only tell new files by path."""
    key = "spark.sql.streaming.fileSink.log.compactInterval"
    previous = spark.conf.get(key, None)
    spark.conf.set(key, "2")
    yield
    if previous is None:
        spark.conf.unset(key)
    else:
        spark.conf.set(key, previous)


@pytest.fixture(scope="module")
def stepped(
    spark: SparkSession, tmp_path_factory: pytest.TempPathFactory, compacting_sink_log: None
) -> tuple[Path, AnalyticsSettings]:
    folder = tmp_path_factory.mktemp("analytics-incremental")
    data = folder / "data"
    settings = AnalyticsSettings(DATA_DIR=data, REPORTS_DIR=folder / "reports")
    return data, settings


FLEET = generated_fleet(drones=3, statuses_per_drone=12)
TICKETS = generated_tickets(2400, seed=23)


def _resolutions_half(first: bool) -> list[BaseModel]:
    resolutions = FLEET["alert_resolutions"]
    return resolutions[: len(resolutions) // 2] if first else resolutions[len(resolutions) // 2 :]


STEPS = (
    "first two days, fleet, quarantine",
    "a new day, later statuses, the other resolutions",
    "a late batch for the first day",
    "a quarantine batch",
    "nothing new",
)


def _store_step(step: str, spark: SparkSession, data: Path) -> None:
    if step == STEPS[0]:
        _store(spark, data, datasets.TICKETS, _on_day(TICKETS[:600], DAY_1))
        _store(spark, data, datasets.TICKETS, _on_day(TICKETS[600:1200], DAY_1 + timedelta(1)))
        _store(spark, data, datasets.STATUS, FLEET["status"][:20])
        _store(spark, data, datasets.VIOLATIONS, FLEET["violations"])
        _store(spark, data, datasets.ALERTS, FLEET["alerts"])
        _store(spark, data, datasets.ALERT_RESOLUTIONS, _resolutions_half(first=True))
        _store_quarantine(spark, data, quarantine_records(4))
    elif step == STEPS[1]:
        _store(spark, data, datasets.TICKETS, _on_day(TICKETS[1200:1700], DAY_1 + timedelta(2)))
        _store(spark, data, datasets.STATUS, FLEET["status"][20:])
        _store(spark, data, datasets.ALERT_RESOLUTIONS, _resolutions_half(first=False))
    elif step == STEPS[2]:
        _store(spark, data, datasets.TICKETS, _on_day(TICKETS[1700:2000], DAY_1))
    elif step == STEPS[3]:
        _store_quarantine(spark, data, quarantine_records(9)[4:])


def test_incremental_report_equals_duckdb_after_every_step_and_full_is_identical(
    spark: SparkSession, stepped: tuple[Path, AnalyticsSettings]
) -> None:
    data, settings = stepped
    # Small partials are collected to the driver and written there, big ones written by Spark:
    # steps alternate between the two, so the kept state mixes both kinds of Parquet.
    spark_written = settings.model_copy(update={"COLLECT_PARTIAL_MAX_MB": 0})
    counted_before = 0
    result = None
    for index, step in enumerate(STEPS):
        _store_step(step, spark, data)
        result = run_report(spark, spark_written if index % 2 else settings)
        assert result.manifest["mode"] == "incremental", step
        assert_report_equals_duckdb(result, data)
        _assert_covers_every_committed_file(result, data)
        tickets_files = result.manifest["inputs"]["tickets"]["files"]
        assert result.manifest["new_files"]["tickets"] == tickets_files - counted_before, step
        counted_before = tickets_files
    assert result is not None
    assert result.manifest["new_files"] == dict.fromkeys(result.manifest["new_files"], 0)
    fleet = {row["drone_id"]: row for row in _tables(result)["fleet"]["rows"]}
    assert sum(row["resolved_alerts"] for row in fleet.values()) == len(FLEET["alert_resolutions"])

    for rebuild in (spark_written, settings):
        full = run_report(spark, rebuild, full=True)
        assert full.manifest["mode"] == "full"
        assert _tables(full) == _tables(result)
        assert full.manifest["inputs"] == result.manifest["inputs"]


def _state(settings: AnalyticsSettings) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((settings.state_dir / STATE_FILE).read_text())
    return document


def _uncommitted_partial(settings: AnalyticsSettings, committed: list[str]) -> bool:
    folder = settings.state_dir / PARTIALS
    return folder.is_dir() and any(p.name not in committed for p in folder.iterdir())


def _run_and_kill_mid_way(settings: AnalyticsSettings, spark_jars_dir: Path) -> bool:
    """Start ``run`` as a subprocess; SIGKILL it once it writes partials it has not committed.

    Returns whether it was killed mid-way (False: it finished before it could be).
    """
    committed = _state(settings)["partials"]
    env = {
        **os.environ,
        "ANALYTICS_DATA_DIR": str(settings.DATA_DIR),
        "ANALYTICS_REPORTS_DIR": str(settings.reports_dir),
        "SPARK_MASTER_URL": "local[1]",
        "SPARK_KAFKA_JARS_DIR": str(spark_jars_dir),
    }
    process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "prestacop_analytics", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while process.poll() is None:
            if _uncommitted_partial(settings, committed):
                process.send_signal(signal.SIGKILL)
                process.wait(60)
                return bool(_state(settings)["partials"] == committed)
            time.sleep(0.005)
        return False
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(60)


def test_run_killed_mid_way_then_rerun_equals_duckdb(
    spark: SparkSession, stepped: tuple[Path, AnalyticsSettings], spark_jars_dir: Path
) -> None:
    """SIGKILL lands after the run read new files and wrote partials, before its commit.

    The kill is timed by watching the state folder from outside (no hook in the service): the
    run is stopped as soon as a partial folder appears that ``state.json`` does not list. If a
    run ends before that is seen, another batch is stored and the kill retried.
    """
    data, settings = stepped
    run_report(spark, settings)
    for attempt in range(3):
        late = _on_day(generated_tickets(300, seed=40 + attempt), DAY_1 + timedelta(1))
        _store(spark, data, datasets.TICKETS, late)
        if _run_and_kill_mid_way(settings, spark_jars_dir):
            break
    else:
        pytest.fail("three runs finished before they could be killed mid-way")
    assert _uncommitted_partial(settings, _state(settings)["partials"])

    rerun = run_report(spark, settings)
    assert rerun.manifest["new_files"]["tickets"] > 0
    assert_report_equals_duckdb(rerun, data)
    _assert_covers_every_committed_file(rerun, data)
    assert not _uncommitted_partial(settings, _state(settings)["partials"])


def test_a_crowded_state_is_recounted_into_one_partial_folder(
    spark: SparkSession, tmp_path: Path
) -> None:
    """ANALYTICS_MAX_PARTIALS bounds what a run merges: the run that finds that many folders
    (and new files) recounts every committed file into one, and the report stays the oracle's."""
    data = tmp_path / "data"
    settings = AnalyticsSettings(DATA_DIR=data, REPORTS_DIR=tmp_path / "reports", MAX_PARTIALS=2)
    tickets = generated_tickets(1200, seed=31)
    modes = []
    days = (DAY_1, DAY_1 + timedelta(1), DAY_1, DAY_1 + timedelta(2))
    for step, day in enumerate(days):
        _store(spark, data, datasets.TICKETS, _on_day(tickets[step * 300 : (step + 1) * 300], day))
        result = run_report(spark, settings)
        modes.append((result.manifest["mode"], len(_state(settings)["partials"])))
        assert_report_equals_duckdb(result, data)
        _assert_covers_every_committed_file(result, data)
        if step == 2:
            assert result.manifest["rebuilt_because"] == (
                "the kept state held ANALYTICS_MAX_PARTIALS partial folders"
            )
    assert modes == [("incremental", 1), ("incremental", 2), ("full", 1), ("incremental", 2)]
    kept = sorted(_state(settings)["partials"])
    assert sorted(p.name for p in (settings.state_dir / PARTIALS).iterdir()) == kept
    idle = run_report(spark, settings)  # crowded, but nothing new: nothing to recount
    assert (idle.manifest["mode"], idle.manifest["rebuilt_because"]) == ("incremental", None)
    assert _tables(idle) == _tables(result)

"""One report run: read the stored data once, compute every table, publish the report folder."""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from prestacop_analytics.config import AnalyticsSettings
from prestacop_analytics.inputs import ReportInputs, load_inputs
from prestacop_analytics.store import MANIFEST, ReportStore, new_run_id, write_table
from prestacop_analytics.tables import (
    TABLES,
    Rows,
    TableContext,
    TableSpec,
    summarise_tickets,
)
from prestacop_shared import datasets as catalogue

log = logging.getLogger(__name__)


SPARK_CONFIG: dict[str, str] = {
    # The sink's files cannot be split (multi-line CSV): packed into 128 MB partitions by
    # default, a few hundred MB give 3 tasks for 2 cores. Smaller packs keep every core busy.
    "spark.sql.files.maxPartitionBytes": str(32 * 1024 * 1024),
}
"""Session settings the analytics service adds to the shared ones."""


@dataclass(frozen=True)
class ReportResult:
    """A published report."""

    run_id: str
    folder: Path
    manifest: dict[str, Any]


def _input_counts(inputs: ReportInputs, settings: AnalyticsSettings) -> dict[str, Any]:
    datasets = {
        "tickets": (settings.tickets_dir, inputs.tickets),
        "drone_status": (settings.dataset_dir(catalogue.STATUS), inputs.statuses),
        "drone_violations": (settings.dataset_dir(catalogue.VIOLATIONS), inputs.violations),
        "drone_alerts": (settings.dataset_dir(catalogue.ALERTS), inputs.alerts),
        "drone_alert_resolutions": (
            settings.dataset_dir(catalogue.ALERT_RESOLUTIONS),
            inputs.resolutions,
        ),
        "quarantine": (settings.quarantine_dir, inputs.quarantine),
    }
    return {
        name: {"path": str(path), "present": path.exists(), "rows": frame.count()}
        for name, (path, frame) in datasets.items()
    }


def _compute(
    spec: TableSpec, context: TableContext
) -> tuple[list[str], list[tuple[Any, ...]], float]:
    started = time.perf_counter()
    table = spec.compute(context)
    if isinstance(table, Rows):
        columns, rows = table.columns, table.rows
    else:
        columns, rows = table.columns, [tuple(row) for row in table.collect()]
    return columns, rows, round(time.perf_counter() - started, 3)


def _collect_dicts(frame: DataFrame) -> list[dict[str, Any]]:
    return [row.asDict() for row in frame.collect()]


def run_report(spark: SparkSession, settings: AnalyticsSettings) -> ReportResult:
    """Compute the standard report over the stored data and publish it atomically.

    The tables are aggregates over the cached inputs, computed ``PARALLEL_TABLES`` at a time
    (Spark runs jobs from several threads side by side, which hides each job's fixed cost).

    Raises:
        DatasetError: a dataset folder is not a stream-storage output folder.
    """
    run_id = new_run_id()
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    store = ReportStore(settings.reports_dir)
    log.info("report run started", extra={"run_id": run_id, "data_dir": str(settings.DATA_DIR)})
    inputs = load_inputs(spark, settings)
    try:
        load_started = time.perf_counter()
        counts = _input_counts(inputs, settings)
        summary = summarise_tickets(inputs.tickets, settings.POSITION_CELL_DEG)
        with ThreadPoolExecutor(settings.PARALLEL_TABLES, thread_name_prefix="counts") as pool:
            collected = pool.map(_collect_dicts, summary.values())
            counts_by = dict(zip(summary, collected, strict=True))
        load_s = time.perf_counter() - load_started
        context = TableContext(
            spark=spark,
            inputs=inputs,
            counts=counts_by,
            quarantined_records=counts["quarantine"]["rows"],
            top_repeated_summons=settings.TOP_REPEATED_SUMMONS,
            position_cell_deg=settings.POSITION_CELL_DEG,
        )
        tables: dict[str, Any] = {}
        with (
            store.writing(run_id) as folder,
            ThreadPoolExecutor(settings.PARALLEL_TABLES, thread_name_prefix="table") as pool,
        ):
            computed = [(spec, pool.submit(_compute, spec, context)) for spec in TABLES]
            for spec, future in computed:
                columns, rows, seconds = future.result()
                write_table(folder, spec.name, columns, rows)
                tables[spec.name] = {
                    "description": spec.description,
                    "columns": columns,
                    "rows": len(rows),
                    "seconds": seconds,
                }
            manifest = {
                "run_id": run_id,
                "started_at": started_at.isoformat(),
                "finished_at": datetime.now(UTC).isoformat(),
                "spark_version": spark.version,
                "data_dir": str(settings.DATA_DIR),
                "inputs": counts,
                "load_seconds": round(load_s, 3),
                "tables": tables,
                "total_seconds": round(time.perf_counter() - started, 3),
            }
            (folder / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    finally:
        inputs.unpersist()

    result = ReportResult(run_id=run_id, folder=store.root / run_id, manifest=manifest)
    log.info(
        "report published",
        extra={
            "run_id": run_id,
            "folder": str(result.folder),
            "seconds": manifest["total_seconds"],
        },
    )
    return result

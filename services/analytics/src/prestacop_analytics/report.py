"""One report run: count what was committed since the last run, merge, publish the report.

Design: per-run partial aggregates stored as small Parquet files, with a manifest of the files
already counted (:mod:`prestacop_analytics.state`). Chosen over Structured Streaming with
``availableNow`` and RocksDB state because:

* a report is a batch question ("what do the committed files say now"), and the partials answer
  it exactly: each is a mergeable aggregate (counts per key, the latest status per drone, the
  join keys of alerts and resolutions), so a ``--full`` rebuild and any sequence of incremental
  runs go through the same merge code and give identical tables;
* the new files are found by path from each sink's log (a compaction forgets batch ids), which a
  streaming file source would also do, but its checkpoint, offsets and RocksDB state would be a
  second copy of "what was counted" beside the report, and a streaming aggregation cannot emit
  the top-N, the join of alerts with later resolutions or the latest status per drone in
  ``complete`` mode over several sources at once;
* the commit is one atomic rename of ``state.json`` that lists the counted files and the partial
  folders together: a run killed at any point counts nothing twice and misses nothing on rerun;
* one Spark job per input that has new files and nothing else, so an incremental run costs the
  new files plus a merge of small Parquet files on the driver (Arrow); a small increment's
  partial is written on the driver, which spares Spark's file-writing job
  (``ANALYTICS_COLLECT_PARTIAL_MAX_MB``): the tickets' by the same Arrow function the Spark
  tasks run (:mod:`prestacop_analytics.ticket_counts`), the live datasets' collected from Spark.

Delivery guarantee: every committed file of every input is counted exactly once in the
published report, across crashes (SIGKILL included) and reruns; files of failed batches, which
the sink log does not list, are never read. ``full=True`` forgets the state and recounts every
committed file.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from prestacop_analytics.config import AnalyticsSettings
from prestacop_analytics.exceptions import DatasetError
from prestacop_analytics.merge import input_rows, merge_partials, read_partial
from prestacop_analytics.partials import StoredInput, stored_inputs, write_partial
from prestacop_analytics.state import KeptState, StateStore
from prestacop_analytics.store import MANIFEST, ReportStore, new_run_id, write_table
from prestacop_analytics.tables import QUARANTINE, TABLES, TableContext
from prestacop_shared.sink_log import SinkLogError, committed_files

log = logging.getLogger(__name__)


SPARK_CONFIG: dict[str, str] = {
    # The sink's files cannot be split (multi-line CSV): packed into 128 MB partitions by
    # default, a few hundred MB give 3 tasks for 2 cores. Smaller packs keep every core busy.
    "spark.sql.files.maxPartitionBytes": str(32 * 1024 * 1024),
    # A run hands Spark its committed files by path; above this many paths Spark lists them
    # with a job of one task per path (125 tasks, ~2 s at 10M rows) instead of on the driver.
    "spark.sql.sources.parallelPartitionDiscovery.threshold": "100000",
    # PySpark 4 records the Python call site of every DataFrame and Column call for error
    # messages, at several Py4J round trips each: building the tickets partial's DataFrame takes
    # 2,130 round trips with it, 989 without. Errors still name the failing expression, without
    # the Python line.
    "spark.python.sql.dataFrameDebugging.enabled": "false",
}
"""Session settings the analytics service adds to the shared ones."""


@dataclass(frozen=True)
class ReportResult:
    """A published report."""

    run_id: str
    folder: Path
    manifest: dict[str, Any]


def _committed(source: StoredInput) -> dict[str, int]:
    """The committed files of ``source`` (path -> batch id); none if the sink is not written yet.

    Raises:
        DatasetError: the folder holds files but no sink log (refusing to glob part files).
    """
    if not source.sink.exists() or not any(source.sink.iterdir()):
        return {}
    try:
        return {str(f.path): f.batch_id for f in committed_files(source.sink)}
    except SinkLogError as error:
        raise DatasetError(str(error)) from error


def _count_new_files(
    spark: SparkSession,
    store: StateStore,
    state: KeptState,
    run_id: str,
    committed: dict[str, dict[str, int]],
    sources: list[StoredInput],
    collect_max_bytes: int,
) -> dict[str, int]:
    """Write the partials of every input's uncounted files; add them to ``state`` (uncommitted).

    Returns the number of new files per input.
    """
    temporary = store.temporary_partial_dir(run_id)
    new_files: dict[str, int] = {}
    written: list[tuple[StoredInput, dict[str, int], str]] = []
    for source in sources:
        coverage = state.coverage(source.name)
        fresh = _uncounted(coverage.files, committed[source.name])
        new_files[source.name] = len(fresh)
        if not fresh:
            continue
        folder_name = source.name.replace("/", "__")
        write_partial(
            spark,
            source,
            [Path(p) for p in sorted(fresh)],
            temporary / source.kind / folder_name,
            collect_max_bytes=collect_max_bytes,
        )
        written.append((source, fresh, folder_name))
    if not written:
        return new_files
    published = store.publish_partial(run_id)
    for source, fresh, folder_name in written:
        partial = read_partial(published / source.kind / folder_name, source.kind)
        coverage = state.coverage(source.name)
        coverage.rows += input_rows(source.kind, partial) if partial is not None else 0
        coverage.files.update(fresh)
    state.partials.append(run_id)
    return new_files


def _uncounted(counted: dict[str, int], committed: dict[str, int]) -> dict[str, int]:
    """The ``committed`` files (path -> batch id) that are not among the ``counted`` ones."""
    return {path: batch for path, batch in committed.items() if path not in counted}


def _has_new_files(state: KeptState, committed: dict[str, dict[str, int]]) -> bool:
    """Whether any input has a committed file ``state`` has not counted (``state`` unchanged)."""
    return any(
        _uncounted(state.inputs[name].files if name in state.inputs else {}, files)
        for name, files in committed.items()
    )


def _stale(state: KeptState, committed: dict[str, dict[str, int]]) -> list[str]:
    """Inputs whose counted files are no longer all committed (the sink was rewritten)."""
    return [
        name
        for name, coverage in state.inputs.items()
        if not set(coverage.files) <= set(committed.get(name, {}))
    ]


def _rebuild_reason(*, full: bool, stale: list[str], crowded: bool) -> str | None:
    """Why a run recounted everything (``None``: it was incremental)."""
    if full:
        return "asked (--full)"
    if stale:
        return f"counted files no longer committed in {', '.join(stale)}"
    if crowded:
        return "the kept state held ANALYTICS_MAX_PARTIALS partial folders"
    return None


def _stamps(state: KeptState) -> dict[str, dict[str, Any]]:
    """The "as of" stamp of every report input (quarantine sinks summed)."""
    stamps = {
        name: coverage.stamp()
        for name, coverage in state.inputs.items()
        if not name.startswith(f"{QUARANTINE}/")
    }
    quarantine = {
        name.split("/", 1)[1]: coverage
        for name, coverage in state.inputs.items()
        if name.startswith(f"{QUARANTINE}/")
    }
    batches = [c.latest_batch for c in quarantine.values() if c.latest_batch is not None]
    stamps[QUARANTINE] = {
        "files": sum(len(c.files) for c in quarantine.values()),
        "rows": sum(c.rows for c in quarantine.values()),
        "latest_batch": max(batches) if batches else None,
        "sinks": {sink: coverage.stamp() for sink, coverage in quarantine.items()},
    }
    return stamps


def run_report(
    spark: SparkSession, settings: AnalyticsSettings, *, full: bool = False
) -> ReportResult:
    """Count the newly committed files, merge with the kept state, publish the report atomically.

    ``full`` recounts every committed file from an empty state (the same report, rebuilt).

    Raises:
        DatasetError: a dataset folder is not a stream-storage output folder.
        RunInProgressError: another process is running a report over the same state.
    """
    run_id = new_run_id()
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    store = ReportStore(settings.reports_dir)
    states = StateStore(settings.state_dir)
    log.info(
        "report run started",
        extra={"run_id": run_id, "data_dir": str(settings.DATA_DIR), "full": full},
    )
    with states.locked():
        committed_state = states.load()
        states.remove_uncommitted(committed_state)
        sources = stored_inputs(
            settings.DATA_DIR, settings.quarantine_dir, settings.POSITION_CELL_DEG
        )
        committed = {source.name: _committed(source) for source in sources}
        stale = _stale(committed_state, committed)
        if stale:
            log.warning("counted files no longer committed: full rebuild", extra={"inputs": stale})
        crowded = len(committed_state.partials) >= settings.MAX_PARTIALS and _has_new_files(
            committed_state, committed
        )
        if crowded:
            log.info(
                "kept state holds ANALYTICS_MAX_PARTIALS partial folders: recounting into one",
                extra={"partials": len(committed_state.partials)},
            )
        rebuild = full or bool(stale) or crowded
        state = KeptState(generation=committed_state.generation) if rebuild else committed_state
        count_started = time.perf_counter()
        new_files = _count_new_files(
            spark,
            states,
            state,
            run_id,
            committed,
            sources,
            int(settings.COLLECT_PARTIAL_MAX_MB * 1024 * 1024),
        )
        count_s = time.perf_counter() - count_started
        merge_started = time.perf_counter()
        merged = merge_partials([states.partial_dir(p) for p in state.partials])
        merge_s = time.perf_counter() - merge_started
        context = TableContext(
            merged=merged,
            top_repeated_summons=settings.TOP_REPEATED_SUMMONS,
            position_cell_deg=settings.POSITION_CELL_DEG,
        )
        stamps = _stamps(state)
        computed = {spec.name: (spec, spec.compute(context)) for spec in TABLES}
        if rebuild or any(new_files.values()):
            states.commit(state)
            states.remove_uncommitted(state)
    paths = {source.name: source.sink for source in sources}
    inputs = {
        name: {"path": str(paths.get(name, settings.quarantine_dir)), **stamp}
        for name, stamp in stamps.items()
    }
    with store.writing(run_id) as folder:
        tables: dict[str, Any] = {}
        for name, (spec, table) in computed.items():
            write_table(folder, name, table.columns, table.rows)
            tables[name] = {
                "description": spec.description,
                "columns": table.columns,
                "rows": len(table.rows),
                "as_of": {dataset: stamps[dataset] for dataset in spec.reads},
            }
        manifest = {
            "run_id": run_id,
            "mode": "full" if rebuild else "incremental",
            "rebuilt_because": _rebuild_reason(full=full, stale=stale, crowded=crowded),
            "started_at": started_at.isoformat(),
            "computed_at": datetime.now(UTC).isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            "spark_version": spark.version,
            "data_dir": str(settings.DATA_DIR),
            "inputs": inputs,
            "new_files": new_files,
            "state_generation": state.generation,
            "count_seconds": round(count_s, 3),
            "merge_seconds": round(merge_s, 3),
            "tables": tables,
            "total_seconds": round(time.perf_counter() - started, 3),
        }
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")

    result = ReportResult(run_id=run_id, folder=store.root / run_id, manifest=manifest)
    log.info(
        "report published",
        extra={
            "run_id": run_id,
            "folder": str(result.folder),
            "seconds": manifest["total_seconds"],
            "new_files": sum(new_files.values()),
        },
    )
    return result

"""Spark side of a run: the partial aggregates of newly committed files, written as Parquet.

Each stored input (a file sink) has one partial: a small aggregate of the given files whose
merge over any split of the files equals the aggregate of them all (see merge.py). The files
are read with :func:`prestacop_shared.spark.read_dataset` (explicit schema, only the columns the
partial needs, so the CSV parser skips the others), once, by one Spark job per input, and nothing
is cached: the tickets' eight summaries come out of one ``GROUPING SETS`` aggregate, a single
scan of the files.

Kinds of partial (the Parquet columns):

* ``tickets``: the keys of every :data:`SUMMARY_KEYS` set (null where not grouped) and
  ``tickets``, in one folder ``set_id=<Spark's grouping_id of the key set>`` per set: counts,
  merged by summing; the summons numbers' folder, one row per ticket number, is only read for
  the numbers a run adds.
* ``violations``: ``set_id``, ``drone_id``, ``violation_code``, ``lat_cell``, ``lon_cell``,
  ``n``, ``drone_classified``: counts per (drone, code) and per map cell.
* ``statuses``: per drone ``n`` and its latest status (``emitted_us``, ``event_id``, battery,
  state, position): counts summed, latest = max of (``emitted_us``, ``event_id``).
* ``alerts`` / ``resolutions``: the join keys themselves (``event_id`` or ``alert_id``,
  ``drone_id``, ``emitted_us``), since the resolution times need the alert-resolution join,
  which does not split by file; these datasets are the small live ones.
* ``quarantine``: records per (``kafka_topic``, ``reason``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from prestacop_analytics.exceptions import DatasetError
from prestacop_analytics.inputs import project_tickets
from prestacop_shared import datasets
from prestacop_shared.events import ViolationSource
from prestacop_shared.exceptions import PrestacopError
from prestacop_shared.sink_log import is_sink
from prestacop_shared.spark import read_dataset, read_quarantine

log = logging.getLogger(__name__)

SUMMONS_KEY = "summons_number"
ZONES = ("drone_id", "violation_code", "fine_zone")
DATES = ("weekday", "hour", "month", "fiscal_year", "issue_day_in_range")
PRECINCTS = ("violation_precinct", "borough")
SUMMONS = (SUMMONS_KEY,)
STATES = ("registration_state",)
MAKES = ("vehicle_make",)
BODY_TYPES = ("vehicle_body_type",)
CELLS = ("lat_cell", "lon_cell")
SUMMARY_KEYS: tuple[tuple[str, ...], ...] = (
    ZONES,
    DATES,
    PRECINCTS,
    STATES,
    MAKES,
    BODY_TYPES,
    CELLS,
    SUMMONS,
)
"""The ticket counts the ticket tables are derived from (each a key set of one scan)."""

DRONE_CODES = ("drone_id", "violation_code")
VIOLATION_KEYS: tuple[tuple[str, ...], ...] = (DRONE_CODES, CELLS)
"""The live violation counts: per (drone, code) and per map cell."""


def key_columns(key_sets: Sequence[Sequence[str]]) -> tuple[str, ...]:
    """Every key of ``key_sets``, each once, in first-seen order (the grouping columns)."""
    return tuple(dict.fromkeys(key for keys in key_sets for key in keys))


def set_id(key_sets: Sequence[Sequence[str]], keys: Sequence[str]) -> int:
    """Spark's ``grouping_id()`` of ``keys``: bit i (first column highest) set if not grouped."""
    columns = key_columns(key_sets)
    return sum(1 << (len(columns) - 1 - i) for i, c in enumerate(columns) if c not in keys)


def cell_columns(cell_deg: float) -> list[Column]:
    """The map grid cell of a row's position."""
    return [
        F.floor(F.col("latitude") / cell_deg).alias("lat_cell"),
        F.floor(F.col("longitude") / cell_deg).alias("lon_cell"),
    ]


def _grouping_sets(
    frame: DataFrame, key_sets: Sequence[Sequence[str]], *measures: Column
) -> DataFrame:
    columns = key_columns(key_sets)
    grouped = frame.groupingSets([list(keys) for keys in key_sets], *columns)
    return grouped.agg(F.grouping_id().alias("set_id"), *measures)


def tickets_partial(tickets: DataFrame, cell_deg: float) -> DataFrame:
    """Ticket counts by every key set of :data:`SUMMARY_KEYS`, from one scan."""
    typed = project_tickets(tickets)
    with_cells = typed.select("*", *cell_columns(cell_deg))
    return _grouping_sets(with_cells, SUMMARY_KEYS, F.count(F.lit(1)).alias("tickets"))


def violations_partial(violations: DataFrame, cell_deg: float) -> DataFrame:
    """Live violation counts per (drone, code) and per map cell."""
    frame = violations.select("drone_id", "violation_code", "source", *cell_columns(cell_deg))
    return _grouping_sets(
        frame,
        VIOLATION_KEYS,
        F.count(F.lit(1)).alias("n"),
        F.count(F.when(F.col("source") == ViolationSource.DRONE.value, 1)).alias(
            "drone_classified"
        ),
    )


def statuses_partial(statuses: DataFrame) -> DataFrame:
    """Status messages per drone and the latest status (newest ``emitted_at``, then event id)."""
    latest = F.max(
        F.struct(
            F.unix_micros("emitted_at").alias("emitted_us"),
            "event_id",
            "battery_pct",
            "state",
            "latitude",
            "longitude",
        )
    ).alias("latest")
    return (
        statuses.groupBy("drone_id")
        .agg(F.count(F.lit(1)).alias("n"), latest)
        .select("drone_id", "n", "latest.*")
    )


def alerts_partial(alerts: DataFrame) -> DataFrame:
    """The alerts' join keys."""
    return alerts.select("event_id", "drone_id", F.unix_micros("emitted_at").alias("emitted_us"))


def resolutions_partial(resolutions: DataFrame) -> DataFrame:
    """The resolutions' join keys."""
    return resolutions.select(
        "alert_id", "drone_id", F.unix_micros("emitted_at").alias("emitted_us")
    )


def quarantine_partial(quarantine: DataFrame) -> DataFrame:
    """Quarantined records per topic and reason."""
    return quarantine.groupBy("kafka_topic", "reason").agg(F.count(F.lit(1)).alias("records"))


@dataclass(frozen=True)
class StoredInput:
    """One sink the report reads, and how its new files become a partial.

    Attributes:
        name: the input's name in the state and the report manifest (``quarantine/<sink>``
            for each quarantine sink).
        kind: which partial it gives (a folder name in the run's partial folder).
        sink: the file-sink folder.
        read: reads the given committed files of the sink.
        partial: the partial aggregate of what ``read`` gives.
    """

    name: str
    kind: str
    sink: Path
    read: Callable[[SparkSession, Path, Sequence[Path]], DataFrame]
    partial: Callable[[DataFrame], DataFrame]
    partition_by: tuple[str, ...] = ()
    """Columns the partial's Parquet is partitioned by (one folder per ticket key set)."""


def _model_reader(
    dataset: datasets.Dataset,
) -> Callable[[SparkSession, Path, Sequence[Path]], DataFrame]:
    def read(spark: SparkSession, sink: Path, files: Sequence[Path]) -> DataFrame:
        try:
            return read_dataset(spark, sink, dataset.model, files=list(files))
        except PrestacopError as error:
            raise DatasetError(str(error)) from error

    return read


def _read_quarantine_files(spark: SparkSession, sink: Path, files: Sequence[Path]) -> DataFrame:
    try:
        return read_quarantine(spark, sink, files=list(files))
    except PrestacopError as error:
        raise DatasetError(str(error)) from error


def stored_inputs(data_dir: Path, quarantine_dir: Path, cell_deg: float) -> list[StoredInput]:
    """Every sink the report reads under ``data_dir``, each with its partial."""
    inputs = [
        StoredInput(
            "tickets",
            "tickets",
            datasets.TICKETS.output_dir(data_dir),
            _model_reader(datasets.TICKETS),
            lambda frame: tickets_partial(frame, cell_deg),
            ("set_id",),
        ),
        StoredInput(
            "drone_status",
            "statuses",
            datasets.STATUS.output_dir(data_dir),
            _model_reader(datasets.STATUS),
            statuses_partial,
        ),
        StoredInput(
            "drone_violations",
            "violations",
            datasets.VIOLATIONS.output_dir(data_dir),
            _model_reader(datasets.VIOLATIONS),
            lambda frame: violations_partial(frame, cell_deg),
        ),
        StoredInput(
            "drone_alerts",
            "alerts",
            datasets.ALERTS.output_dir(data_dir),
            _model_reader(datasets.ALERTS),
            alerts_partial,
        ),
        StoredInput(
            "drone_alert_resolutions",
            "resolutions",
            datasets.ALERT_RESOLUTIONS.output_dir(data_dir),
            _model_reader(datasets.ALERT_RESOLUTIONS),
            resolutions_partial,
        ),
    ]
    quarantine_sinks = (
        [quarantine_dir]
        if is_sink(quarantine_dir)
        else sorted(p for p in quarantine_dir.glob("*") if is_sink(p))
    )
    inputs += [
        StoredInput(
            f"quarantine/{sink.name}",
            "quarantine",
            sink,
            _read_quarantine_files,
            quarantine_partial,
        )
        for sink in quarantine_sinks
    ]
    return inputs


def write_partial(
    spark: SparkSession,
    source: StoredInput,
    files: Sequence[Path],
    folder: Path,
    *,
    collect_max_bytes: int,
) -> None:
    """Aggregate ``files`` of ``source`` and write the partial to ``folder`` (Parquet).

    One Spark aggregate either way. When the files hold at most ``collect_max_bytes``, its
    (small) result is collected to the driver with Arrow and written there with pyarrow, in the
    layout Spark's writer gives (one ``<column>=<value>`` folder per partition value, without
    that column, ``part-*.parquet`` files): for a small increment that saves Spark's file-writing
    job and its commit, most of the fixed cost of a run. Bigger inputs (a full run) are written
    by Spark, whose result may not fit on the driver.
    """
    frame = source.partial(source.read(spark, source.sink, files))
    size = sum(file.stat().st_size for file in files)
    collected = size <= collect_max_bytes
    if collected:
        _write_arrow(frame.toArrow(), folder, source.partition_by)
    else:
        writer = frame.write
        if source.partition_by:
            writer = writer.partitionBy(*source.partition_by)
        writer.parquet(str(folder))
    log.info(
        "partial written",
        extra={
            "input": source.name,
            "files": len(files),
            "bytes": size,
            "written_by": "driver" if collected else "spark",
            "folder": str(folder),
        },
    )


DRIVER_PART_FILES = "part-{i}-driver.parquet"
"""File names of a partial written on the driver (matched by ``part-*.parquet``)."""


def _write_arrow(table: pa.Table, folder: Path, partition_by: Sequence[str]) -> None:
    """Write a collected partial as Spark's writer lays it out (strings as Parquet strings).

    pyarrow's dataset writer gives Spark's Hive layout: one ``<column>=<value>`` folder per
    partition value, without that column. The folder is made first, so an empty partial is an
    empty folder, as Spark leaves it.
    """
    table = table.cast(
        pa.schema(
            field.with_type(pa.string()) if pa.types.is_large_string(field.type) else field
            for field in table.schema
        )
    )
    folder.mkdir(parents=True)
    pq.write_to_dataset(
        table,
        folder,
        partition_cols=list(partition_by) or None,
        basename_template=DRIVER_PART_FILES,
    )

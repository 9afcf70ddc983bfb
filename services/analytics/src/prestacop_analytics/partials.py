"""Spark side of a run: the partial aggregates of newly committed files, written as Parquet.

Each stored input (a file sink) has one partial: a small aggregate of the given files whose
merge over any split of the files equals the aggregate of them all (see merge.py). Each input's
files are read once, by one Spark job, and nothing is cached. The tickets (the big input) are
read and counted by :mod:`prestacop_analytics.ticket_counts` in Spark tasks (``mapInArrow``): one
pass over the files for all eight summaries. The live datasets are read with
:func:`prestacop_shared.spark.read_dataset` (explicit schema, only the columns the partial needs)
and aggregated by Spark, the counts with one ``GROUPING SETS`` aggregate.

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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_type

from prestacop_analytics.exceptions import DatasetError
from prestacop_analytics.inputs import TICKET_COLUMNS
from prestacop_analytics.keys import VIOLATION_KEYS, key_columns
from prestacop_analytics.ticket_counts import (
    PARTIAL_SCHEMA,
    count_tickets,
    read_tickets,
)
from prestacop_shared import datasets
from prestacop_shared.events import ViolationSource
from prestacop_shared.exceptions import PrestacopError
from prestacop_shared.sink_log import is_sink
from prestacop_shared.spark import (
    file_schema,
    header_line,
    read_dataset,
    read_quarantine,
    stored_layout,
)

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class TicketFiles:
    """Stored ticket files, and how to read them (the sink's layout, checked on the driver)."""

    files: tuple[str, ...]
    names: tuple[str, ...]
    """The files' columns, in order."""
    types: dict[str, pa.DataType]
    header: str | None
    """The line each file starts with, or ``None`` (headerless files)."""
    cell_deg: float

    @classmethod
    def of(cls, sink: Path, files: Sequence[Path], cell_deg: float) -> TicketFiles:
        """The given committed files of the tickets' sink.

        Raises:
            DatasetError: the sink is not a stream-storage output folder, or its ``_header.csv``
                names other columns than the stored tickets have.
        """
        try:
            layout = stored_layout(sink, datasets.TICKETS.model)
        except PrestacopError as error:
            raise DatasetError(str(error)) from error
        fields = file_schema(layout.schema).fields
        return cls(
            tuple(str(f) for f in files),
            tuple(field.name for field in fields),
            {f.name: to_arrow_type(f.dataType) for f in fields if f.name in TICKET_COLUMNS},
            header_line(layout.schema) if layout.header else None,
            cell_deg,
        )

    def count(self, files: Sequence[str] | None = None) -> pa.Table:
        """The tickets' partial of ``files`` (default: all of them), in this process."""
        chosen = [Path(f) for f in (self.files if files is None else files)]
        chunks = read_tickets(chosen, self.names, self.types, header=self.header)
        return count_tickets(chunks, self.cell_deg)


def balanced_shares(sizes: Mapping[str, int], tasks: int) -> list[list[str]]:
    """Files (``sizes``: bytes per file) split into at most ``tasks`` shares of about equal bytes.

    Largest file first, each to the share with the fewest bytes so far.
    """
    shares: list[list[str]] = [[] for _ in range(min(tasks, len(sizes)))]
    totals = [0] * len(shares)
    for file in sorted(sizes, key=lambda f: -sizes[f]):
        smallest = totals.index(min(totals))
        shares[smallest].append(file)
        totals[smallest] += sizes[file]
    return [sorted(share) for share in shares]


TASK_BYTES = 256 * 1024 * 1024
"""Ticket files per Spark task: at least one task per core, and one per this many bytes."""


def tickets_partial(spark: SparkSession, tickets: TicketFiles) -> DataFrame:
    """Ticket counts by every key set of :data:`SUMMARY_KEYS`: one pass, in Spark tasks.

    Each task counts its share of the files with :meth:`TicketFiles.count` (``mapInArrow``
    over one id per share: ``spark.range`` gives each task exactly one).
    """
    sizes = {file: Path(file).stat().st_size for file in tickets.files}
    tasks = max(spark.sparkContext.defaultParallelism, -(-sum(sizes.values()) // TASK_BYTES))
    shares = balanced_shares(sizes, tasks)

    def count(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for share in batch.column(0).to_pylist():
                yield from tickets.count(shares[share]).to_batches()

    schema = from_arrow_schema(PARTIAL_SCHEMA)
    return spark.range(len(shares), numPartitions=max(1, len(shares))).mapInArrow(count, schema)


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
        aggregate: the partial of the given committed files of the sink, as a Spark job.
        local: the same partial computed in this process with Arrow, for inputs that have
            such a path (the tickets); ``None``: Spark computes it and small results are
            collected.
    """

    name: str
    kind: str
    sink: Path
    aggregate: Callable[[SparkSession, Sequence[Path]], DataFrame]
    local: Callable[[Sequence[Path]], pa.Table] | None = None
    partition_by: tuple[str, ...] = ()
    """Columns the partial's Parquet is partitioned by (one folder per ticket key set)."""


def _spark_input(
    name: str,
    kind: str,
    sink: Path,
    read: Callable[[SparkSession, Path, Sequence[Path]], DataFrame],
    partial: Callable[[DataFrame], DataFrame],
) -> StoredInput:
    def aggregate(spark: SparkSession, files: Sequence[Path]) -> DataFrame:
        try:
            return partial(read(spark, sink, files))
        except PrestacopError as error:
            raise DatasetError(str(error)) from error

    return StoredInput(name, kind, sink, aggregate)


def _model_reader(
    dataset: datasets.Dataset,
) -> Callable[[SparkSession, Path, Sequence[Path]], DataFrame]:
    def read(spark: SparkSession, sink: Path, files: Sequence[Path]) -> DataFrame:
        return read_dataset(spark, sink, dataset.model, files=list(files))

    return read


def _read_quarantine_files(spark: SparkSession, sink: Path, files: Sequence[Path]) -> DataFrame:
    return read_quarantine(spark, sink, files=list(files))


def _tickets_input(sink: Path, cell_deg: float) -> StoredInput:
    def aggregate(spark: SparkSession, files: Sequence[Path]) -> DataFrame:
        return tickets_partial(spark, TicketFiles.of(sink, files, cell_deg))

    def local(files: Sequence[Path]) -> pa.Table:
        return TicketFiles.of(sink, files, cell_deg).count()

    return StoredInput("tickets", "tickets", sink, aggregate, local, ("set_id",))


def stored_inputs(data_dir: Path, quarantine_dir: Path, cell_deg: float) -> list[StoredInput]:
    """Every sink the report reads under ``data_dir``, each with its partial."""
    inputs = [
        _tickets_input(datasets.TICKETS.output_dir(data_dir), cell_deg),
        _spark_input(
            "drone_status",
            "statuses",
            datasets.STATUS.output_dir(data_dir),
            _model_reader(datasets.STATUS),
            statuses_partial,
        ),
        _spark_input(
            "drone_violations",
            "violations",
            datasets.VIOLATIONS.output_dir(data_dir),
            _model_reader(datasets.VIOLATIONS),
            lambda frame: violations_partial(frame, cell_deg),
        ),
        _spark_input(
            "drone_alerts",
            "alerts",
            datasets.ALERTS.output_dir(data_dir),
            _model_reader(datasets.ALERTS),
            alerts_partial,
        ),
        _spark_input(
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
        _spark_input(
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

    When the files hold at most ``collect_max_bytes`` (an increment), the partial is written on
    the driver with pyarrow, in the layout Spark's writer gives (one ``<column>=<value>`` folder
    per partition value, without that column, ``part-*.parquet`` files): computed right here by
    the input's ``local`` path when it has one (the tickets: the same function its Spark tasks
    run), else by a Spark job whose (small) result is collected with Arrow. Either way a small
    increment is spared Spark's file-writing job and its commit, most of the fixed cost of a
    run. Bigger inputs (a full run) are aggregated and written by Spark, whose result may not
    fit on the driver.
    """
    size = sum(file.stat().st_size for file in files)
    collected = size <= collect_max_bytes
    if collected and source.local is not None:
        written_by = "driver (arrow)"
        _write_arrow(source.local(files), folder, source.partition_by)
    elif collected:
        written_by = "driver (collected)"
        _write_arrow(source.aggregate(spark, files).toArrow(), folder, source.partition_by)
    else:
        written_by = "spark"
        writer = source.aggregate(spark, files).write
        if source.partition_by:
            writer = writer.partitionBy(*source.partition_by)
        writer.parquet(str(folder))
    log.info(
        "partial written",
        extra={
            "input": source.name,
            "files": len(files),
            "bytes": size,
            "written_by": written_by,
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

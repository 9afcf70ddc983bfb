"""The streaming queries: each dataset's valid rows stored, the rest quarantined, exactly once.

A query reads its dataset's topic from the earliest offset (for a new query; afterwards the
checkpoint decides), judges each record and splits the verdict into complementary halves
(:mod:`prestacop_stream_storage.transform`). Both halves are written by Spark's own file sink
(``FileStreamSink``: the part files, then the batch's entry in the folder's ``_spark_metadata``
log): the drone datasets and the quarantines as CSV (header in every file); tickets as text,
the arriving CSV line as is, no header in the files
(:attr:`~prestacop_shared.datasets.FileLayout.CSV_HEADER_BESIDE`: the header is written to
``<folder>/_header.csv`` first, atomically, by :func:`write_header_file`).

One query per dataset, whose micro-batch writes both folders (:class:`DatasetSinks`): each
record is read from Kafka and judged once (tickets: :func:`check_ticket_lines`, drone datasets:
:func:`parse`), and a batch with no rejected record (the usual one) costs the quarantine nothing
but its empty log entry.

Delivery guarantee: exactly-once from Kafka to files. A micro-batch's offsets are logged in
the checkpoint before it runs, a sink lists a batch's files in its ``_spark_metadata`` log only
once all are written, and a restarted query re-runs the last uncommitted batch with the same
id and offsets. A file sink skips a batch id its log already holds, so after a crash between
the two halves of a batch the re-run writes only the missing half. Readers that load a
folder through Spark (``read_dataset``/``read_quarantine``) or its log
(``sink_log.committed_files``) see only committed files, so files of an interrupted batch are
never read.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Final

from py4j.java_collections import ListConverter, MapConverter  # type: ignore[import-untyped]
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming.query import StreamingQuery

from prestacop_shared.datasets import FileLayout
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.sink_log import LOG_FOLDER, latest_batch, log_batches
from prestacop_shared.spark import CSV_OPTIONS, PARTITION_COLUMN, header_line, stored_schema
from prestacop_stream_storage.config import Settings
from prestacop_stream_storage.datasets import DATASETS, Dataset
from prestacop_stream_storage.exceptions import CheckpointMismatchError, StreamStorageError
from prestacop_stream_storage.transform import (
    VERDICT_COLUMN,
    check_ticket_lines,
    parse,
    quarantined_rows,
    stored_rows,
    stored_ticket_lines,
)

logger = logging.getLogger(__name__)


def check_pairing(checkpoint: Path, output: Path) -> None:
    """Refuse a checkpoint and an output folder that do not belong together.

    A sink log with batches but a checkpoint that never planned one means a new checkpoint over
    an old output (everything would be stored again); a checkpoint with committed batches but
    no sink log means an old checkpoint over a new output (those batches would be missing).
    A crash between the two writes of one batch leaves neither state, so restarts are not
    refused.

    Raises:
        CheckpointMismatchError: the two do not belong together; the message says what to do.
    """
    sink_batches = log_batches(output / LOG_FOLDER)
    planned = log_batches(checkpoint / "offsets")
    committed = log_batches(checkpoint / "commits")
    if sink_batches and not planned:
        raise CheckpointMismatchError(
            f"{output} already holds stored batches but checkpoint {checkpoint} has none: "
            "restore that output's checkpoint, or move the output folder away to store again"
        )
    if committed and not sink_batches:
        raise CheckpointMismatchError(
            f"checkpoint {checkpoint} has committed batches but {output} has no sink log: "
            "restore the output folder, or move the checkpoint away to store again"
        )
    if sink_batches and planned and sink_batches[-1] > planned[-1]:
        # The sink would skip the checkpoint's next batches as already written.
        raise CheckpointMismatchError(
            f"{output} holds batch {sink_batches[-1]}, newer than any checkpoint "
            f"{checkpoint} planned ({planned[-1]}): restore that output's checkpoint, "
            "or move the output folder away to store again"
        )


def kafka_source(
    spark: SparkSession, dataset: Dataset, settings: Settings, kafka: KafkaSettings
) -> DataFrame:
    """A streaming read of the dataset's topic (``read_committed``, earliest for new queries)."""
    reader = (
        spark.readStream.format("kafka")
        .options(**kafka.spark_options())
        .option("subscribe", kafka.topic(dataset.topic))
        .option("startingOffsets", "earliest")
        .option("failOnDataLoss", str(settings.fail_on_data_loss).lower())
        .option("maxOffsetsPerTrigger", str(settings.max_offsets_per_trigger))
    )
    if settings.min_kafka_partitions is not None:
        reader = reader.option("minPartitions", str(settings.min_kafka_partitions))
    return reader.load()


def _trigger(settings: Settings, available_now: bool) -> dict[str, Any]:
    if available_now:
        return {"availableNow": True}
    return {"processingTime": f"{int(settings.trigger_interval_s * 1000)} milliseconds"}


def write_header_file(dataset: Dataset, data_dir: Path) -> None:
    """Write ``<folder>/_header.csv`` of a headerless dataset, atomically (temp file + rename).

    Written before the query starts, every time (same content), so a reader that sees the sink
    log also sees the header, and a crash never leaves half a header.
    """
    target = dataset.header_file(data_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_text(header_line(stored_schema(dataset.model)) + "\n", encoding="utf-8")
    temporary.replace(target)


def store_query_name(dataset: Dataset) -> str:
    """Name of the query that stores ``dataset``'s valid rows and quarantines the others."""
    return f"store-{dataset.name}"


def query_checkpoints(settings: Settings, kafka: KafkaSettings) -> list[tuple[str, str, Path]]:
    """``(query name, full topic, checkpoint)`` of every query :func:`start_queries` starts."""
    root = settings.checkpoint_root
    return [
        (store_query_name(dataset), kafka.topic(dataset.topic), dataset.checkpoint_dir(root))
        for dataset in (DATASETS[name] for name in settings.dataset_names)
    ]


def start_queries(
    spark: SparkSession, settings: Settings, kafka: KafkaSettings, *, available_now: bool
) -> list[StreamingQuery]:
    """Start the query of every chosen dataset (it stores and quarantines).

    Args:
        spark: the session to run them in.
        settings: where to write, which datasets, pacing.
        kafka: the broker and topic namespace.
        available_now: process what the topics hold now, in batches of at most
            ``max_offsets_per_trigger``, then stop; else run every ``trigger_interval_s``.

    Raises:
        CheckpointMismatchError: a checkpoint that does not belong to its output folder.
    """
    trigger = _trigger(settings, available_now)
    chosen = [DATASETS[name] for name in settings.dataset_names]
    for dataset in chosen:
        checkpoint = dataset.checkpoint_dir(settings.checkpoint_root)
        refuse_two_query_checkpoint(dataset, settings)
        check_pairing(checkpoint, dataset.output_dir(settings.data_dir))
        check_pairing(checkpoint, dataset.quarantine_dir(settings.data_dir))
    return [
        _start_query(
            spark, kafka_source(spark, dataset, settings, kafka), dataset, settings, trigger
        )
        for dataset in chosen
    ]


def refuse_two_query_checkpoint(dataset: Dataset, settings: Settings) -> None:
    """Refuse a quarantine still owned by the separate quarantine query of older versions.

    That query had its own checkpoint; the one query's batches would miss the records between
    the two checkpoints' offsets, so the quarantine must be moved away (with its checkpoint).
    """
    old = dataset.quarantine_checkpoint_dir(settings.checkpoint_root)
    if log_batches(old / "offsets"):
        raise CheckpointMismatchError(
            f"{dataset.quarantine_dir(settings.data_dir)} was written by a separate quarantine "
            f"query (checkpoint {old}); {dataset.name} is now stored and quarantined by one "
            "query: move that quarantine folder and its checkpoint away to start it"
        )


REJECTED_METRIC: Final = "rejected"
"""Name of the observed metric that counts a batch's rejected records."""


class DatasetSinks:
    """The micro-batch writer of a dataset's one query: stored rows and quarantine, each through
    Spark's own file sink (``FileStreamSink``), so both folders keep their ``_spark_metadata``
    log and exactly-once: a sink skips a batch id its log already holds.

    The stored rows are written first, counting the batch's rejected records as they pass (an
    observed metric of the same job). When there are none, which is the usual batch, the
    quarantine gets an empty entry for the batch without reading it again; otherwise the batch
    is read and judged a second time for its quarantined records (CSV with header). When the
    stored half of a batch was already committed (a crash between the two writes), nothing was
    counted, so the quarantine half is always read.

    Tickets (:attr:`~prestacop_shared.datasets.FileLayout.CSV_HEADER_BESIDE`) are stored as
    their checked lines (text, no header in the files: it is written beside them first, by
    :func:`write_header_file`); the drone datasets as CSV with a header in every file, one task
    per date.
    """

    def __init__(self, spark: SparkSession, dataset: Dataset, data_dir: Path) -> None:
        self._cores = spark.sparkContext.defaultParallelism
        self._dataset = dataset
        self._stored_dir = dataset.output_dir(data_dir)
        self._lines = dataset.layout is FileLayout.CSV_HEADER_BESIDE
        jvm: Any = spark.sparkContext._jvm
        formats = jvm.org.apache.spark.sql.execution.datasources
        if self._lines:
            write_header_file(dataset, data_dir)
            stored_format, options = formats.text.TextFileFormat(), {}
        else:
            stored_format, options = formats.csv.CSVFileFormat(), CSV_OPTIONS
        self._stored = _file_sink(spark, self._stored_dir, stored_format, options)
        self._quarantine = _file_sink(
            spark, dataset.quarantine_dir(data_dir), formats.csv.CSVFileFormat(), CSV_OPTIONS
        )

    def judged(self, kafka_records: DataFrame) -> DataFrame:
        """The query's rows: each Kafka record judged once (what :meth:`__call__` is given)."""
        if self._lines:
            return check_ticket_lines(kafka_records)
        return parse(kafka_records, self._dataset)

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        """Write one micro-batch (``batch``: :meth:`judged` rows) to both sinks."""
        self.quarantine(batch, batch_id, rejected=self.store(batch, batch_id))

    def store(self, batch: DataFrame, batch_id: int) -> int | None:
        """Write the batch's stored rows; how many records it rejected, ``None`` if not counted.

        Not counted when the stored half of ``batch_id`` was already committed (the sink skips
        it, so nothing is read).
        """
        committed = latest_batch(self._stored_dir)
        counted = batch.observe(REJECTED_METRIC, F.count(F.col(VERDICT_COLUMN)))
        if self._lines:
            # Ready lines: no shuffle. At most one task per core (coalesce merges Kafka
            # partitions without a shuffle), each writing one file per month it meets, keeping
            # up to spark.sql.maxConcurrentOutputFileWriters open instead of sorting its rows.
            stored = stored_ticket_lines(counted).coalesce(self._cores)
        else:
            # One task per date: each micro-batch writes one file per date it holds.
            stored = stored_rows(counted, self._dataset).repartition(PARTITION_COLUMN)
        self._stored.addBatch(batch_id, stored._jdf)
        if committed is not None and committed >= batch_id:
            return None
        return _observed(stored, REJECTED_METRIC)

    def quarantine(self, batch: DataFrame, batch_id: int, *, rejected: int | None) -> None:
        """Write the batch's quarantined records (read again unless ``rejected`` is 0)."""
        quarantined = quarantined_rows(batch)
        if rejected == 0:
            quarantined = quarantined.limit(0)  # an empty entry for the batch, nothing read
        self._quarantine.addBatch(batch_id, quarantined._jdf)


def _observed(frame: DataFrame, name: str) -> int:
    """The value of the observed count ``name`` in the plan ``frame`` just ran."""
    metrics: Any = frame._jdf.queryExecution().observedMetrics()
    found = metrics.get(name)
    if not found.isDefined():
        raise StreamStorageError(f"the observed metric {name!r} is missing from the batch's plan")
    return int(found.get().getLong(0))


def _file_sink(spark: SparkSession, output: Path, file_format: Any, options: dict[str, str]) -> Any:
    """Spark's file sink (``FileStreamSink``) at ``output``, partitioned by ``event_date``.

    The class Spark's own ``writeStream.format(...)`` file sinks use, reached through py4j: it
    is not public API (Spark 4 moved it to ``...execution.streaming.sinks``), so pyspark is
    pinned (``uv.lock``) and ``tests/integration/stream_storage/test_dataset_sinks.py`` fails at
    once if it moves or changes.
    """
    context: Any = spark.sparkContext
    jvm, client = context._jvm, context._gateway._gateway_client
    python_utils = jvm.org.apache.spark.api.python.PythonUtils
    partitions = python_utils.toSeq(ListConverter().convert([PARTITION_COLUMN], client))
    java_options = python_utils.toScalaMap(MapConverter().convert(options, client))
    sinks = jvm.org.apache.spark.sql.execution.streaming.sinks
    return sinks.FileStreamSink(
        spark._jsparkSession,
        str(output),
        file_format,
        partitions,
        java_options,
    )


def _start_query(
    spark: SparkSession,
    source: DataFrame,
    dataset: Dataset,
    settings: Settings,
    trigger: dict[str, Any],
) -> StreamingQuery:
    checkpoint = dataset.checkpoint_dir(settings.checkpoint_root)
    sinks = DatasetSinks(spark, dataset, settings.data_dir)
    query = (
        sinks.judged(source)
        .writeStream.foreachBatch(sinks)
        .option("checkpointLocation", str(checkpoint))
        .queryName(store_query_name(dataset))
        .trigger(**trigger)
        .start()
    )
    logger.info(
        "query started",
        extra={
            "query": query.name,
            "output": str(dataset.output_dir(settings.data_dir)),
            "quarantine": str(dataset.quarantine_dir(settings.data_dir)),
            "checkpoint": str(checkpoint),
        },
    )
    return query

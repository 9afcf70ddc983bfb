"""The streaming queries: per dataset, one that stores valid rows and one that quarantines.

Both read the dataset's topic from the earliest offset (for a new query; afterwards the
checkpoint decides), judge it the same way and keep complementary halves
(:mod:`prestacop_stream_storage.transform`). Each writes with a Spark file sink under its
own checkpoint: the drone datasets and the quarantines with the CSV sink (header in every
file); tickets with the text sink, the arriving CSV line as is, no header in the files
(:attr:`~prestacop_shared.datasets.FileLayout.CSV_HEADER_BESIDE`: the header is written to
``<folder>/_header.csv`` first, atomically, by :func:`write_header_file`).

Delivery guarantee: exactly-once from Kafka to files, per query. A micro-batch's offsets are
logged in the checkpoint before it runs, its files are listed in the sink's ``_spark_metadata``
log only once all are written, and a restarted query re-runs the last uncommitted batch with the
same offsets. Readers that load the folder through Spark (``read_dataset``/``read_quarantine``)
see only files listed in that log, so files of an interrupted batch are never read. The price
of two queries is that every record is read and judged twice; the gain is that neither half
needs a hand-made commit protocol (a ``foreachBatch`` writing both would lose the sink log).
For tickets the judging is a prefix test, a date and one regex pass, so the second read is
cheap (measured by ``benchmarks/bench_bulk.py``).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming.query import StreamingQuery

from prestacop_shared.datasets import FileLayout
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.spark import CSV_OPTIONS, PARTITION_COLUMN, header_line, stored_schema
from prestacop_stream_storage.config import Settings
from prestacop_stream_storage.datasets import DATASETS, Dataset
from prestacop_stream_storage.exceptions import CheckpointMismatchError
from prestacop_stream_storage.transform import (
    check_ticket_lines,
    parse,
    quarantined_rows,
    stored_rows,
    stored_ticket_lines,
)

logger = logging.getLogger(__name__)

_LOG_ENTRY = re.compile(r"^[0-9]+(\.compact)?$")


def log_entries(folder: Path) -> list[str]:
    """Names of the numbered entries (``7``, ``9.compact``) of a Spark metadata log folder."""
    if not folder.is_dir():
        return []
    return [entry.name for entry in folder.iterdir() if _LOG_ENTRY.match(entry.name)]


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
    sink_batches = log_entries(output / "_spark_metadata")
    planned = log_entries(checkpoint / "offsets")
    committed = log_entries(checkpoint / "commits")
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


def _start_sink(
    rows: DataFrame,
    *,
    name: str,
    output: Path,
    checkpoint: Path,
    trigger: dict[str, Any],
    as_text: bool = False,
) -> StreamingQuery:
    if as_text:
        # Ready lines: no shuffle. At most one task per core (coalesce merges Kafka partitions
        # without a shuffle), each writing one file per date it meets, keeping up to
        # spark.sql.maxConcurrentOutputFileWriters open instead of sorting its rows by date: a
        # batch makes at most cores x dates files, whatever the topic's partition count.
        cores = rows.sparkSession.sparkContext.defaultParallelism
        writer = rows.coalesce(cores).writeStream.format("text")
    else:
        # One task per date: each micro-batch writes one file per date it holds.
        writer = rows.repartition(PARTITION_COLUMN).writeStream.format("csv").options(**CSV_OPTIONS)
    query = (
        writer.partitionBy(PARTITION_COLUMN)
        .option("checkpointLocation", str(checkpoint))
        .queryName(name)
        .trigger(**trigger)
        .start(str(output))
    )
    logger.info(
        "query started",
        extra={"query": name, "output": str(output), "checkpoint": str(checkpoint)},
    )
    return query


def store_query_name(dataset: Dataset) -> str:
    """Name of the query that stores ``dataset``'s valid rows."""
    return f"store-{dataset.name}"


def quarantine_query_name(dataset: Dataset) -> str:
    """Name of the query that stores ``dataset``'s quarantined messages."""
    return f"quarantine-{dataset.name}"


def query_checkpoints(settings: Settings, kafka: KafkaSettings) -> list[tuple[str, str, Path]]:
    """``(query name, full topic, checkpoint)`` of every query :func:`start_queries` starts."""
    root = settings.checkpoint_root
    return [
        entry
        for dataset in (DATASETS[name] for name in settings.dataset_names)
        for entry in (
            (store_query_name(dataset), kafka.topic(dataset.topic), dataset.checkpoint_dir(root)),
            (
                quarantine_query_name(dataset),
                kafka.topic(dataset.topic),
                dataset.quarantine_checkpoint_dir(root),
            ),
        )
    ]


def start_queries(
    spark: SparkSession, settings: Settings, kafka: KafkaSettings, *, available_now: bool
) -> list[StreamingQuery]:
    """Start the store and quarantine queries of every chosen dataset.

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
        check_pairing(
            dataset.checkpoint_dir(settings.checkpoint_root), dataset.output_dir(settings.data_dir)
        )
        check_pairing(
            dataset.quarantine_checkpoint_dir(settings.checkpoint_root),
            dataset.quarantine_dir(settings.data_dir),
        )
    queries = []
    for dataset in chosen:
        as_text = dataset.layout is FileLayout.CSV_HEADER_BESIDE
        if as_text:
            write_header_file(dataset, settings.data_dir)
        queries.append(
            _start_sink(
                _stored(kafka_source(spark, dataset, settings, kafka), dataset),
                name=store_query_name(dataset),
                output=dataset.output_dir(settings.data_dir),
                checkpoint=dataset.checkpoint_dir(settings.checkpoint_root),
                trigger=trigger,
                as_text=as_text,
            )
        )
        quarantine_source = _judged(kafka_source(spark, dataset, settings, kafka), dataset)
        queries.append(
            _start_sink(
                quarantined_rows(quarantine_source),
                name=quarantine_query_name(dataset),
                output=dataset.quarantine_dir(settings.data_dir),
                checkpoint=dataset.quarantine_checkpoint_dir(settings.checkpoint_root),
                trigger=trigger,
            )
        )
    return queries


def _judged(records: DataFrame, dataset: Dataset) -> DataFrame:
    if dataset.layout is FileLayout.CSV_HEADER_BESIDE:
        return check_ticket_lines(records)
    return parse(records, dataset)


def _stored(records: DataFrame, dataset: Dataset) -> DataFrame:
    if dataset.layout is FileLayout.CSV_HEADER_BESIDE:
        return stored_ticket_lines(check_ticket_lines(records))
    return stored_rows(parse(records, dataset), dataset)

"""The sink-log reader against a real Spark file sink: committed files, batches, subsets.

A real streaming query writes two batches into a partitioned CSV file sink; a stray part file
(as a failed batch leaves) sits beside them. :func:`committed_files` must list exactly the
files of the log, and :func:`read_dataset` with ``files`` must read only those rows, their
partition column taken from the paths.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from prestacop_shared.events import DroneState, DroneStatus
from prestacop_shared.sink_log import SinkLogError, committed_files, latest_batch
from prestacop_shared.spark import CSV_OPTIONS, PARTITION_COLUMN, read_dataset, spark_schema


def _status(drone: str, day: int) -> DroneStatus:
    return DroneStatus(
        drone_id=drone,
        emitted_at=datetime(2026, 11, day, 12, tzinfo=UTC),
        latitude=40.7,
        longitude=-74.0,
        battery_pct=50.0,
        state=DroneState.PATROLLING,
    )


def _write_batch(spark: SparkSession, source: Path, sink: Path, events: list[DroneStatus]) -> None:
    batch = source / f"{len(list(source.iterdir()))}.json"
    batch.write_text("\n".join(e.model_dump_json() for e in events) + "\n", encoding="utf-8")
    frame = spark.readStream.schema(spark_schema(DroneStatus)).json(str(source))
    stored = (
        frame.withColumn("kafka_topic", F.lit("drone.status"))
        .withColumn("kafka_partition", F.lit(0))
        .withColumn("kafka_offset", F.lit(0).cast("long"))
        .withColumn(PARTITION_COLUMN, F.to_date("emitted_at"))
    )
    query = (
        stored.writeStream.format("csv")
        .options(**CSV_OPTIONS)
        .option("checkpointLocation", str(sink.parent / "checkpoint"))
        .partitionBy(PARTITION_COLUMN)
        .trigger(availableNow=True)
        .start(str(sink))
    )
    query.awaitTermination()


def test_committed_files_are_the_logged_ones_and_subsets_read_alone(
    spark: SparkSession, tmp_path: Path
) -> None:
    source, sink = tmp_path / "source", tmp_path / "sink"
    source.mkdir()
    _write_batch(spark, source, sink, [_status("d-1", 1), _status("d-2", 2)])
    first = committed_files(sink)
    _write_batch(spark, source, sink, [_status("d-3", 3)])
    stray = sink / f"{PARTITION_COLUMN}=2026-11-03" / "part-stray.csv"
    stray.write_text("not,a,committed,file\n", encoding="utf-8")

    both = committed_files(sink)
    assert latest_batch(sink) == 1
    assert {f.batch_id for f in first} == {0}
    assert set(first) < set(both)
    assert stray not in {f.path for f in both}
    assert all(f.path.is_file() for f in both)

    new = [f.path for f in both if f not in set(first)]
    rows = read_dataset(spark, sink, DroneStatus, files=new).collect()
    assert [(r.drone_id, str(r[PARTITION_COLUMN])) for r in rows] == [("d-3", "2026-11-03")]
    assert read_dataset(spark, sink, DroneStatus, files=[]).count() == 0
    assert read_dataset(spark, sink, DroneStatus).count() == 3


def test_compaction_and_deletes_are_honoured(tmp_path: Path) -> None:
    log = tmp_path / "_spark_metadata"
    log.mkdir()

    def entry(name: str, *records: dict[str, str]) -> None:
        lines = ["v1", *(json.dumps(r) for r in records)]
        (log / name).write_text("\n".join(lines), encoding="utf-8")

    entry("8", {"path": "file:///old/a.csv", "action": "add"})
    entry("9.compact", {"path": "file:///d/a.csv", "action": "add"},
          {"path": "file:///d/b%20c.csv", "action": "add"})  # fmt: skip
    entry("10", {"path": "file:///d/a.csv", "action": "delete"},
          {"path": "file:///d/e.csv", "action": "add"})  # fmt: skip
    (log / ".11.tmp").write_text("v1\n{}", encoding="utf-8")

    files = committed_files(tmp_path)
    assert [(str(f.path), f.batch_id) for f in files] == [("/d/b c.csv", 9), ("/d/e.csv", 10)]
    assert latest_batch(tmp_path) == 10


def test_a_folder_without_log_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SinkLogError, match="_spark_metadata"):
        committed_files(tmp_path)
    (tmp_path / "_spark_metadata").mkdir()
    assert latest_batch(tmp_path) is None
    assert committed_files(tmp_path) == []

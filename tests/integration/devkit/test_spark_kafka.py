"""Spark (pyspark 4.2.0, local) reads the local broker through the pre-fetched connector jars."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest
from confluent_kafka import Producer

from prestacop_devkit.broker import LocalKafka

if TYPE_CHECKING:
    from pathlib import Path

    from pyspark.sql import SparkSession

pytestmark = pytest.mark.integration


@pytest.fixture
def spark_session(spark: SparkSession) -> SparkSession:
    """The run's shared session (built by ``build_spark_session`` from the same cached jars)."""
    return spark


@pytest.fixture
def topic_with_three_messages(local_kafka: LocalKafka) -> str:
    topic = f"devkit-spark-{uuid.uuid4().hex[:8]}"
    producer = Producer({"bootstrap.servers": local_kafka.bootstrap_servers, "acks": "all"})
    for number in range(3):
        producer.produce(topic, key=str(number).encode(), value=f"message {number}".encode())
    assert producer.flush(30) == 0
    return topic


def test_batch_read_counts_every_message(
    spark_session: SparkSession, local_kafka: LocalKafka, topic_with_three_messages: str
) -> None:
    frame = (
        spark_session.read.format("kafka")
        .option("kafka.bootstrap.servers", local_kafka.bootstrap_servers)
        .option("subscribe", topic_with_three_messages)
        .option("startingOffsets", "earliest")
        .option("endingOffsets", "latest")
        .load()
    )
    assert frame.count() == 3
    values = sorted(row.value.decode() for row in frame.select("value").collect())
    assert values == ["message 0", "message 1", "message 2"]


def test_stream_read_sees_every_message(
    spark_session: SparkSession,
    local_kafka: LocalKafka,
    topic_with_three_messages: str,
    tmp_path: Path,
) -> None:
    stream = (
        spark_session.readStream.format("kafka")
        .option("kafka.bootstrap.servers", local_kafka.bootstrap_servers)
        .option("subscribe", topic_with_three_messages)
        .option("startingOffsets", "earliest")
        .load()
    )
    query = (
        stream.selectExpr("CAST(value AS STRING) AS value")
        .writeStream.format("memory")
        .queryName("devkit_stream")
        .option("checkpointLocation", str(tmp_path / "checkpoint"))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination(120)
    assert query.exception() is None
    assert spark_session.table("devkit_stream").count() == 3

"""Stream-storage with default settings on a broker that holds only some of its topics.

A user who only archives historical files runs the csv-ingestor, then stream-storage: only the
tickets topics exist. Storage must store every ticket (the other datasets are empty), not crash
on the topics nobody wrote yet, and never log Spark's logical plan as an error message.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from prestacop_shared import topics
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.spark import read_dataset, read_quarantine
from prestacop_stream_storage.datasets import DATASETS
from tests.integration.csv_ingestor.conftest import ingestor_env

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = pytest.mark.integration

LONGEST_LOG_LINE = 4_000
"""A log line longer than this is a dump (Spark's plan is ~40 KB), not a message."""


def _topics_on_broker(kafka: KafkaSettings) -> set[str]:
    from confluent_kafka.admin import AdminClient

    names = AdminClient(kafka.common_config()).list_topics(timeout=10).topics
    return {name for name in names if name.startswith(kafka.topic_prefix)}


def test_storage_after_the_ingestor_alone_stores_every_ticket(
    spark: SparkSession,
    kafka_settings: KafkaSettings,
    nyc_data: Path,
    spark_jars_dir: Path,
    tmp_path: Path,
) -> None:
    source = nyc_data / "fy2017_head_99_rows.csv"
    ingested = subprocess.run(
        [sys.executable, "-m", "prestacop_csv_ingestor", "ingest", str(source)],
        env=ingestor_env(kafka_settings),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert ingested.returncode == 0, ingested.stderr[-4000:]
    assert _topics_on_broker(kafka_settings) == {
        kafka_settings.topic(name)
        for name in (topics.NYPD_TICKETS, topics.NYPD_TICKETS_DLQ, topics.NYPD_INGEST_PROGRESS)
    }

    data_dir = tmp_path / "data"
    env = dict(os.environ) | {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "KAFKA_TOPIC_PREFIX": kafka_settings.topic_prefix,
        "STORAGE_DATA_DIR": str(data_dir),
        "SPARK_MASTER_URL": "local[2]",
        "SPARK_KAFKA_JARS_DIR": str(spark_jars_dir),
        "SPARK_SHUFFLE_PARTITIONS": "2",
    }
    stored = subprocess.run(
        [sys.executable, "-m", "prestacop_stream_storage", "--available-now"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    log = stored.stdout + stored.stderr
    assert stored.returncode == 0, log[-4000:]
    assert max(len(line) for line in log.splitlines()) < LONGEST_LOG_LINE

    tickets = read_dataset(
        spark, DATASETS["tickets"].output_dir(data_dir), DATASETS["tickets"].model
    )
    data_lines = len(source.read_text(encoding="utf-8").splitlines()) - 1
    assert tickets.select("summons_number").distinct().count() == tickets.count() == data_lines
    quarantine = data_dir / "quarantine"
    if quarantine.exists() and any(quarantine.iterdir()):
        assert read_quarantine(spark, quarantine).count() == 0

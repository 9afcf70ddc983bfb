"""Stream-storage's /healthz and /metrics (shared helper) against a real broker and Spark."""

from __future__ import annotations

import re
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from prestacop_devkit.broker import free_ports
from prestacop_shared import topics
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.serde import encode
from prestacop_stream_storage.config import Settings
from prestacop_stream_storage.service import run
from tests.integration.stream_storage import samples
from tests.support.kafka import create_topics, produce

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = pytest.mark.integration

K = 30
HANG_GUARD_S = 300


def _metric(base: str, name: str) -> float | None:
    try:
        text = httpx.get(f"{base}/metrics", timeout=5).text
    except httpx.TransportError:
        return None
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


def test_health_is_up_and_metrics_count_rows_once_a_batch_commits(
    spark: SparkSession, kafka_bootstrap: str, tmp_path: Path
) -> None:
    kafka = KafkaSettings(
        bootstrap_servers=kafka_bootstrap, topic_prefix=f"t-storage-health-{uuid.uuid4().hex[:8]}."
    )
    create_topics(kafka, [topics.DRONE_STATUS])
    statuses = list(samples.drone_statuses(K))
    produce(kafka, kafka.topic(topics.DRONE_STATUS), [(s.drone_id, encode(s)) for s in statuses])
    (port,) = free_ports(1)
    base = f"http://127.0.0.1:{port}"
    settings = Settings(
        data_dir=tmp_path / "data", datasets="status", trigger_interval_s=1.0,
        http_port=port, http_host="127.0.0.1", stalled_after_s=120,
    )  # fmt: skip
    stop = threading.Event()
    failure: list[BaseException] = []

    def serve_storage() -> None:
        try:
            run(spark, settings, kafka, available_now=False, stop_requested=stop)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            failure.append(error)

    worker = threading.Thread(target=serve_storage, daemon=True)
    worker.start()
    try:
        deadline = time.monotonic() + HANG_GUARD_S
        while _metric(base, "prestacop_storage_rows_total") != K:
            assert not failure, failure
            assert time.monotonic() < deadline, "no committed batch showed in /metrics"
            time.sleep(0.5)
        health = httpx.get(f"{base}/healthz", timeout=5)
        assert (health.status_code, health.json()) == (200, {"status": "up"})
        assert (_metric(base, "prestacop_storage_last_commit_timestamp_seconds") or 0) > 0
        backlog = _metric(
            base,
            rf'prestacop_storage_backlog_offsets\{{query="store-status",'
            rf'topic="{re.escape(kafka.topic(topics.DRONE_STATUS))}"\}}',
        )
        assert backlog == K  # a first run has everything the topic holds to read
    finally:
        stop.set()
        worker.join(timeout=HANG_GUARD_S)
    assert not failure, failure
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/healthz", timeout=2)  # the server stops with the service

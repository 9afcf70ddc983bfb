"""Start-up against a real broker: expired data is seen and said, missing topics are waited for."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient

from prestacop_shared import topics
from prestacop_shared.datasets import DATASETS
from prestacop_shared.kafka import KafkaSettings
from prestacop_stream_storage.metrics import StorageMetrics
from prestacop_stream_storage.sources import ensure_source_topics, report_backlog
from tests.support.kafka import create_topics, produce

pytestmark = pytest.mark.integration


def _checkpoint_at(root: Path, topic: str, offset: int) -> Path:
    (root / "offsets").mkdir(parents=True)
    (root / "commits").mkdir()
    metadata = json.dumps({"batchWatermarkMs": 0, "batchTimestampMs": 0})
    (root / "offsets" / "0").write_text(f"v1\n{metadata}\n{json.dumps({topic: {'0': offset}})}\n")
    (root / "commits" / "0").write_text("v1\n{}\n")
    return root


def test_offsets_deleted_before_they_were_stored_are_reported_as_expired(
    kafka_settings: KafkaSettings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (topic,) = create_topics(kafka_settings, [topics.DRONE_STATUS])
    produce(kafka_settings, topic, [(b"k", b"{}")] * 10)
    admin = AdminClient(kafka_settings.common_config())
    for future in admin.delete_records([TopicPartition(topic, 0, 6)]).values():
        future.result(timeout=30)  # what retention does to old segments
    checkpoint = _checkpoint_at(tmp_path / "store-status", topic, 3)
    metrics = StorageMetrics(stalled_after_s=60)
    with caplog.at_level(logging.INFO):
        (backlog,) = report_backlog(kafka_settings, [("store-status", topic, checkpoint)], metrics)
    assert (backlog.behind, backlog.expired, backlog.first_run) == (4, 3, False)
    assert metrics.expired_offsets.labels("store-status", topic)._value.get() == 3
    assert any("data expired before it was stored" in r.getMessage() for r in caplog.records)


def test_topics_that_cannot_be_created_are_waited_for_with_a_warning(kafka_bootstrap: str) -> None:
    # A prefix the broker refuses in topic names: creation fails, so storage must wait.
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix="not allowed/")
    stop = threading.Event()
    warned = threading.Event()

    class StopAfterWarning(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage() == "waiting for topics to exist before storing":
                warned.set()
                stop.set()

    handler = StopAfterWarning()
    logging.getLogger("prestacop_stream_storage.sources").addHandler(handler)
    try:
        ready = ensure_source_topics(
            kafka, [DATASETS["status"]], stop_requested=stop, wait_warn_s=0.2
        )
    finally:
        logging.getLogger("prestacop_stream_storage.sources").removeHandler(handler)
    assert not ready
    assert warned.is_set()

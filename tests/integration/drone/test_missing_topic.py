"""A topic the broker will not create: its events are counted as failed, the others still flow."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import Producer

from prestacop_drone.monitoring import DroneMetrics
from prestacop_drone.publisher import EventPublisher
from prestacop_shared import topics
from prestacop_shared.events import DroneState, DroneStatus, Violation
from prestacop_shared.kafka import KafkaSettings
from tests.support.kafka import consume_all, create_topics

pytestmark = pytest.mark.integration


def no_auto_create(config: dict[str, Any]) -> Producer:
    """A real producer that, like a locked-down cluster, never gets topics auto-created."""
    return Producer(
        config
        | {
            "allow.auto.create.topics": False,
            "topic.metadata.propagation.max.ms": 2000,
            "message.timeout.ms": 10000,
        }
    )


def test_missing_topic_is_reported_once_and_counted_while_other_topics_flow(
    kafka_settings: KafkaSettings, caplog: pytest.LogCaptureFixture
) -> None:
    (violations_topic,) = create_topics(kafka_settings, [topics.DRONE_VIOLATIONS])
    metrics = DroneMetrics()
    publisher = EventPublisher(kafka_settings, metrics, producer_factory=no_auto_create)
    position = {"drone_id": "nypd-t-0001", "latitude": 40.75, "longitude": -73.98}
    for _ in range(5):
        publisher.publish(DroneStatus(**position, battery_pct=80, state=DroneState.PATROLLING))
    violation = Violation(**position, violation_code=21, plate_id="ABC1234", image_id="img-1")
    publisher.publish(violation)

    assert publisher.flush(60) == 0
    assert publisher.failed["status"] == 5
    assert publisher.sent["violation"] == 1
    assert (
        metrics.registry.get_sample_value(
            "prestacop_drone_delivery_errors_total", {"kind": "status"}
        )
        == 5.0
    )
    missing = [r for r in caplog.records if "does not exist" in r.getMessage()]
    assert len(missing) == 1
    (record,) = consume_all(kafka_settings, violations_topic, expected=1, idle_s=1.0)
    assert record.key == b"nypd-t-0001"

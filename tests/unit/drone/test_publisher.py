"""The producer loop: a full local queue is drained and retried; refused events are counted."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError

from prestacop_drone.monitoring import DroneMetrics
from prestacop_drone.publisher import EventPublisher
from prestacop_shared import topics
from prestacop_shared.events import DroneState, DroneStatus
from prestacop_shared.kafka import KafkaSettings

pytestmark = pytest.mark.unit


class FakeMessage:
    def __init__(self, topic: str, key: str) -> None:
        self._topic, self._key = topic, key

    def topic(self) -> str:
        return self._topic

    def key(self) -> bytes:
        return self._key.encode()


class FakeProducer:
    """Stands in for confluent_kafka.Producer: queue full for the first ``full_for`` calls."""

    def __init__(self, config: dict[str, Any], full_for: int = 0) -> None:
        self.config = config
        self.full_for = full_for
        self.polls: list[float] = []
        self.pending: list[tuple[Any, FakeMessage]] = []
        self.error: KafkaError | None = None
        self.values: list[bytes] = []

    def produce(self, topic: str, value: bytes, key: str, on_delivery: Any) -> None:
        if self.full_for:
            self.full_for -= 1
            raise BufferError("queue full")
        self.values.append(value)
        self.pending.append((on_delivery, FakeMessage(topic, key)))

    def poll(self, timeout: float) -> int:
        self.polls.append(timeout)
        served = len(self.pending)
        for callback, message in self.pending:
            callback(self.error, message)
        self.pending.clear()
        return served

    def flush(self, timeout: float) -> int:
        self.poll(timeout)
        return 0

    def __len__(self) -> int:
        return len(self.pending)


def status(drone_id: str = "nypd-x-0001") -> DroneStatus:
    return DroneStatus(
        drone_id=drone_id, latitude=40.7, longitude=-73.9, battery_pct=50, state=DroneState.CHARGING
    )


def publisher_with(
    producer: FakeProducer, stopping: Any = lambda: False
) -> tuple[EventPublisher, DroneMetrics]:
    metrics = DroneMetrics()
    settings = KafkaSettings(bootstrap_servers="127.0.0.1:1", topic_prefix="p.")

    def factory(config: dict[str, Any]) -> FakeProducer:
        producer.config = config
        return producer

    return EventPublisher(settings, metrics, producer_factory=factory, stopping=stopping), metrics


def test_producer_is_idempotent_with_acks_all() -> None:
    producer = FakeProducer({})
    publisher_with(producer)
    assert producer.config["enable.idempotence"] is True
    assert producer.config["acks"] == "all"


def test_full_queue_is_drained_then_the_event_retried() -> None:
    producer = FakeProducer({}, full_for=2)
    publisher, metrics = publisher_with(producer)
    publisher.publish(status())
    assert producer.polls[:2] == [1, 1]
    assert publisher.produced["status"] == 1
    assert publisher.sent["status"] == 1
    sample = metrics.registry.get_sample_value(
        "prestacop_drone_messages_sent_total", {"kind": "status"}
    )
    assert sample == 1.0


def test_refused_events_are_counted_not_lost(caplog: pytest.LogCaptureFixture) -> None:
    producer = FakeProducer({})
    producer.error = KafkaError(KafkaError._UNKNOWN_TOPIC, "Unknown topic")
    publisher, metrics = publisher_with(producer)
    publisher.publish(status())
    publisher.publish(status())
    assert publisher.failed["status"] == 2
    assert publisher.sent["status"] == 0
    assert (
        metrics.registry.get_sample_value(
            "prestacop_drone_delivery_errors_total", {"kind": "status"}
        )
        == 2.0
    )
    missing = [r for r in caplog.records if "does not exist" in r.getMessage()]
    assert len(missing) == 1, "a missing topic is reported once, not per event"
    assert missing[0].topic == "p." + topics.DRONE_STATUS  # type: ignore[attr-defined]


def test_a_stop_while_the_queue_is_full_gives_up_the_event_and_counts_it() -> None:
    producer = FakeProducer({}, full_for=1_000_000)  # the broker is away for good
    waits: list[int] = []
    publisher, _ = publisher_with(producer, stopping=lambda: len(waits) >= 3 or waits.append(1))
    assert publisher.publish(status()) is False
    assert producer.polls == [1, 1, 1, 1]
    assert publisher.produced["status"] == 0
    assert publisher.failed == {"not_queued": 1}
    assert producer.config["queue.buffering.max.messages"] == 100_000

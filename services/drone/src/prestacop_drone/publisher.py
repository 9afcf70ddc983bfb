"""Send drone events to Kafka, keyed by drone id, and account for every acknowledgement.

Delivery guarantee: at-least-once per event, and no duplicate written by the producer's own
retries (idempotent producer, ``acks=all``), in order per drone (the key picks the partition).
An event counts as *sent* only once the broker acknowledged it; events the broker refused (or
that were still in flight when the flush on exit timed out) are counted as failed, never lost
silently. A process killed with SIGKILL loses what it had not sent yet: that is the simulator's
whole state, so nothing needs resuming.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from typing import Any, Final

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from prestacop_drone.monitoring import DroneMetrics
from prestacop_shared import topics
from prestacop_shared.events import Alert, DroneStatus, Event, Violation
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.serde import encode

logger = logging.getLogger(__name__)

TOPIC_OF_KIND: Final[dict[str, str]] = {
    DroneStatus.kind: topics.DRONE_STATUS,
    Violation.kind: topics.DRONE_VIOLATIONS,
    Alert.kind: topics.DRONE_ALERTS,
}
"""Which topic each event kind goes to (names from :mod:`prestacop_shared.topics`)."""

_MISSING_TOPIC_CODES: Final = frozenset(
    {KafkaError._UNKNOWN_TOPIC, KafkaError.UNKNOWN_TOPIC_OR_PART}
)
_LOG_EVERY_NTH_ERROR: Final = 1000

ProducerFactory = Callable[[dict[str, Any]], Producer]


class EventPublisher:
    """The canonical confluent-kafka producer loop around one idempotent ``Producer``.

    ``publish`` calls ``produce`` then ``poll(0)``; a full local queue (``BufferError``) is
    drained with ``poll(1)`` and the event retried; ``flush`` waits for the last
    acknowledgements. Counts (``produced``, ``sent``, ``failed``) are per event kind.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        metrics: DroneMetrics,
        *,
        producer_factory: ProducerFactory = Producer,
    ) -> None:
        self._topic_of_kind = {kind: kafka.topic(name) for kind, name in TOPIC_OF_KIND.items()}
        self._kind_of_topic = {topic: kind for kind, topic in self._topic_of_kind.items()}
        self._metrics = metrics
        config = kafka.producer_config(
            # Java clients' partitioner: Spark and Java consumers agree on key → partition.
            partitioner="murmur2_random",
            linger_ms=20,
        )
        config["error_cb"] = self._on_client_error
        self._producer = producer_factory(config)
        self.produced: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self._missing_topics_reported: set[str] = set()

    def publish(self, event: Event) -> None:
        """Queue one event for its topic, keyed by its drone id."""
        kind = event.kind
        topic = self._topic_of_kind[kind]
        value = encode(event)
        while True:
            try:
                self._producer.produce(
                    topic, value=value, key=event.drone_id, on_delivery=self._on_delivery
                )
                break
            except BufferError:
                self._metrics.queue_full.inc()
                self._producer.poll(1)
            except KafkaException as error:
                self._count_failure(kind, topic, error.args[0], event.drone_id)
                return
        self.produced[kind] += 1
        self._producer.poll(0)

    def poll(self, timeout_s: float) -> None:
        """Serve delivery reports, waiting up to ``timeout_s`` for one."""
        self._producer.poll(timeout_s)

    def flush(self, timeout_s: float) -> int:
        """Wait for every queued event to be acknowledged; return how many are still in flight.

        Events still in flight after ``timeout_s`` are counted as failed.
        """
        remaining: int = self._producer.flush(timeout_s)
        if remaining:
            logger.error(
                "events not acknowledged before the flush timeout",
                extra={"in_flight": remaining, "timeout_s": timeout_s},
            )
            self.failed["unacknowledged"] += remaining
        return remaining

    def in_flight(self) -> int:
        """Events queued or sent but not yet acknowledged."""
        return len(self._producer)

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        topic = message.topic() or ""
        kind = self._kind_of_topic.get(topic, "unknown")
        if error is None:
            self.sent[kind] += 1
            self._metrics.record_sent(kind)
            return
        key = message.key()
        self._count_failure(kind, topic, error, key.decode() if key else None)

    def _count_failure(
        self, kind: str, topic: str, error: KafkaError, drone_id: str | None
    ) -> None:
        self.failed[kind] += 1
        self._metrics.record_delivery_error(kind)
        context = {"topic": topic, "kind": kind, "drone_id": drone_id, "error": error.str()}
        if error.code() in _MISSING_TOPIC_CODES:
            if topic not in self._missing_topics_reported:
                self._missing_topics_reported.add(topic)
                logger.error(
                    "topic does not exist and the broker did not create it: create it (the "
                    "compose kafka-init service does) — its events are counted as failed",
                    extra=context,
                )
            return
        failures = sum(self.failed.values())
        if failures <= 10 or failures % _LOG_EVERY_NTH_ERROR == 0:
            logger.error("event not delivered", extra=context | {"failed_total": failures})

    def _on_client_error(self, error: KafkaError) -> None:
        level = logging.ERROR if error.fatal() else logging.WARNING
        logger.log(level, "kafka client error", extra={"error": error.str(), "code": error.code()})

"""Send drone events to Kafka, keyed by drone id, and account for every acknowledgement.

Delivery guarantee: at-least-once per event, and no duplicate written by the producer's own
retries (idempotent producer, ``acks=all``), in order per drone (the key picks the partition).
An event counts as *sent* only once the broker acknowledged it; events the broker refused, and
those still unacknowledged when the flush on exit ends (they are then purged from the local
queue), are counted as failed by kind and reported in one log line, never lost silently. When a
stop is requested while the local queue is full (the broker is away), the event at hand is not
queued (counted under ``not_queued``) and the loop returns at once instead of waiting for the
broker. A process killed with SIGKILL loses what it had not sent yet: that is the simulator's
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
_PURGED_CODES: Final = frozenset({KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT})
_LOG_EVERY_NTH_ERROR: Final = 1000
_PURGE_REPORTS_WAIT_S: Final = 1.0
NOT_QUEUED: Final = "not_queued"
"""``failed`` key of events never queued because a stop came while the queue was full."""

ProducerFactory = Callable[[dict[str, Any]], Producer]


class EventPublisher:
    """The canonical confluent-kafka producer loop around one idempotent ``Producer``.

    ``publish`` calls ``produce`` then ``poll(0)``; a full local queue (``BufferError``) is
    drained with ``poll(1)`` and the event retried until ``stopping()`` says a stop was asked
    for; ``flush`` waits a bounded time for the last acknowledgements, then purges the rest.
    Counts (``produced``, ``sent``, ``failed``) are per event kind.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        metrics: DroneMetrics,
        *,
        producer_factory: ProducerFactory = Producer,
        stopping: Callable[[], bool] = lambda: False,
        queue_max_messages: int = 100_000,
    ) -> None:
        self._topic_of_kind = {kind: kafka.topic(name) for kind, name in TOPIC_OF_KIND.items()}
        self._kind_of_topic = {topic: kind for kind, topic in self._topic_of_kind.items()}
        self._metrics = metrics
        config = kafka.producer_config(
            # Java clients' partitioner: Spark and Java consumers agree on key → partition.
            partitioner="murmur2_random",
            linger_ms=20,
        )
        config["queue.buffering.max.messages"] = queue_max_messages
        config["error_cb"] = self._on_client_error
        self._producer = producer_factory(config)
        self._stopping = stopping
        self.produced: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self._missing_topics_reported: set[str] = set()

    def publish(self, event: Event) -> bool:
        """Queue one event for its topic, keyed by its drone id; return whether it was queued.

        While the local queue is full, waits for the broker in steps of one second, and gives
        up (the event is counted under ``failed["not_queued"]``) as soon as a stop is asked for.
        """
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
                if self._stopping():
                    self.failed[NOT_QUEUED] += 1
                    return False
            except KafkaException as error:
                self._count_failure(kind, topic, error.args[0], event.drone_id)
                return False
        self.produced[kind] += 1
        self._producer.poll(0)
        return True

    def poll(self, timeout_s: float) -> None:
        """Serve delivery reports, waiting up to ``timeout_s`` for one."""
        self._producer.poll(timeout_s)

    def flush(self, timeout_s: float) -> int:
        """Wait up to ``timeout_s`` for every queued event's acknowledgement; return how many
        were still in flight then.

        Those are purged from the local queue and counted as failed by kind (an event that was
        already on the wire may still have been written: at-least-once allows it). One error
        line reports every event not delivered, by kind.
        """
        remaining: int = self._producer.flush(timeout_s)
        if remaining:
            self._producer.purge(in_queue=True, in_flight=True)
            self._producer.flush(_PURGE_REPORTS_WAIT_S)  # serves the purged events' reports
            self.failed["unacknowledged"] += len(self._producer)
        undelivered = self.undelivered()
        if undelivered:
            logger.error(
                "events not delivered: refused by the broker or unacknowledged at the end",
                extra={
                    "undelivered": sum(undelivered.values()),
                    "by_kind": undelivered,
                    "in_flight_at_flush_end": remaining,
                    "flush_timeout_s": timeout_s,
                },
            )
        return remaining

    def undelivered(self) -> dict[str, int]:
        """Events not acknowledged by the broker, by kind (and ``not_queued``, ``unacknowledged``)."""
        return {kind: count for kind, count in self.failed.items() if count}

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
        if error.code() in _PURGED_CODES:
            return  # reported once, by flush
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

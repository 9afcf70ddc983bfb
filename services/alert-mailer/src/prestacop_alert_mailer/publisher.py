"""Publish an operator's resolution: a ``Violation`` and an ``AlertResolution``, atomically.

Delivery guarantee: both events are written in one Kafka transaction (``read_committed``
readers see both or neither). Their event ids derive from the alert id and the events are kept in
the state before publishing, so a retry after a failure publishes the very same records again:
at-least-once on the wire, exactly-once for any reader that dedupes on ``event_id``.
"""

from __future__ import annotations

import logging
import threading

from confluent_kafka import KafkaException, Producer

from prestacop_alert_mailer.exceptions import PublishError
from prestacop_shared import topics
from prestacop_shared.events import AlertResolution, Violation
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.serde import encode

logger = logging.getLogger(__name__)

TRANSACTION_TIMEOUT_S = 30.0


class ResolutionPublisher:
    """A transactional producer for resolutions (thread-safe; one transaction at a time)."""

    def __init__(self, kafka: KafkaSettings, transactional_id: str) -> None:
        self._kafka = kafka
        self._transactional_id = transactional_id
        self._lock = threading.Lock()
        self._producer: Producer | None = None
        self.violations_topic = kafka.topic(topics.DRONE_VIOLATIONS)
        self.resolutions_topic = kafka.topic(topics.DRONE_ALERT_RESOLUTIONS)

    def _ready_producer(self) -> Producer:
        if self._producer is None:
            producer = Producer(
                self._kafka.producer_config(transactional_id=self._transactional_id)
            )
            producer.init_transactions(TRANSACTION_TIMEOUT_S)
            self._producer = producer
        return self._producer

    def publish(self, violation: Violation, resolution: AlertResolution) -> None:
        """Write both events in one transaction; return once it is committed.

        Raises:
            PublishError: the transaction could not be committed (it was aborted, nothing is
                visible to ``read_committed`` readers); calling again is safe.
        """
        with self._lock:
            try:
                producer = self._ready_producer()
                producer.begin_transaction()
                producer.produce(
                    self.violations_topic, key=violation.drone_id, value=encode(violation)
                )
                producer.produce(
                    self.resolutions_topic, key=resolution.alert_id, value=encode(resolution)
                )
                producer.commit_transaction(TRANSACTION_TIMEOUT_S)
            except KafkaException as error:
                self._recover(error)
                raise PublishError(f"could not publish the resolution: {error}") from error
        logger.info(
            "resolution published",
            extra={
                "alert_id": resolution.alert_id,
                "violation_event_id": violation.event_id,
                "violation_code": violation.violation_code,
                "topic": self.violations_topic,
            },
        )

    def _recover(self, error: KafkaException) -> None:
        kafka_error = error.args[0] if error.args else None
        producer = self._producer
        if producer is None:
            return
        if kafka_error is not None and kafka_error.txn_requires_abort():
            try:
                producer.abort_transaction(TRANSACTION_TIMEOUT_S)
                return
            except KafkaException:
                logger.exception("abort of the resolution transaction failed")
        logger.warning(
            "dropping the resolution producer after an error", extra={"error": str(error)}
        )
        self._producer = None

    def close(self) -> None:
        """Flush and forget the producer."""
        with self._lock:
            if self._producer is not None:
                self._producer.flush(10)
                self._producer = None

"""Dead letters of the alerts topic: kept in the state first, then written to Kafka once.

Delivery guarantee
------------------
:meth:`DeadLetterOutbox.add` writes the dead letter to the mailer's SQLite state (fsync'd) and
returns: the consumer commits the alert's offset and goes on with the partition at once, broker
or no broker. :meth:`DeadLetterOutbox.pump` produces each kept dead letter **once** with the
idempotent producer and an unbounded delivery timeout, so librdkafka retries it (without
duplicates) however long the broker is away, and a letter is never produced again while the
first copy is in flight. The broker's confirmation marks it delivered in the state; only a
delivery that failed for good (an error report) is produced again, after a pause. At shutdown
the producer is flushed for a bounded time; whatever is unconfirmed is produced at the next start.

So: no dead letter is lost (it is on disk before the offset is committed), and each is written
to ``drone.alerts.dlq`` once, except when the mailer dies after the broker stored it and before
the confirmation was recorded: then it is written again at the next start with the same
``event_id`` (derived from the alert's topic/partition/offset), the dedupe key.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from confluent_kafka import KafkaError, Message, Producer

from prestacop_alert_mailer.metrics import MailerMetrics
from prestacop_alert_mailer.store import AlertStore
from prestacop_shared.events import DeadLetter
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.serde import encode

logger = logging.getLogger(__name__)

SERVICE_NAME = "alert-mailer"
RETRY_FAILED_AFTER_S = 5.0
_DEAD_LETTER_NAMESPACE = uuid.UUID("5f0c4a52-2b8e-4c55-9a43-54b1d86a0c11")


def dead_letter_for(source: str, reason: str, raw: bytes) -> DeadLetter:
    """The dead letter of the message at ``source`` (its ``event_id`` derives from ``source``)."""
    letter = DeadLetter.from_raw(service=SERVICE_NAME, source=source, reason=reason, raw=raw)
    return letter.model_copy(update={"event_id": uuid.uuid5(_DEAD_LETTER_NAMESPACE, source).hex})


class DeadLetterOutbox:
    """Keeps dead letters in the state and writes each to the dead-letter topic once.

    Not thread-safe: one consumer thread calls :meth:`add`, :meth:`pump` and :meth:`close`.
    """

    def __init__(
        self, kafka: KafkaSettings, topic: str, store: AlertStore, metrics: MailerMetrics
    ) -> None:
        self.topic = topic
        self._store = store
        self._metrics = metrics
        # message.timeout.ms=0: never give up on a dead letter; the broker may be away for long.
        self._producer = Producer(kafka.producer_config(message_timeout_ms=0))
        self._in_flight: set[str] = set()
        self._next_pump = 0.0  # produce what the state holds at the first pump

    def add(self, message_key: bytes | None, letter: DeadLetter, *, alert_id: str | None) -> None:
        """Keep ``letter`` durably (and mark ``alert_id`` dead-lettered with it, if given).

        A letter whose ``event_id`` is kept already (a redelivered message) adds nothing.
        """
        value = encode(letter)
        if alert_id is None:
            new = self._store.save_dead_letter(letter.event_id, message_key, value, letter.source)
        else:
            new = self._store.dead_letter_alert(
                alert_id, letter.reason, event_id=letter.event_id, key=message_key, value=value
            )
        if new:
            self._metrics.dead_letters.inc()
        self._next_pump = 0.0

    def pump(self) -> None:
        """Produce the kept dead letters not yet in flight; serve delivery reports."""
        if time.monotonic() >= self._next_pump:
            self._next_pump = float("inf")
            for pending in self._store.pending_dead_letters():
                if pending.event_id in self._in_flight:
                    continue
                try:
                    self._producer.produce(
                        self.topic,
                        key=pending.key,
                        value=pending.value,
                        on_delivery=self._on_delivery(pending.event_id, pending.source),
                    )
                except BufferError:
                    self._next_pump = time.monotonic() + 1.0
                    break
                self._in_flight.add(pending.event_id)
        self._producer.poll(0)

    def _on_delivery(
        self, event_id: str, source: str
    ) -> Callable[[KafkaError | None, Message], None]:
        def report(error: KafkaError | None, _message: Message) -> None:
            self._in_flight.discard(event_id)
            if error is None:
                self._store.mark_dead_letter_delivered(event_id)
                logger.info("dead letter written", extra={"source": source, "topic": self.topic})
                return
            logger.warning(
                "dead letter not written, producing it again shortly",
                extra={"source": source, "topic": self.topic, "error": str(error)},
            )
            self._next_pump = min(self._next_pump, time.monotonic() + RETRY_FAILED_AFTER_S)

        return report

    def close(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for letters in flight; the rest are produced at next start."""
        left = self._producer.flush(timeout_s)
        if left:
            logger.warning(
                "dead letters not confirmed at shutdown; they are kept and written at next start",
                extra={"count": left, "topic": self.topic},
            )

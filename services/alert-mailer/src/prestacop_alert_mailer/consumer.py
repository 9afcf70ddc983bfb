"""The consumer loop: one email per alert on ``drone.alerts``, never twice.

Delivery guarantee
------------------
Per message, in this order:

1. decode the alert; a malformed message goes to ``drone.alerts.dlq`` (flushed) and is skipped;
2. remember the alert in the state (the operator API lists it);
3. if the state says its email was already accepted, skip the send (a redelivery);
4. send, retrying with backoff until the SMTP server accepts (nothing is skipped while SMTP is
   down: the partition waits);
5. record "emailed" in the state, fsync'd, as soon as the server's reply to DATA arrives
   (before the SMTP QUIT);
6. commit the offset (asynchronously; the last handled offsets synchronously at shutdown).

A crash before 4 completes re-sends after restart (the mail was never accepted: nothing lost). A
crash between 5 and 6 redelivers the alert, and step 3 skips it. The only window where a crash
gives a second email is between the SMTP server accepting the message and the state write of 5
returning: one local SQLite commit (an fsync, about a millisecond or so). Even then the second copy carries the
same deterministic ``Message-ID`` (``<alert-{alert_id}@prestacop>``), so mail systems can fold it.

Why SQLite rather than a compacted Kafka topic (``alert-mailer.sent``): the record must be
durable *before* the offset commit and cheap to check per alert; a local fsync'd SQLite write is
~1 ms and needs no broker round trip, and the same file holds the operator API's alert store. The
price: the state lives on one volume and serves one replica. Run a single mailer replica (one
member in the consumer group) and keep ``MAILER_STATE_DIR`` on a persistent volume; losing the
volume means alerts still in the topic whose offsets were not yet committed may be mailed again
(never lost). Scaling out would need the sent record in the compacted topic instead.

Dead letters are produced at-least-once (flushed before the offset commit); their ``event_id``
derives from the source position, so a redelivered dead letter is recognisable as the same one.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from prestacop_alert_mailer.compose import compose_alert_email, message_id_for
from prestacop_alert_mailer.config import MailerSettings
from prestacop_alert_mailer.exceptions import SendAbandoned
from prestacop_alert_mailer.metrics import MailerMetrics
from prestacop_alert_mailer.sender import SmtpSender
from prestacop_alert_mailer.store import AlertStore
from prestacop_shared import topics
from prestacop_shared.events import Alert, DeadLetter, utc_now
from prestacop_shared.exceptions import DeserializationError
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.serde import decode, encode

logger = logging.getLogger(__name__)

SERVICE_NAME = "alert-mailer"
POLL_TIMEOUT_S = 0.5
IDLE_PROBE_INTERVAL_S = 15.0
_DEAD_LETTER_NAMESPACE = uuid.UUID("5f0c4a52-2b8e-4c55-9a43-54b1d86a0c11")


def message_source(message: Message) -> str:
    """Where a Kafka message came from, as ``topic/partition/offset``."""
    return f"{message.topic()}/{message.partition()}/{message.offset()}"


class AlertConsumer:
    """Reads alerts in the mailer's consumer group and mails each one exactly once."""

    def __init__(
        self,
        settings: MailerSettings,
        kafka: KafkaSettings,
        store: AlertStore,
        sender: SmtpSender,
        metrics: MailerMetrics,
        stop: threading.Event,
    ) -> None:
        self._settings = settings
        self._kafka = kafka
        self._store = store
        self._sender = sender
        self._metrics = metrics
        self._stop = stop
        self.alerts_topic = kafka.topic(topics.DRONE_ALERTS)
        self.dead_letter_topic = kafka.topic(topics.DRONE_ALERTS_DLQ)

    def run(self, on_fatal: Callable[[BaseException], None]) -> None:
        """Consume until stop is requested (blocking; meant for a dedicated thread).

        Args:
            on_fatal: called with the error if the loop dies (state unwritable, Kafka fatal).
        """
        try:
            asyncio.run(self._run())
        except BaseException as error:  # the thread must report every death to the process
            logger.exception("alert consumer stopped on an error")
            on_fatal(error)

    async def _run(self) -> None:
        consumer = Consumer(
            self._kafka.consumer_config(
                self._settings.group_id,
                client_id=f"{self._kafka.client_id}-alert-mailer",
                group_instance_id=self._settings.instance_id,
            )
        )
        dead_letters = Producer(self._kafka.producer_config())
        consumer.subscribe([self.alerts_topic])
        logger.info(
            "consuming alerts",
            extra={"topic": self.alerts_topic, "group_id": self._settings.group_id},
        )
        last_activity = time.monotonic()
        handled: dict[tuple[str, int], TopicPartition] = {}
        try:
            await self._sender.probe()
            while not self._stop.is_set():
                message = consumer.poll(POLL_TIMEOUT_S)
                if message is None:
                    if time.monotonic() - last_activity > IDLE_PROBE_INTERVAL_S:
                        await self._sender.probe()
                        last_activity = time.monotonic()
                    continue
                if message.error() is not None:
                    _log_consumer_error(message)
                    continue
                last_activity = time.monotonic()
                try:
                    await self._handle(message, dead_letters)
                except SendAbandoned:
                    logger.info(
                        "stopping with an unsent alert; it is redelivered on restart",
                        extra={"source": message_source(message)},
                    )
                    break
                next_offset = _next_offset(message)
                handled[(next_offset.topic, next_offset.partition)] = next_offset
                _commit(consumer, [next_offset], wait=False)
        finally:
            if handled:
                _commit(consumer, list(handled.values()), wait=True)
            consumer.close()
            dead_letters.flush(10)
            logger.info("alert consumer closed", extra={"topic": self.alerts_topic})

    async def _handle(self, message: Message, dead_letters: Producer) -> None:
        source = message_source(message)
        try:
            alert = decode(Alert, message.value())
        except DeserializationError as error:
            self._dead_letter(dead_letters, message, error.reason)
            return
        self._store.record_alert(alert, source=source)
        context = {"alert_id": alert.alert_id, "drone_id": alert.drone_id, "source": source}
        if self._store.was_emailed(alert.alert_id):
            self._metrics.duplicates_skipped.inc()
            logger.info("alert already emailed, not sending again", extra=context)
            return
        try:
            email = compose_alert_email(
                alert,
                mail_from=self._settings.mail_from,
                mail_to=self._settings.mail_to,
                public_url=self._settings.public_url,
            )
        except ValueError as error:  # e.g. a header-breaking character in a field
            self._dead_letter(dead_letters, message, f"Alert: cannot compose its email: {error}")
            return
        message_id = message_id_for(alert.alert_id)
        await self._sender.send(
            email, on_accepted=lambda: self._store.mark_emailed(alert.alert_id, message_id)
        )
        latency_s = (utc_now() - alert.emitted_at).total_seconds()
        self._metrics.emails_sent.inc()
        self._metrics.alert_to_email_s.observe(max(0.0, latency_s))
        logger.info("alert emailed", extra=context | {"latency_s": round(latency_s, 3)})

    def _produce_and_confirm(self, producer: Producer, key: bytes | None, value: bytes) -> bool:
        outcome: list[KafkaError | None] = []
        while True:
            try:
                producer.produce(
                    self.dead_letter_topic,
                    key=key,
                    value=value,
                    on_delivery=_delivery_recorder(outcome),
                )
                break
            except BufferError:
                producer.poll(1)
        producer.flush(10)
        return bool(outcome) and outcome[0] is None

    def _dead_letter(self, producer: Producer, message: Message, reason: str) -> None:
        source = message_source(message)
        letter = DeadLetter.from_raw(
            service=SERVICE_NAME, source=source, reason=reason, raw=message.value() or b""
        ).model_copy(update={"event_id": uuid.uuid5(_DEAD_LETTER_NAMESPACE, source).hex})
        while not self._produce_and_confirm(producer, message.key(), encode(letter)):
            if self._stop.is_set():
                raise SendAbandoned(f"stopping before the dead letter for {source} was written")
            logger.warning("dead letter not delivered yet, retrying", extra={"source": source})
        self._metrics.dead_letters.inc()
        logger.warning(
            "malformed alert sent to the dead-letter topic",
            extra={"source": source, "reason": reason, "topic": self.dead_letter_topic},
        )


def _delivery_recorder(
    outcome: list[KafkaError | None],
) -> Callable[[KafkaError | None, Message], None]:
    def record(error: KafkaError | None, _message: Message) -> None:
        outcome.append(error)

    return record


def _next_offset(message: Message) -> TopicPartition:
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    assert topic is not None and partition is not None and offset is not None  # noqa: S101
    return TopicPartition(topic, partition, offset + 1)


def _commit(consumer: Consumer, offsets: list[TopicPartition], *, wait: bool) -> None:
    """Commit offsets of handled messages only (never the position past an abandoned one)."""
    try:
        if wait:
            consumer.commit(offsets=offsets, asynchronous=False)
        else:
            consumer.commit(offsets=offsets, asynchronous=True)
    except KafkaException as error:
        # Safe to go on: the state already records the email, a redelivery is skipped.
        logger.warning(
            "offset commit failed",
            extra={
                "offsets": [f"{o.topic}/{o.partition}/{o.offset}" for o in offsets],
                "error": str(error),
            },
        )


def _log_consumer_error(message: Message) -> None:
    error: KafkaError | None = message.error()
    if error is None or error.code() == KafkaError._PARTITION_EOF:
        return
    if error.fatal():
        raise KafkaException(error)
    logger.warning(
        "consumer error",
        extra={"error": str(error), "code": error.name(), "topic": message.topic()},
    )

"""The consumer loop: one email per alert on ``drone.alerts``, never twice but in doubt.

Delivery guarantee
------------------
Per message, in this order:

1. decode the alert; a malformed message becomes a dead letter (step 7) and is skipped;
2. remember the alert in the state (the operator API lists it);
3. if the state says its email was accepted, or the alert was dead-lettered, do nothing more
   (a redelivery); if it says a send was in doubt when the mailer died (DATA started, no reply
   recorded), count that send: the next copy is marked ``X-Prestacop-Possible-Duplicate: yes``;
4. send (:mod:`~prestacop_alert_mailer.sender`): connection errors and 4xx are retried without
   end (the partition waits while SMTP is down); before DATA, "DATA started" is fsync'd;
5. record "emailed" (with any refused recipients), fsync'd, as soon as the server's reply to
   DATA arrives (before the SMTP QUIT);
6. or, if the email was refused permanently (5xx ``MAILER_SMTP_PERMANENT_FAILURE_ATTEMPTS``
   times) or was in doubt ``MAILER_SMTP_IN_DOUBT_ATTEMPTS`` times, record the alert as
   dead-lettered with the server's reply, in the same fsync'd write as its dead letter;
7. dead letters wait in the state and are written to ``drone.alerts.dlq`` once, in the
   background (:mod:`~prestacop_alert_mailer.dead_letters`): the partition does not wait for
   the broker;
8. commit the offset (asynchronously; the last handled offsets synchronously at shutdown).

A crash before DATA re-sends after restart (the mail was never taken: nothing lost). A crash
between 5 and 8 redelivers the alert, and step 3 skips it. The one window for a second email is
DATA itself: from "DATA started" on disk to "emailed" on disk, i.e. the transfer of the message,
the time the server takes to answer (the mailer waits ``MAILER_SMTP_DATA_TIMEOUT_S`` for it) and
one fsync; a few milliseconds with a local aiosmtpd (mean 6.7 ms over 300 mails on a loaded
2-core machine). If the mailer dies there, or the connection drops, or the reply never comes,
the alert is mailed again (at most ``MAILER_SMTP_IN_DOUBT_ATTEMPTS`` sends in doubt, then it is
dead-lettered) with the same deterministic ``Message-ID`` (``<alert-{alert_id}@prestacop>``)
and the possible-duplicate header, so that mail systems and people can fold the copies;
``alert_mailer_sends_in_doubt`` counts these sends and ``alert_mailer_in_doubt_window_seconds``
measures the window.

Why SQLite rather than a compacted Kafka topic (``alert-mailer.sent``): the record must be
durable *before* the offset commit and cheap to check per alert; a local fsync'd SQLite write is
~1 ms and needs no broker round trip, and the same file holds the operator API's alert store. The
price: the state lives on one volume and serves one replica. Run a single mailer replica (one
member in the consumer group) and keep ``MAILER_STATE_DIR`` on a persistent volume; losing the
volume means alerts still in the topic whose offsets were not yet committed may be mailed again
(never lost). Scaling out would need the sent record in the compacted topic instead.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from prestacop_alert_mailer.compose import compose_alert_email, message_id_for
from prestacop_alert_mailer.config import MailerSettings
from prestacop_alert_mailer.dead_letters import DeadLetterOutbox, dead_letter_for
from prestacop_alert_mailer.exceptions import SendAbandoned, SendFailed
from prestacop_alert_mailer.metrics import MailerMetrics
from prestacop_alert_mailer.sender import SmtpSender
from prestacop_alert_mailer.store import AlertStore
from prestacop_shared import topics
from prestacop_shared.events import Alert, utc_now
from prestacop_shared.exceptions import DeserializationError
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.serde import decode

logger = logging.getLogger(__name__)

POLL_TIMEOUT_S = 0.5
IDLE_PROBE_INTERVAL_S = 15.0
DEAD_LETTER_FLUSH_S = 3.0  # what is unconfirmed stays in the state for the next start


def message_source(message: Message) -> str:
    """Where a Kafka message came from, as ``topic/partition/offset``."""
    return f"{message.topic()}/{message.partition()}/{message.offset()}"


class AlertConsumer:
    """Reads alerts in the mailer's consumer group and mails each one exactly once.

    ``on_new_alert`` (the console's live feed) is called with the id of each alert recorded for
    the first time, before its email is sent.
    """

    def __init__(
        self,
        settings: MailerSettings,
        kafka: KafkaSettings,
        store: AlertStore,
        sender: SmtpSender,
        metrics: MailerMetrics,
        stop: threading.Event,
        on_new_alert: Callable[[str], None] = lambda _alert_id: None,
    ) -> None:
        self._settings = settings
        self._on_new_alert = on_new_alert
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
        dead_letters = DeadLetterOutbox(
            self._kafka, self.dead_letter_topic, self._store, self._metrics
        )
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
                dead_letters.pump()
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
            dead_letters.close(DEAD_LETTER_FLUSH_S)
            logger.info("alert consumer closed", extra={"topic": self.alerts_topic})

    async def _handle(self, message: Message, dead_letters: DeadLetterOutbox) -> None:
        source = message_source(message)
        raw = message.value() or b""
        try:
            alert = decode(Alert, message.value())
        except DeserializationError as error:
            letter = dead_letter_for(source, error.reason, raw)
            dead_letters.add(message.key(), letter, alert_id=None)
            logger.warning(
                "malformed alert kept for the dead-letter topic",
                extra={"source": source, "reason": error.reason, "topic": self.dead_letter_topic},
            )
            return
        if self._store.record_alert(alert, source=source):
            self._on_new_alert(alert.alert_id)
        context = {"alert_id": alert.alert_id, "drone_id": alert.drone_id, "source": source}
        record = self._store.send_record(alert.alert_id)
        if record.emailed or record.dead_lettered:
            self._metrics.duplicates_skipped.inc()
            logger.info("alert already handled, not sending again", extra=context)
            return
        journal = _Journal(self._store, self._metrics, alert.alert_id, record.sends_in_doubt)
        if record.data_started:
            journal.sends_in_doubt = self._store.note_in_doubt(alert.alert_id)
            self._metrics.sends_in_doubt.inc()
            logger.warning(
                "the last send of this alert got no reply before the mailer stopped; the next "
                "copy is marked as a possible duplicate",
                extra=context | {"sends_in_doubt": journal.sends_in_doubt},
            )
        try:
            email = compose_alert_email(
                alert,
                mail_from=self._settings.mail_from,
                mail_to=self._settings.mail_to,
                public_url=self._settings.public_url,
                console_url=self._settings.console_base_url,
            )
        except ValueError as error:  # e.g. a header-breaking character in a field
            self._give_up(message, alert, dead_letters, f"cannot compose its email: {error}")
            return
        try:
            if journal.sends_in_doubt >= self._settings.smtp_in_doubt_attempts:
                raise SendFailed(
                    f"{journal.sends_in_doubt} sends in doubt (each may have been delivered)"
                )
            await self._sender.send(email, journal)
        except SendFailed as failure:
            self._metrics.permanent_failures.inc()
            self._give_up(message, alert, dead_letters, f"email not sent: {failure}")
            return
        latency_s = (utc_now() - alert.emitted_at).total_seconds()
        self._metrics.emails_sent.inc()
        self._metrics.alert_to_email_s.observe(max(0.0, latency_s))
        logger.info("alert emailed", extra=context | {"latency_s": round(latency_s, 3)})

    def _give_up(
        self, message: Message, alert: Alert, dead_letters: DeadLetterOutbox, reason: str
    ) -> None:
        source = message_source(message)
        letter = dead_letter_for(source, f"Alert: {reason}", message.value() or b"")
        dead_letters.add(message.key(), letter, alert_id=alert.alert_id)
        logger.error(
            "alert dead-lettered, not mailed",
            extra={"alert_id": alert.alert_id, "source": source, "reason": letter.reason},
        )


class _Journal:
    """The send journal of one alert, in the state (see :class:`~.sender.SendJournal`)."""

    def __init__(
        self, store: AlertStore, metrics: MailerMetrics, alert_id: str, sends_in_doubt: int
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._alert_id = alert_id
        self.sends_in_doubt = sends_in_doubt
        self._data_started_at: float | None = None

    def data_started(self) -> None:
        self._store.mark_data_started(self._alert_id)
        self._data_started_at = time.monotonic()

    def refused(self) -> None:
        self._store.clear_data_started(self._alert_id)

    def in_doubt(self) -> int:
        self.sends_in_doubt = self._store.note_in_doubt(self._alert_id)
        return self.sends_in_doubt

    def accepted(self, refused_recipients: dict[str, str]) -> None:
        self._store.mark_emailed(self._alert_id, message_id_for(self._alert_id), refused_recipients)
        if self._data_started_at is not None:
            self._metrics.in_doubt_window_s.observe(time.monotonic() - self._data_started_at)


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

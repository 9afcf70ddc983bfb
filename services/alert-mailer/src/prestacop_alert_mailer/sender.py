"""Deliver an email to the configured SMTP server, retrying with backoff until it is accepted.

While attempts fail, :class:`~prestacop_alert_mailer.health.Health` reports ``smtp`` as degraded
(``/healthz`` answers 503 saying why); the first accepted email clears it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from email.message import EmailMessage

import aiosmtplib
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_never,
    wait_exponential_jitter,
)

from prestacop_alert_mailer.config import MailerSettings
from prestacop_alert_mailer.exceptions import SendAbandoned
from prestacop_alert_mailer.health import Health
from prestacop_alert_mailer.metrics import MailerMetrics

logger = logging.getLogger(__name__)

SMTP_COMPONENT = "smtp"
_RETRIED = (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError)


class SmtpSender:
    """Sends one email at a time; :meth:`send` returns only once the server accepted it."""

    def __init__(
        self,
        settings: MailerSettings,
        health: Health,
        metrics: MailerMetrics,
        stop: threading.Event,
    ) -> None:
        self._settings = settings
        self._health = health
        self._metrics = metrics
        self._stop = stop

    async def send(self, message: EmailMessage, on_accepted: Callable[[], None]) -> None:
        """Send ``message``, retrying every failure with exponential backoff (capped).

        ``on_accepted`` runs as soon as the server has accepted the message (its reply to the
        end of DATA), before the session's QUIT, so that a durable record can be written with
        as little delay as possible. An error after acceptance (QUIT) is not retried.

        Every SMTP error is retried, permanent ones (5xx) included: they come from configuration
        (recipients, credentials) that an operator fixes without losing the alert.

        Raises:
            SendAbandoned: stop was requested before the server accepted the email. An attempt
                already under way is finished (bounded by ``MAILER_SMTP_TIMEOUT_S``) first.
        """
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_RETRIED),
            wait=wait_exponential_jitter(
                initial=self._settings.retry_initial_s, max=self._settings.retry_max_s
            ),
            stop=stop_never,
            sleep=self._sleep_unless_stopped,
            before_sleep=self._on_failure,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                if self._stop.is_set():
                    raise SendAbandoned(f"stopping before {message['Message-ID']} was accepted")
                await self._attempt(message, on_accepted)
        self._health.recover(SMTP_COMPONENT)

    async def probe(self) -> None:
        """Connect, greet and quit; clear or report the ``smtp`` problem accordingly."""
        client = self._client()
        try:
            async with client:
                await client.noop()
        except _RETRIED as error:
            self._health.degrade(SMTP_COMPONENT, _describe(error))
        else:
            self._health.recover(SMTP_COMPONENT)

    def _client(self) -> aiosmtplib.SMTP:
        settings = self._settings
        return aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=(
                settings.smtp_password.get_secret_value() if settings.smtp_password else None
            ),
            use_tls=settings.smtp_tls == "implicit",
            start_tls=settings.smtp_tls == "starttls",
            timeout=settings.smtp_timeout_s,
        )

    async def _attempt(self, message: EmailMessage, on_accepted: Callable[[], None]) -> None:
        client = self._client()
        await client.connect()
        try:
            await client.send_message(message)
        except BaseException:
            client.close()
            raise
        on_accepted()
        try:
            await client.quit()
        except _RETRIED:
            client.close()

    def _on_failure(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        detail = _describe(error)
        self._metrics.send_failures.inc()
        self._health.degrade(SMTP_COMPONENT, detail)
        delay_s = state.next_action.sleep if state.next_action else 0.0
        logger.warning(
            "SMTP send failed, retrying",
            extra={
                "attempt": state.attempt_number,
                "retry_in_s": round(delay_s, 2),
                "error": detail,
                "smtp_host": self._settings.smtp_host,
                "smtp_port": self._settings.smtp_port,
            },
        )

    async def _sleep_unless_stopped(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self._stop.is_set() and loop.time() < deadline:
            await asyncio.sleep(min(0.1, max(0.0, deadline - loop.time())))


def _describe(error: BaseException | None) -> str:
    if error is None:
        return "SMTP send failed"
    return f"SMTP send failed: {type(error).__name__}: {error}"[:500]

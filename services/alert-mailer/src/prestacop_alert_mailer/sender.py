"""Deliver one email to the configured SMTP server, deciding by the server's replies.

What each outcome does:

* **accepted** (``250`` to the end of DATA): :meth:`SendJournal.accepted` records it durably,
  with any recipients the server refused while it took the others (reported, never silent);
* **refused permanently** (``5xx`` to MAIL FROM, to every RCPT, or to DATA), once
  ``MAILER_SMTP_PERMANENT_FAILURE_ATTEMPTS`` such replies came for this mail: :class:`SendFailed`
  with the server's reply (the consumer dead-letters the alert and goes on);
* **in doubt** (DATA started, then the reply timed out or the connection dropped): the server may
  hold the mail. The journal counts it; the next copy carries
  ``X-Prestacop-Possible-Duplicate: yes`` and the same ``Message-ID``; after
  ``MAILER_SMTP_IN_DOUBT_ATTEMPTS`` in-doubt sends, :class:`SendFailed` (no endless copies);
* anything else (``4xx``, connection refused or lost before DATA, greeting or login refused,
  timeouts before DATA): retried with exponential backoff, without end. Session-level refusals
  (greeting, STARTTLS, login) are configuration problems of every mail, not of this one.

"DATA started" is written durably *before* the DATA command, so that a mailer killed while it
waits for the reply knows after restart that the mail is in doubt. The reply to the end of DATA
is awaited for ``MAILER_SMTP_DATA_TIMEOUT_S`` (10 minutes by default, as RFC 5321 advises),
every other command for ``MAILER_SMTP_TIMEOUT_S``: a slow server is waited for, not sent a
second copy.

While attempts fail, :class:`~prestacop_alert_mailer.health.Health` reports ``smtp`` as degraded;
the first accepted email clears it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from typing import Any, Protocol, TypeVar

import aiosmtplib
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_never,
    wait_exponential_jitter,
)

from prestacop_alert_mailer.compose import mark_possible_duplicate
from prestacop_alert_mailer.config import MailerSettings
from prestacop_alert_mailer.exceptions import SendAbandoned, SendFailed
from prestacop_alert_mailer.health import Health
from prestacop_alert_mailer.metrics import MailerMetrics

logger = logging.getLogger(__name__)

SMTP_COMPONENT = "smtp"
_RETRIED = (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError)
_T = TypeVar("_T")


class SendJournal(Protocol):
    """Where the sender records, for one email, what happened to it."""

    sends_in_doubt: int

    def data_started(self) -> None:
        """DATA is about to start; must be durable when it returns."""

    def refused(self) -> None:
        """The server answered with a refusal after DATA started: not in doubt."""

    def in_doubt(self) -> int:
        """A send got no reply after DATA started; return how many did so far."""

    def accepted(self, refused_recipients: dict[str, str]) -> None:
        """The server took the email (for every recipient not in ``refused_recipients``)."""


class _JournaledSMTP(aiosmtplib.SMTP):
    """aiosmtplib's client, calling a hook before DATA and waiting longer for DATA's reply."""

    def __init__(
        self, *, before_data: Callable[[], None], data_timeout_s: float, **options: Any
    ) -> None:
        super().__init__(**options)
        self._before_data = before_data
        self._data_timeout_s = data_timeout_s
        self.data_started = False

    async def data(self, message: str | bytes, /, *, timeout: Any = None) -> Any:  # noqa: ARG002
        self._before_data()
        self.data_started = True
        return await super().data(message, timeout=self._data_timeout_s)


class SmtpSender:
    """Sends one email at a time; :meth:`send` returns once the server accepted it."""

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

    async def send(self, message: EmailMessage, journal: SendJournal) -> dict[str, str]:
        """Send ``message`` until the server accepts it; return the refused recipients.

        Raises:
            SendFailed: refused permanently, or in doubt too often (the reason says which).
            SendAbandoned: stop was requested before the server accepted the email. An attempt
                under way is given ``MAILER_SMTP_TIMEOUT_S`` more to finish first; if it was
                waiting for the reply to DATA, the email stays in doubt (journal) for the restart.
        """
        if journal.sends_in_doubt:
            mark_possible_duplicate(message)
        permanent_refusals = 0
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
        refused: dict[str, str] = {}
        async for attempt in retrying:
            with attempt:
                if self._stop.is_set():
                    raise SendAbandoned(f"stopping before {message['Message-ID']} was accepted")
                client = self._client(before_data=journal.data_started)
                try:
                    refused = await self._attempt(client, message, journal)
                except (
                    aiosmtplib.SMTPResponseException,
                    aiosmtplib.SMTPRecipientsRefused,
                ) as error:
                    # The server answered: this send is not in doubt.
                    if client.data_started:
                        journal.refused()
                    reply = permanent_reply(error)
                    if reply is not None:
                        permanent_refusals += 1
                        if permanent_refusals >= self._settings.smtp_permanent_failure_attempts:
                            raise SendFailed(
                                f"SMTP server refused the email permanently, "
                                f"{permanent_refusals} attempts: {reply}"
                            ) from error
                    raise
                except (aiosmtplib.SMTPException, TimeoutError, OSError) as error:
                    if client.data_started:
                        self._in_doubt(message, journal, error)
                    raise
        self._health.recover(SMTP_COMPONENT)
        if refused:
            self._metrics.recipients_refused.inc(len(refused))
            logger.warning(
                "email accepted, but some recipients refused",
                extra={"message_id": str(message["Message-ID"]), "refused": refused},
            )
        return refused

    async def probe(self) -> None:
        """Connect, greet and quit; clear or report the ``smtp`` problem accordingly."""
        client = self._client(before_data=lambda: None)
        try:
            async with client:
                await client.noop()
        except _RETRIED as error:
            self._health.degrade(SMTP_COMPONENT, _describe(error))
            logger.warning("SMTP probe failed", extra={"error": _describe(error)})
        else:
            self._health.recover(SMTP_COMPONENT)

    def _client(self, before_data: Callable[[], None]) -> _JournaledSMTP:
        settings = self._settings
        return _JournaledSMTP(
            before_data=before_data,
            data_timeout_s=settings.smtp_data_timeout_s,
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

    async def _attempt(
        self, client: _JournaledSMTP, message: EmailMessage, journal: SendJournal
    ) -> dict[str, str]:
        """One session; the journal records acceptance before QUIT (an error after is ignored)."""
        try:
            await self._unless_stopped(client.connect())
            errors, _reply = await self._unless_stopped(client.send_message(message))
        except BaseException:
            client.close()
            raise
        refused = {address: f"{reply.code} {reply.message}" for address, reply in errors.items()}
        journal.accepted(refused)
        with contextlib.suppress(*_RETRIED):
            await client.quit()
        client.close()
        return refused

    async def _unless_stopped(self, step: Awaitable[_T]) -> _T:
        """Await ``step``; once stop is requested, give it ``MAILER_SMTP_TIMEOUT_S`` more."""
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(step)
        stopped_at: float | None = None
        while True:
            done, _ = await asyncio.wait({task}, timeout=0.1)
            if done:
                return task.result()
            if self._stop.is_set():
                stopped_at = stopped_at if stopped_at is not None else loop.time()
                if loop.time() - stopped_at > self._settings.smtp_timeout_s:
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
                    raise SendAbandoned("stopping while the SMTP server had not answered")

    def _in_doubt(self, message: EmailMessage, journal: SendJournal, error: BaseException) -> None:
        sends = journal.in_doubt()
        self._metrics.sends_in_doubt.inc()
        logger.warning(
            "no reply to the end of DATA: the server may have the email; a resend is marked "
            "as a possible duplicate",
            extra={"message_id": str(message["Message-ID"]), "sends_in_doubt": sends,
                   "error": _describe(error)},
        )  # fmt: skip
        if sends >= self._settings.smtp_in_doubt_attempts:
            raise SendFailed(
                f"SMTP server never answered the end of DATA, {sends} sends in doubt (each may "
                f"have been delivered): {_describe(error)}"
            ) from error
        mark_possible_duplicate(message)

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


def permanent_reply(error: aiosmtplib.SMTPException) -> str | None:
    """The server's reply if it refused this mail for good (5xx to MAIL, all RCPTs or DATA)."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        replies = error.recipients
        if replies and all(500 <= reply.code < 600 for reply in replies):
            return "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in replies)
        return None
    if isinstance(error, aiosmtplib.SMTPSenderRefused | aiosmtplib.SMTPDataError):
        if 500 <= error.code < 600:
            return f"{error.code} {error.message}"
    return None


def _describe(error: BaseException | None) -> str:
    if error is None:
        return "SMTP send failed"
    return f"SMTP send failed: {type(error).__name__}: {error}"[:500]

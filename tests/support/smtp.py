"""A real SMTP server (aiosmtpd) that records what it receives, and can be taken away."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
from collections import Counter
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class _Recorder:
    def __init__(self, owner: RecordingSMTPServer) -> None:
        self._owner = owner

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802, ARG002
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self._owner._record(message, list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class RecordingSMTPServer:
    """aiosmtpd on 127.0.0.1:<port>, keeping every accepted message (and a copy on disk).

    ``stop()`` then ``start()`` takes the server away and brings it back on the same port.
    """

    def __init__(self, port: int, mail_dir: Path) -> None:
        self.host = "127.0.0.1"
        self.port = port
        self.mail_dir = mail_dir
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None
        mail_dir.mkdir(parents=True, exist_ok=True)

    def _record(self, message: EmailMessage, recipients: list[str]) -> None:
        with self._lock:
            self.messages.append(message)
            self.recipients.append(recipients)
            (self.mail_dir / f"{len(self.messages):06d}.eml").write_bytes(message.as_bytes())

    def start(self) -> None:
        """Start listening (idempotent)."""
        if self._controller is None:
            self._controller = Controller(_Recorder(self), hostname=self.host, port=self.port)
            self._controller.start()

    def stop(self) -> None:
        """Stop listening; connections are refused until ``start()``."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        """Whether the server currently accepts connections."""
        return self._controller is not None

    def snapshot(self) -> list[EmailMessage]:
        """A copy of the messages received so far."""
        with self._lock:
            return list(self.messages)

    def wait_for(
        self, count: int, timeout_s: float = 60.0, settle_s: float = 1.0
    ) -> list[EmailMessage]:
        """Wait until at least ``count`` messages arrived, then ``settle_s`` more for extras."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and len(self.snapshot()) < count:
            time.sleep(0.1)
        time.sleep(settle_s)
        return self.snapshot()


Reply = Callable[[EmailMessage, int], str]


def accept_all(_message: EmailMessage, _attempt: int) -> str:
    """The reply of a server that takes every mail."""
    return "250 Message accepted for delivery"


class _Scripted:
    def __init__(self, owner: ScriptedSMTPServer) -> None:
        self._owner = owner

    async def handle_RCPT(  # noqa: N802 - aiosmtpd hook
        self, _server: Any, _session: Any, envelope: Any, address: str, _options: Any
    ) -> str:
        reply = self._owner.rcpt_reply(address)
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(  # noqa: N802 - aiosmtpd hook
        self, _server: Any, _session: Any, envelope: Any
    ) -> str:
        owner = self._owner
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        attempt = owner._count_attempt(message)
        reply = owner.data_reply(message, attempt)
        if reply.startswith("250"):
            owner._record(message, list(envelope.rcpt_tos))
        delay_s = owner.data_delay_s(message, attempt)
        while owner.hold_reply.is_set():
            owner.reply_held.set()
            await asyncio.sleep(0.01)
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        return reply


class ScriptedSMTPServer(RecordingSMTPServer):
    """A recording aiosmtpd whose replies a test scripts, per message and attempt.

    ``data_reply(message, attempt)`` answers the end of DATA (a ``250`` reply records the mail
    first, as a real server commits it to its queue before answering); ``data_delay_s`` delays
    that answer; ``hold_reply`` (an event) holds it after the mail was recorded, for as long as
    it is set; ``rcpt_reply(address)`` answers each RCPT. ``attempts`` counts the DATA ends per
    ``Message-ID``.
    """

    def __init__(self, port: int, mail_dir: Path) -> None:
        super().__init__(port, mail_dir)
        self.data_reply: Reply = accept_all
        self.data_delay_s: Callable[[EmailMessage, int], float] = lambda _m, _n: 0.0
        self.rcpt_reply: Callable[[str], str] = lambda _address: "250 OK"
        self.hold_reply = threading.Event()
        self.reply_held = threading.Event()
        self.attempts: Counter[str] = Counter()

    def _count_attempt(self, message: EmailMessage) -> int:
        with self._lock:
            self.attempts[str(message["Message-ID"])] += 1
            return self.attempts[str(message["Message-ID"])]

    def start(self) -> None:
        """Start listening (idempotent)."""
        if self._controller is None:
            self._controller = Controller(_Scripted(self), hostname=self.host, port=self.port)
            self._controller.start()

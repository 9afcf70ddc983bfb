"""Run the real mailer as a subprocess, make alerts, read the mail it sent.

Shared by the mailer's integration and e2e tests (the fixtures are re-exported by their
``conftest.py``).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from prestacop_shared import topics
from prestacop_shared.events import Alert, AlertReason, DeadLetter
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.serde import decode, encode
from tests.support.kafka import consume_all, create_topics, produce
from tests.support.smtp import RecordingSMTPServer, ScriptedSMTPServer

OPERATOR_TOKEN = "test-operator-token-0123456789abcdef"  # noqa: S105 - test-only token
AUTH = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
MAILER_TOPICS = (
    topics.DRONE_ALERTS,
    topics.DRONE_ALERTS_DLQ,
    topics.DRONE_VIOLATIONS,
    topics.DRONE_ALERT_RESOLUTIONS,
)


def make_alert(index: int, *, plate: str | None = "ABC1234") -> Alert:
    """A valid alert from one of a few drones, somewhere in Manhattan."""
    rng = random.Random(index)
    return Alert(
        drone_id=f"drone-test-{index % 5}",
        latitude=40.70 + rng.random() * 0.1,
        longitude=-74.01 + rng.random() * 0.05,
        image_id=f"img-{index:05d}",
        reason=list(AlertReason)[index % len(AlertReason)],
        detail=f"test alert {index}",
        plate_id=plate,
    )


def produce_alerts(settings: KafkaSettings, alerts: list[Alert]) -> None:
    """Produce alerts keyed by drone id, as the drones do."""
    produce(
        settings,
        settings.topic(topics.DRONE_ALERTS),
        [(alert.drone_id, encode(alert)) for alert in alerts],
    )


def alert_id_of(message: EmailMessage) -> str:
    """The alert an email is about, from its deterministic Message-ID."""
    message_id = str(message["Message-ID"])
    assert message_id.startswith("<alert-") and message_id.endswith("@prestacop>"), message_id
    return message_id[len("<alert-") : -len("@prestacop>")]


def emails_per_alert(messages: list[EmailMessage]) -> Counter[str]:
    """How many emails each alert got."""
    return Counter(alert_id_of(message) for message in messages)


@dataclass
class MailerProcess:
    """One ``python -m prestacop_alert_mailer`` process (restartable on the same state)."""

    env: dict[str, str]
    log_path: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _log_files: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, wait: bool = True) -> MailerProcess:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.starts += 1
        log = self.log_path.open("ab")
        self._log_files.append(log)
        log.write(f"\n===== start {self.starts} =====\n".encode())
        log.flush()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "prestacop_alert_mailer"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if wait:
            self.wait_until_serving()
        return self

    def wait_until_serving(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"mailer exited with {self.process.returncode}:\n{self.log()}")
            try:
                httpx.get(f"{self.url}/healthz", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"mailer not serving after {timeout_s}s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: no cleanup at all."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)

    def terminate(self, timeout_s: float = 60) -> int:
        """SIGTERM and wait; return the exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout_s)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def healthz(self) -> httpx.Response:
        return httpx.get(f"{self.url}/healthz", timeout=5)

    def close(self) -> None:
        self.kill()
        for log in self._log_files:
            log.close()


def mailer_env(
    kafka_settings: KafkaSettings,
    smtp: RecordingSMTPServer,
    *,
    state_dir: Path,
    port: int,
    group_id: str,
    **extra: str,
) -> dict[str, str]:
    """The environment the mailer runs with in tests (settings override, nothing is patched)."""
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("MAILER_", "KAFKA_"))
    }
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
            "KAFKA_TOPIC_PREFIX": kafka_settings.topic_prefix,
            "KAFKA_CLIENT_ID": "alert-mailer-under-test",
            "MAILER_SMTP_HOST": smtp.host,
            "MAILER_SMTP_PORT": str(smtp.port),
            "MAILER_SMTP_TLS": "none",
            "MAILER_MAIL_FROM": "prestacop-alerts@test.invalid",
            "MAILER_MAIL_TO": "operators@test.invalid, duty@test.invalid",
            "MAILER_OPERATOR_TOKEN": OPERATOR_TOKEN,
            "MAILER_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "MAILER_HTTP_HOST": "127.0.0.1",
            "MAILER_HTTP_PORT": str(port),
            "MAILER_GROUP_ID": group_id,
            "MAILER_STATE_DIR": str(state_dir),
            "MAILER_RETRY_INITIAL_S": "0.2",
            "MAILER_RETRY_MAX_S": "2",
            "MAILER_SMTP_TIMEOUT_S": "5",
        }
    )
    env.update(extra)
    return env


class _HoldingRecorder:
    """Records like the shared recorder, but can hold sessions at RCPT (before any DATA)."""

    def __init__(self, owner: HoldingSMTPServer) -> None:
        self._owner = owner

    async def handle_RCPT(  # noqa: N802 - aiosmtpd hook
        self, _server: Any, _session: Any, envelope: Any, address: str, _options: Any
    ) -> str:
        while self._owner.hold.is_set():
            self._owner.session_held.set()
            await asyncio.sleep(0.01)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd hook
        self, _server: Any, _session: Any, envelope: Any
    ) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self._owner._record(message, list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class HoldingSMTPServer(RecordingSMTPServer):
    """A recording aiosmtpd whose sessions can be held before DATA (``hold`` set).

    While held, a mail is in flight but not accepted: the moment to kill a sender.
    """

    def __init__(self, port: int, mail_dir: Path) -> None:
        super().__init__(port, mail_dir)
        self.hold = threading.Event()
        self.session_held = threading.Event()

    def start(self) -> None:
        if self._controller is None:
            self._controller = Controller(
                _HoldingRecorder(self), hostname=self.host, port=self.port
            )
            self._controller.start()


@pytest.fixture
def holding_smtp_server(tmp_path: Path) -> Iterator[HoldingSMTPServer]:
    """A running :class:`HoldingSMTPServer`."""
    from prestacop_devkit.broker import free_port

    server = HoldingSMTPServer(free_port(), tmp_path / "held-mail")
    server.start()
    yield server
    server.hold.clear()
    server.stop()


@pytest.fixture
def scripted_smtp_server(tmp_path: Path) -> Iterator[ScriptedSMTPServer]:
    """A running :class:`ScriptedSMTPServer` (accepts everything until a test scripts it)."""
    from prestacop_devkit.broker import free_port

    server = ScriptedSMTPServer(free_port(), tmp_path / "scripted-mail")
    server.start()
    yield server
    server.hold_reply.clear()
    server.stop()


def produce_on_one_partition(
    settings: KafkaSettings, values: list[bytes], key: str = "drone-x"
) -> None:
    """Produce raw alert values under one key: one partition, in this order."""
    produce(settings, settings.topic(topics.DRONE_ALERTS), [(key, value) for value in values])


def dead_letters(settings: KafkaSettings, expected: int, idle_s: float = 5.0) -> list[DeadLetter]:
    """Every dead letter on the alerts DLQ (waits ``idle_s`` after ``expected`` for extras)."""
    records = consume_all(
        settings,
        settings.topic(topics.DRONE_ALERTS_DLQ),
        expected=expected,
        timeout_s=60 if expected else 10,
        idle_s=idle_s,
    )
    return [decode(DeadLetter, record.value) for record in records]


def stored_alert(mailer: MailerProcess, alert_id: str) -> dict[str, Any]:
    """The operator API's view of one alert (with the operator token)."""
    response = httpx.get(f"{mailer.url}/alerts/{alert_id}", headers=AUTH, timeout=5)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def metric(mailer: MailerProcess, name: str) -> float:
    """One sample of ``/metrics`` (0 when the series is absent)."""
    for line in httpx.get(f"{mailer.url}/metrics", timeout=5).text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return 0.0


MailerFactory = Callable[..., MailerProcess]


@pytest.fixture
def mailer_factory(
    kafka_settings: KafkaSettings,
    unique_name: Callable[[str], str],
    tmp_path: Path,
    free_tcp_port: int,
) -> Iterator[MailerFactory]:
    """Build (not start) mailer processes on the test's topics; all are killed after the test.

    Creates the mailer's topics (3 partitions for the alerts, as drones are keyed by id).
    """
    create_topics(kafka_settings, [topics.DRONE_ALERTS], partitions=3)
    create_topics(kafka_settings, MAILER_TOPICS[1:])
    processes: list[MailerProcess] = []

    def factory(smtp: RecordingSMTPServer, **extra: str) -> MailerProcess:
        env = mailer_env(
            kafka_settings,
            smtp,
            state_dir=tmp_path / "mailer-state",
            port=free_tcp_port,
            group_id=unique_name("alert-mailer"),
            **extra,
        )
        process = MailerProcess(env=env, log_path=tmp_path / "mailer.log", port=free_tcp_port)
        processes.append(process)
        return process

    yield factory
    for process in processes:
        process.close()

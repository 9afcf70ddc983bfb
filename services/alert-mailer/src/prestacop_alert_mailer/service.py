"""Wires the mailer together: state, SMTP sender, consumer thread, resolution publisher, API.

The consumer loop runs in its own thread (with its own asyncio loop for aiosmtplib), started and
stopped by the API's lifespan: on SIGTERM/SIGINT uvicorn stops taking requests, then the lifespan
asks the consumer to stop. The consumer finishes an SMTP attempt under way (bounded by
``MAILER_SMTP_TIMEOUT_S``) and records and commits it, or abandons a send still waiting for a
retry (redelivered on restart), then closes the Kafka consumer.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import FrameType

import uvicorn
from fastapi import FastAPI

from prestacop_alert_mailer.api import create_app
from prestacop_alert_mailer.config import MailerSettings
from prestacop_alert_mailer.console import ConsoleSessions
from prestacop_alert_mailer.consumer import AlertConsumer
from prestacop_alert_mailer.health import Health
from prestacop_alert_mailer.live import LiveFeed
from prestacop_alert_mailer.metrics import MailerMetrics
from prestacop_alert_mailer.publisher import ResolutionPublisher
from prestacop_alert_mailer.resolve import Resolver
from prestacop_alert_mailer.sender import SMTP_COMPONENT, SmtpSender
from prestacop_alert_mailer.store import AlertStore
from prestacop_shared.kafka import KafkaSettings

logger = logging.getLogger(__name__)

CONSUMER_COMPONENT = "consumer"
_STOP_GRACE_S = 5.0


class MailerService:
    """The whole process: :meth:`run` serves the API and consumes until stopped."""

    def __init__(self, settings: MailerSettings, kafka: KafkaSettings) -> None:
        self.settings = settings
        self.kafka = kafka
        self.store = AlertStore.open(settings.state_db)
        self.metrics = MailerMetrics(
            open_alerts=self.store.count_open,
            pending_dead_letters=self.store.count_pending_dead_letters,
        )
        self.health = Health(on_change=self._show_health)
        for component in (SMTP_COMPONENT, CONSUMER_COMPONENT):
            self._show_health(component, False)
        self._stop = threading.Event()
        self.live = LiveFeed()
        self.publisher = ResolutionPublisher(kafka, f"{settings.group_id}-resolutions")
        self.consumer = AlertConsumer(
            settings,
            kafka,
            self.store,
            SmtpSender(settings, self.health, self.metrics, self._stop),
            self.metrics,
            self._stop,
            on_new_alert=self.live.announce,
        )
        self.fatal_error: BaseException | None = None
        self._on_fatal: Callable[[], None] = lambda: None
        self._thread: threading.Thread | None = None
        self.app = create_app(
            store=self.store,
            resolver=Resolver(self.store, self.publisher, on_resolved=self.live.announce),
            health=self.health,
            metrics=self.metrics,
            operator_token=settings.operator_token_value(),
            read_token=settings.read_token_value(),
            feed=self.live,
            console_sessions=ConsoleSessions(settings.console_session_s),
            secure_cookie=settings.console_base_url.startswith("https://"),
            lifespan=self._lifespan,
        )

    @asynccontextmanager
    async def _lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        self._start_consumer()
        try:
            yield
        finally:
            self._stop_consumer()

    def _show_health(self, component: str, degraded: bool) -> None:
        self.metrics.component_degraded.labels(component=component).set(1 if degraded else 0)

    def _start_consumer(self) -> None:
        self._thread = threading.Thread(
            target=self.consumer.run, args=(self._consumer_died,), name="alert-consumer"
        )
        self._thread.start()

    def _consumer_died(self, error: BaseException) -> None:
        self.fatal_error = error
        self.health.degrade(
            CONSUMER_COMPONENT, f"consumer stopped: {type(error).__name__}: {error}"
        )
        self._on_fatal()

    def _stop_consumer(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.settings.smtp_timeout_s + _STOP_GRACE_S)
            if self._thread.is_alive():
                logger.error("alert consumer did not stop in time")
        self.publisher.close()
        self.store.close()
        logger.info("alert mailer stopped")

    def run(self) -> None:
        """Serve the API and consume alerts until SIGTERM/SIGINT or a fatal consumer error.

        Raises:
            SystemExit: with status 1 when the consumer died on an error.
        """
        config = uvicorn.Config(
            self.app,
            host=self.settings.http_host,
            port=self.settings.http_port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
        server = _Server(config, self.live)

        def request_exit() -> None:
            self.live.close()
            server.should_exit = True

        self._on_fatal = request_exit
        # uvicorn re-raises the signal that stopped it once it has shut down (lifespan included);
        # these handlers turn that into a plain exit instead of a death by signal.
        signal.signal(signal.SIGTERM, _exit_after_shutdown)
        signal.signal(signal.SIGINT, _exit_after_shutdown)
        server.run()
        if self.fatal_error is not None:
            raise SystemExit(1)


class _Server(uvicorn.Server):
    """uvicorn, ending the console's event streams as soon as a stop is asked for.

    uvicorn waits for open responses before it shuts down, and an event stream never ends on
    its own.
    """

    def __init__(self, config: uvicorn.Config, live: LiveFeed) -> None:
        super().__init__(config)
        self._live = live

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._live.close()
        super().handle_exit(sig, frame)


def _exit_after_shutdown(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0 if signum == signal.SIGTERM else 128 + signum)

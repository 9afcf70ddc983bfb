"""Prometheus metrics and a tiny HTTP server for ``/healthz`` and ``/metrics``.

``/healthz`` answers 200 while the simulation loop keeps turning, 503 once it has been stuck for
longer than ``stale_after_s`` (a liveness probe, not a broker check: Kafka outages show up as
delivery errors in ``/metrics``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, make_wsgi_app

from prestacop_drone.exceptions import HealthServerError

logger = logging.getLogger(__name__)

EVENT_KINDS = ("status", "violation", "alert")

StartResponse = Callable[..., Any]
WsgiEnviron = dict[str, Any]


class DroneMetrics:
    """The service's Prometheus metrics, in a registry of their own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.messages_sent = Counter(
            "prestacop_drone_messages_sent",
            "Events acknowledged by the broker, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.delivery_errors = Counter(
            "prestacop_drone_delivery_errors",
            "Events the broker refused or never acknowledged, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.queue_full = Counter(
            "prestacop_drone_producer_queue_full",
            "Times the producer's local queue was full and the loop waited for the broker",
            registry=self.registry,
        )
        self.drones_active = Gauge(
            "prestacop_drone_drones_active",
            "Drones simulated by this process",
            registry=self.registry,
        )
        self.drones_by_state = Gauge(
            "prestacop_drone_drones",
            "Drones in each state (patrolling, returning, charging)",
            ["state"],
            registry=self.registry,
        )
        self._sent_by_kind = {kind: self.messages_sent.labels(kind) for kind in EVENT_KINDS}
        for kind in EVENT_KINDS:
            self.delivery_errors.labels(kind)
        self.last_tick_monotonic = time.monotonic()

    def record_sent(self, kind: str) -> None:
        """One event of ``kind`` was acknowledged."""
        child = self._sent_by_kind.get(kind)
        (child or self.messages_sent.labels(kind)).inc()

    def record_delivery_error(self, kind: str) -> None:
        """One event of ``kind`` was not delivered."""
        self.delivery_errors.labels(kind).inc()

    def record_states(self, counts: dict[str, int]) -> None:
        """Publish how many drones are in each state."""
        for state, count in counts.items():
            self.drones_by_state.labels(state).set(count)

    def tick(self) -> None:
        """The simulation loop is alive."""
        self.last_tick_monotonic = time.monotonic()


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("http request", extra={"request": format % args})


class HealthServer:
    """Serve ``/healthz`` (JSON) and ``/metrics`` (Prometheus text) from a daemon thread."""

    def __init__(
        self, metrics: DroneMetrics, host: str, port: int, *, stale_after_s: float = 10.0
    ) -> None:
        self._metrics = metrics
        self._stale_after_s = stale_after_s
        self._metrics_app = make_wsgi_app(metrics.registry)
        try:
            self._server = make_server(
                host, port, self._app, _ThreadingWSGIServer, handler_class=_QuietHandler
            )
        except OSError as error:
            raise HealthServerError(
                f"cannot serve /healthz and /metrics on {host}:{port} (DRONE_HTTP_PORT): {error}"
            ) from error
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="drone-http", daemon=True
        )

    @property
    def port(self) -> int:
        """The port actually bound."""
        return int(self._server.server_address[1])

    def start(self) -> None:
        """Start answering requests."""
        self._thread.start()
        logger.info("http server listening", extra={"port": self.port})

    def stop(self) -> None:
        """Stop answering and free the port."""
        self._server.shutdown()
        self._server.server_close()

    def _app(self, environ: WsgiEnviron, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/healthz":
            age_s = time.monotonic() - self._metrics.last_tick_monotonic
            healthy = age_s <= self._stale_after_s
            body = json.dumps(
                {"status": "ok" if healthy else "stuck", "last_tick_age_s": round(age_s, 3)}
            ).encode()
            start_response(
                "200 OK" if healthy else "503 Service Unavailable",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        if path == "/metrics":
            result: Iterable[bytes] = self._metrics_app(environ, start_response)
            return result
        body = b"not found: try /healthz or /metrics\n"
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [body]

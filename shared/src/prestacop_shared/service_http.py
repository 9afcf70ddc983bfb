"""Every service's ``/healthz`` and ``/metrics``, from one small server (``prestacop-shared[http]``).

A service hands :class:`ServiceHttp` its Prometheus registry and a health function; the
server answers from a daemon thread:

* ``GET /healthz``: the health function's ``(healthy, body)`` as JSON, 200 or 503;
* ``GET /metrics``: the registry in Prometheus' text format.

For services whose health is "work moves" (csv-ingestor, stream-storage), :class:`WorkProgress` is
the health function: it records when the last unit of work was committed (a Kafka transaction,
a Spark micro-batch) and whether there is work at all, and says ``{"status": "up"}`` (200)
while work moves or there is none, ``{"status": "stalled"}`` (503) once work waits and nothing
was committed for ``stalled_after_s``, and ``{"status": "degraded"}`` (503) while the service
reports a problem it works around. The body never holds internals (errors, paths, offsets): those are in
the logs and ``/metrics``.

Each service names its own port setting (``STORAGE_HTTP_PORT``, ``INGESTOR_HTTP_PORT``,
``DRONE_HTTP_PORT``); 0 turns the server off (:func:`serve` returns ``None``).
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
from pydantic import Field
from pydantic_settings import BaseSettings

from prestacop_shared.exceptions import PrestacopError

logger = logging.getLogger(__name__)

HealthBody = dict[str, Any]
HealthCheck = Callable[[], tuple[bool, HealthBody]]
"""Returns whether the service is healthy and the JSON body ``/healthz`` answers with."""

_StartResponse = Callable[..., Any]


class HttpSettings(BaseSettings):
    """The HTTP server's settings, for a service's Settings to inherit (under its own prefix).

    Example: stream-storage's ``Settings(HttpSettings)`` with ``env_prefix="STORAGE_"`` reads
    ``STORAGE_HTTP_PORT`` and ``STORAGE_HTTP_HOST``.
    """

    http_port: int = Field(default=0, ge=0, le=65535, description="/healthz, /metrics; 0 = off")
    http_host: str = Field(
        default="0.0.0.0",  # noqa: S104 - containers must expose /metrics to the scraper
        description="Address the HTTP server binds (<PREFIX>HTTP_HOST)",
    )


class HttpServerError(PrestacopError):
    """The HTTP server could not listen (port taken, bad host); the message names the setting."""


class WorkProgress:
    """When a service last moved work forward, as ``/healthz`` and ``/metrics`` see it.

    The service's work loop reports :meth:`committed` (a unit of work is durable),
    :meth:`heartbeat` (alive and caught up, nothing to commit), :meth:`working` (work to do
    has started) and :meth:`waiting` (no work to do: an idle service is not stalled). It is
    stalled when it has work and nothing was committed or heard for ``stalled_after_s``. A new
    :class:`WorkProgress` is working, so a service stuck at start-up turns stalled too.

    Thread-safe: the work loop reports, the HTTP thread reads :meth:`health`.

    Example:
        >>> progress = WorkProgress("doc", stalled_after_s=60, registry=CollectorRegistry())
        >>> progress.committed(rows=500)
        >>> progress.health()
        (True, {'status': 'up'})
        >>> progress.degraded("broker slow"); progress.health()
        (False, {'status': 'degraded'})
    """

    def __init__(
        self,
        service: str,
        *,
        stalled_after_s: float,
        registry: CollectorRegistry,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Track progress of ``service`` (names the metrics); metrics go to ``registry``."""
        if stalled_after_s <= 0:
            raise ValueError(f"stalled_after_s must be > 0, got {stalled_after_s}")
        self._clock = clock
        self._stalled_after_s = stalled_after_s
        self._lock = threading.Lock()
        self._last_progress = clock()
        self._busy = True
        self._problem: str | None = None
        self.commits = Counter(
            f"prestacop_{service}_commits",
            "Units of work committed (transactions, micro-batches)",
            registry=registry,
        )
        self.rows = Counter(
            f"prestacop_{service}_rows", "Rows in the committed units of work", registry=registry
        )
        self.last_commit = Gauge(
            f"prestacop_{service}_last_commit_timestamp_seconds",
            "Unix time of the last committed unit of work (0 before the first)",
            registry=registry,
        )
        stalled = Gauge(
            f"prestacop_{service}_stalled",
            "1 when work waits and nothing moved for longer than expected, else 0",
            registry=registry,
        )
        stalled.set_function(lambda: 1.0 if self._stalled() else 0.0)

    def committed(self, rows: int = 0) -> None:
        """A unit of work holding ``rows`` rows was committed."""
        self.heartbeat()
        self.commits.inc()
        self.rows.inc(rows)
        self.last_commit.set_to_current_time()

    def heartbeat(self) -> None:
        """The work loop turned without anything to commit (e.g. no new data): not stuck."""
        with self._lock:
            self._last_progress = self._clock()

    def working(self) -> None:
        """Work has started; from now on, no commit for ``stalled_after_s`` is a stall."""
        with self._lock:
            if not self._busy:
                self._busy, self._last_progress = True, self._clock()

    def waiting(self) -> None:
        """Nothing to do until new input arrives: never stalled while waiting."""
        with self._lock:
            self._busy = False

    def degraded(self, problem: str) -> None:
        """The service works around ``problem`` (logged once per change, never served)."""
        with self._lock:
            changed, self._problem = self._problem != problem, problem
        if changed:
            logger.warning("service degraded", extra={"problem": problem})

    def recovered(self) -> None:
        """The problem reported by :meth:`degraded` is gone."""
        with self._lock:
            changed, self._problem = self._problem is not None, None
        if changed:
            logger.info("service recovered")

    def _stalled(self) -> bool:
        with self._lock:
            return self._busy and self._clock() - self._last_progress > self._stalled_after_s

    def health(self) -> tuple[bool, HealthBody]:
        """``/healthz``'s answer: up, stalled (work waits, nothing moves) or degraded."""
        if self._stalled():
            return False, {"status": "stalled"}
        with self._lock:
            problem = self._problem
        if problem is not None:
            return False, {"status": "degraded"}
        return True, {"status": "up"}


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("http request", extra={"request": format % args})


class ServiceHttp:
    """Serve ``/healthz`` (JSON from ``health``) and ``/metrics`` (``registry``) from a thread."""

    def __init__(
        self,
        registry: CollectorRegistry,
        health: HealthCheck,
        *,
        host: str,
        port: int,
        port_setting: str,
    ) -> None:
        """Bind ``host:port`` (0 picks a free port); ``port_setting`` names it in errors.

        Raises:
            HttpServerError: the address cannot be bound.
        """
        self._health = health
        self._metrics_app = make_wsgi_app(registry)
        try:
            self._server = make_server(
                host, port, self._app, _ThreadingWSGIServer, handler_class=_QuietHandler
            )
        except OSError as error:
            raise HttpServerError(
                f"cannot serve /healthz and /metrics on {host}:{port} ({port_setting}): {error}"
            ) from error
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="service-http", daemon=True
        )

    @property
    def port(self) -> int:
        """The port actually bound."""
        return int(self._server.server_address[1])

    def start(self) -> ServiceHttp:
        """Start answering requests; returns ``self``."""
        self._thread.start()
        logger.info("http server listening", extra={"port": self.port})
        return self

    def stop(self) -> None:
        """Stop answering and free the port."""
        self._server.shutdown()
        self._server.server_close()

    def _app(self, environ: dict[str, Any], start_response: _StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/healthz":
            healthy, body = self._health()
            payload = json.dumps(body).encode()
            start_response(
                "200 OK" if healthy else "503 Service Unavailable",
                [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
            )
            return [payload]
        if path == "/metrics":
            result: Iterable[bytes] = self._metrics_app(environ, start_response)
            return result
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: try /healthz or /metrics\n"]


def serve(
    registry: CollectorRegistry,
    health: HealthCheck,
    *,
    host: str,
    port: int,
    port_setting: str,
) -> ServiceHttp | None:
    """Start a :class:`ServiceHttp` on ``host:port``, or nothing when ``port`` is 0 (off).

    Raises:
        HttpServerError: the address cannot be bound (the message names ``port_setting``).
    """
    if port == 0:
        return None
    return ServiceHttp(registry, health, host=host, port=port, port_setting=port_setting).start()

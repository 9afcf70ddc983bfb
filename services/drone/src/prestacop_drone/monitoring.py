"""Prometheus metrics and a tiny HTTP server for ``/healthz`` and ``/metrics``.

``/healthz`` answers 200 while the simulation loop keeps turning, 503 once it has been stuck for
longer than ``stale_after_s`` (a liveness probe, not a broker check: Kafka outages show up as
delivery errors in ``/metrics``).
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from prestacop_drone.exceptions import HealthServerError
from prestacop_shared.service_http import HttpServerError, ServiceHttp

EVENT_KINDS = ("status", "violation", "alert")


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


class HealthServer:
    """Serve ``/healthz`` (JSON) and ``/metrics`` (Prometheus text) from a daemon thread.

    The server is the shared :class:`~prestacop_shared.service_http.ServiceHttp`; the drone's
    own part is its health rule, a liveness probe on the simulation loop.
    """

    def __init__(
        self, metrics: DroneMetrics, host: str, port: int, *, stale_after_s: float = 10.0
    ) -> None:
        self._metrics = metrics
        self._stale_after_s = stale_after_s
        try:
            self._server = ServiceHttp(
                metrics.registry, self._health, host=host, port=port, port_setting="DRONE_HTTP_PORT"
            )
        except HttpServerError as error:
            raise HealthServerError(str(error)) from error

    @property
    def port(self) -> int:
        """The port actually bound."""
        return self._server.port

    def start(self) -> None:
        """Start answering requests."""
        self._server.start()

    def stop(self) -> None:
        """Stop answering and free the port."""
        self._server.stop()

    def _health(self) -> tuple[bool, dict[str, Any]]:
        age_s = time.monotonic() - self._metrics.last_tick_monotonic
        healthy = age_s <= self._stale_after_s
        return healthy, {"status": "ok" if healthy else "stuck", "last_tick_age_s": round(age_s, 3)}

"""The simulation loop: one thread drives every drone, the producer and the stop conditions."""

from __future__ import annotations

import logging
import signal
import time
from dataclasses import dataclass
from types import FrameType
from typing import Any

from confluent_kafka import Producer

from prestacop_drone.config import DroneSettings
from prestacop_drone.fleet import Fleet, FleetBehaviour, launch_drones
from prestacop_drone.flight import BatteryModel
from prestacop_drone.monitoring import EVENT_KINDS, DroneMetrics, HealthServer
from prestacop_drone.publisher import EventPublisher, ProducerFactory
from prestacop_shared.events import DroneState
from prestacop_shared.kafka import KafkaSettings

logger = logging.getLogger(__name__)

MAX_IDLE_WAIT_S = 0.1
"""Longest the loop sleeps (in ``poll``) before it looks at the stop flag again."""
MIN_TICK_S = 0.01
"""Shortest sleep between batches: reports are at most this late, and thousands of drones due
within the same few milliseconds go out in one batch instead of one wake-up each (librdkafka's
``poll`` rounds sub-millisecond timeouts to zero, which would spin the CPU)."""
STATE_GAUGE_PERIOD_S = 1.0


@dataclass
class RunSummary:
    """What a run did; printed as one JSON line at the end."""

    drones: int
    stopped_by: str
    elapsed_s: float
    produced: dict[str, int]
    sent: dict[str, int]
    failed: dict[str, int]
    in_flight_at_exit: int
    """Events still unacknowledged when the flush ended (then purged, and counted in failed)."""
    first_drone_id: str
    last_drone_id: str
    http_port: int | None = None

    @property
    def ok(self) -> bool:
        """Every event produced was acknowledged."""
        return not any(self.failed.values()) and self.in_flight_at_exit == 0

    def as_dict(self) -> dict[str, Any]:
        """The summary as plain JSON-ready data."""
        return {
            "service": "prestacop-drone",
            "ok": self.ok,
            "drones": self.drones,
            "stopped_by": self.stopped_by,
            "elapsed_s": round(self.elapsed_s, 3),
            "produced": self.produced,
            "sent": self.sent,
            "failed": self.failed,
            "sent_total": sum(self.sent.values()),
            "undelivered_total": sum(self.failed.values()),
            "in_flight_at_exit": self.in_flight_at_exit,
            "drone_ids": {"first": self.first_drone_id, "last": self.last_drone_id},
            "http_port": self.http_port,
        }


class StopFlag:
    """Set by SIGTERM/SIGINT; the loop checks it between batches."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def set(self, reason: str) -> None:
        """Ask the loop to stop."""
        if self.reason is None:
            self.reason = reason

    def install_signal_handlers(self) -> None:
        """Turn SIGTERM and SIGINT into a clean stop (bounded flush, summary)."""

        def handle(signum: int, _frame: FrameType | None) -> None:
            name = signal.Signals(signum).name
            logger.info("stop requested", extra={"signal": name})
            self.set(name)

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)


def run(
    settings: DroneSettings,
    kafka: KafkaSettings,
    *,
    stop: StopFlag | None = None,
    producer_factory: ProducerFactory | None = None,
) -> RunSummary:
    """Simulate the drones until ``duration_s``, ``max_messages`` or a stop signal; then flush.

    Delivery guarantee: see :class:`prestacop_drone.publisher.EventPublisher` (idempotent,
    ``acks=all``). The end of the duration or message budget waits up to ``flush_timeout_s``
    for every acknowledgement; a stop signal stops producing at once, even while the broker is
    away and the queue is full, and waits up to ``shutdown_flush_s``. Whatever is still
    unacknowledged then is counted in the summary's ``failed`` and ``undelivered_total``.
    """
    stop = stop or StopFlag()
    ids = settings.drone_ids()
    behaviour = FleetBehaviour(
        interval_s=settings.interval_s,
        violation_probability=settings.violation_probability,
        alert_probability=settings.alert_probability,
        battery=BatteryModel(
            drain_pct_per_s=settings.battery_drain_pct_per_s,
            charge_pct_per_s=settings.battery_charge_pct_per_s,
        ),
    )
    fleet = Fleet(launch_drones(ids, settings.seed), behaviour, seed=settings.seed)
    metrics = DroneMetrics()
    metrics.drones_active.set(len(ids))
    server = None
    if settings.http_port:
        server = HealthServer(
            metrics,
            settings.http_host,
            settings.http_port,
            stale_after_s=max(10.0, 3 * settings.interval_s),
        )
        server.start()
    publisher = EventPublisher(
        kafka,
        metrics,
        producer_factory=producer_factory or Producer,
        stopping=lambda: stop.reason is not None,
        queue_max_messages=settings.queue_max_messages,
    )
    logger.info(
        "drones taking off",
        extra={
            "drones": len(ids),
            "first_drone_id": ids[0],
            "interval_s": settings.interval_s,
            "bootstrap_servers": kafka.bootstrap_servers,
            "seed": settings.seed,
        },
    )
    started = time.monotonic()
    try:
        stopped_by = _loop(settings, fleet, publisher, metrics, stop, started)
        elapsed_s = time.monotonic() - started
        flush_s = settings.flush_timeout_s if stop.reason is None else settings.shutdown_flush_s
        logger.info(
            "flushing",
            extra={
                "stopped_by": stopped_by,
                "in_flight": publisher.in_flight(),
                "flush_timeout_s": flush_s,
            },
        )
        in_flight = publisher.flush(flush_s)
    finally:
        if server is not None:
            server.stop()
    return RunSummary(
        drones=len(ids),
        stopped_by=stopped_by,
        elapsed_s=elapsed_s,
        produced={kind: publisher.produced[kind] for kind in EVENT_KINDS},
        sent={kind: publisher.sent[kind] for kind in EVENT_KINDS},
        failed=dict(publisher.failed),
        in_flight_at_exit=in_flight,
        first_drone_id=ids[0],
        last_drone_id=ids[-1],
        http_port=server.port if server else None,
    )


def _loop(
    settings: DroneSettings,
    fleet: Fleet,
    publisher: EventPublisher,
    metrics: DroneMetrics,
    stop: StopFlag,
    started: float,
) -> str:
    """Run until a stop condition; return which one."""
    max_messages = settings.max_messages
    duration_s = settings.duration_s
    produced_total = 0
    next_gauge_s = 0.0
    while stop.reason is None:
        elapsed_s = time.monotonic() - started
        if duration_s is not None and elapsed_s >= duration_s:
            return "duration"
        for event in fleet.due(elapsed_s):
            publisher.publish(event)
            if stop.reason is not None:
                return stop.reason
            produced_total += 1
            if max_messages is not None and produced_total >= max_messages:
                return "max_messages"
        metrics.tick()
        if elapsed_s >= next_gauge_s:
            counts = fleet.state_counts()
            metrics.record_states({state.value: counts[state] for state in DroneState})
            next_gauge_s = elapsed_s + STATE_GAUGE_PERIOD_S
        wait_s = fleet.next_due_s - (time.monotonic() - started)
        if duration_s is not None:
            wait_s = min(wait_s, duration_s - (time.monotonic() - started))
        publisher.poll(min(max(wait_s, MIN_TICK_S), MAX_IDLE_WAIT_S))
    return stop.reason

"""Stream-storage's Prometheus metrics and progress, in a registry of their own per run.

``/healthz`` and ``/metrics`` are served by :mod:`prestacop_shared.service_http` on
``STORAGE_HTTP_PORT``. Progress is a committed micro-batch of any query
(``prestacop_storage_commits_total``) or a trigger that found no new data.
``prestacop_storage_rows_total`` counts the Kafka records read by committed batches, stored or
quarantined (each record once: one query per dataset).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge

from prestacop_shared.service_http import WorkProgress


class StorageMetrics:
    """Progress of the queries and the backlog found at start."""

    def __init__(self, *, stalled_after_s: float) -> None:
        """New metrics in a fresh registry; stalled after ``stalled_after_s`` without progress."""
        self.registry = CollectorRegistry()
        self.progress = WorkProgress(
            "storage", stalled_after_s=stalled_after_s, registry=self.registry
        )
        self.backlog_offsets = Gauge(
            "prestacop_storage_backlog_offsets",
            "Kafka offsets a query had still to read when stream-storage started",
            ["query", "topic"],
            registry=self.registry,
        )
        self.expired_offsets = Gauge(
            "prestacop_storage_expired_offsets",
            "Kafka offsets deleted by retention before a query stored them (seen at start)",
            ["query", "topic"],
            registry=self.registry,
        )

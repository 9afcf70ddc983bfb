"""Prometheus metrics of the mailer, on a registry of its own (served at ``/metrics``)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


class MailerMetrics:
    """Counters and histograms the consumer and the API update."""

    def __init__(self, open_alerts: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        self.emails_sent = Counter(
            "alert_mailer_emails_sent",
            "Alert emails accepted by the SMTP server",
            registry=self.registry,
        )
        self.send_failures = Counter(
            "alert_mailer_send_failures",
            "SMTP attempts that failed (each is retried)",
            registry=self.registry,
        )
        self.duplicates_skipped = Counter(
            "alert_mailer_duplicates_skipped",
            "Alerts received again whose email had already been sent",
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "alert_mailer_dead_letters",
            "Malformed alert messages routed to the dead-letter topic",
            registry=self.registry,
        )
        self.resolutions = Counter(
            "alert_mailer_resolutions",
            "Alerts resolved by an operator",
            registry=self.registry,
        )
        self.open_alerts = Gauge(
            "alert_mailer_open_alerts", "Alerts awaiting an operator", registry=self.registry
        )
        self.open_alerts.set_function(open_alerts)
        self.alert_to_email_s = Histogram(
            "alert_mailer_alert_to_email_seconds",
            "From the alert's emitted_at to the SMTP server accepting its email",
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )

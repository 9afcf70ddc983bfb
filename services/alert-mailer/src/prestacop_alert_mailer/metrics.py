"""Prometheus metrics of the mailer, on a registry of its own (served at ``/metrics``)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


class MailerMetrics:
    """Counters and histograms the consumer and the API update."""

    def __init__(
        self,
        open_alerts: Callable[[], float],
        pending_dead_letters: Callable[[], float] = lambda: 0.0,
    ) -> None:
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
            "Alerts routed to the dead-letter topic (malformed, or their email refused)",
            registry=self.registry,
        )
        self.pending_dead_letters = Gauge(
            "alert_mailer_dead_letters_pending",
            "Dead letters kept in the state until the broker confirms them",
            registry=self.registry,
        )
        self.pending_dead_letters.set_function(pending_dead_letters)
        self.permanent_failures = Counter(
            "alert_mailer_permanent_failures",
            "Alert emails given up on (5xx, or in doubt too often) and dead-lettered",
            registry=self.registry,
        )
        self.recipients_refused = Counter(
            "alert_mailer_recipients_refused",
            "Recipients the SMTP server refused in emails it accepted for the others",
            registry=self.registry,
        )
        self.sends_in_doubt = Counter(
            "alert_mailer_sends_in_doubt",
            "Sends with no reply to the end of DATA (the server may have the email; the next "
            "copy is marked as a possible duplicate)",
            registry=self.registry,
        )
        self.in_doubt_window_s = Histogram(
            "alert_mailer_in_doubt_window_seconds",
            "From the durable 'DATA started' record to the durable 'accepted' record: a crash "
            "in this window resends the email, marked as a possible duplicate",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60),
            registry=self.registry,
        )
        self.component_degraded = Gauge(
            "alert_mailer_component_degraded",
            "1 while a component (smtp, consumer) fails; the reason is in the logs",
            ["component"],
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

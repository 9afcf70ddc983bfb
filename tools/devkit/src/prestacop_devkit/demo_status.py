"""What ``make demo``'s live view shows: each service's figures, read from its own endpoints.

Every number comes from a service's ``/metrics`` (Prometheus text) or ``/healthz``, the same
endpoints a scraper or a compose healthcheck reads, never from its logs:

=================  ==========================================  ============================
service            figures                                     metrics
=================  ==========================================  ============================
drones             messages sent by kind                       ``prestacop_drone_messages_sent_total``
alert-mailer       emails delivered, open alerts, resolutions  ``alert_mailer_emails_sent_total``, …
csv-ingestor       rows ingested of the inbox's rows, rows/s   ``prestacop_csv_ingestor_rows_total``
stream-storage     rows stored, lag                            ``prestacop_storage_rows_total``, …
analytics          up or not                                   ``/healthz``
=================  ==========================================  ============================

Storage lag is given two ways: seconds since stream-storage last committed a micro-batch that
held rows, and rows sent to Kafka (drones, ingestor, operator resolutions, the injected malformed
messages) not yet stored — an estimate, since a batch in flight has read rows it has not yet
counted.
"""

from __future__ import annotations

import math
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

_SAMPLE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)"
)
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
"""Prometheus samples: ``(metric name, labels)`` → value."""

RATE_WINDOW_S = 5.0
"""rows/s is the ingestor's rate over about this many seconds of scrapes."""


def parse_metrics(text: str) -> Samples:
    """The samples of a Prometheus text exposition (comments and bad lines skipped).

    Example:
        >>> samples = parse_metrics('# HELP x\\nx_total{kind="a"} 3.0\\ny 1e3\\n')
        >>> samples[("x_total", frozenset({("kind", "a")}))], samples[("y", frozenset())]
        (3.0, 1000.0)
    """
    samples: Samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if match is None:
            continue
        try:
            value = float(match["value"])
        except ValueError:
            continue
        labels = frozenset(_LABEL.findall(match["labels"] or ""))
        samples[(match["name"], labels)] = value
    return samples


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels`` (0 when there are none)."""
    wanted = set(labels.items())
    return sum(value for (key, got), value in samples.items() if key == name and wanted <= got)


@dataclass(frozen=True)
class Endpoints:
    """Where each service answers (``http://127.0.0.1:<port>``)."""

    drones: str
    mailer: str
    ingestor: str
    storage: str
    dashboard: str


@dataclass(frozen=True)
class ServiceFigures:
    """One service's row: whether it answers, its health, and its figures by name.

    A service that answered before and no longer does (stopped at the end of the run) keeps its
    last figures, with ``reachable`` false and ``seen`` true.
    """

    name: str
    reachable: bool
    healthy: bool | None
    figures: Mapping[str, float] = field(default_factory=dict)
    seen: bool = False


@dataclass(frozen=True)
class DemoStatus:
    """One scrape of every service, with what the view derives from it."""

    at: float
    elapsed_s: float
    services: tuple[ServiceFigures, ...]
    rows_expected: int
    rows_per_s: float
    ingest_average_rows_per_s: float | None
    storage_lag_s: float | None
    rows_behind: int

    def service(self, name: str) -> ServiceFigures:
        """The row of service ``name``."""
        return next(s for s in self.services if s.name == name)

    def figure(self, service: str, name: str) -> float:
        """A figure of a service, 0 when it has not answered yet."""
        return self.service(service).figures.get(name, 0.0)


Fetch = Callable[[str], tuple[int, str] | None]
"""GET a URL: ``(status code, body)``, or ``None`` when nothing answers."""


def http_fetch(client: httpx.Client) -> Fetch:
    """A :data:`Fetch` through ``client``; connection errors and timeouts are ``None``."""

    def fetch(url: str) -> tuple[int, str] | None:
        try:
            answer = client.get(url)
        except httpx.HTTPError:
            return None
        return answer.status_code, answer.text

    return fetch


class StatusReader:
    """Scrapes every service and keeps the recent ingest counts for rows/s.

    Not thread-safe: one thread calls :meth:`read`.
    """

    def __init__(
        self,
        endpoints: Endpoints,
        fetch: Fetch,
        *,
        rows_expected: int,
        malformed_injected: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Scrape ``endpoints`` with ``fetch``; ``rows_expected`` is the inbox's data rows."""
        self._endpoints = endpoints
        self._fetch = fetch
        self._rows_expected = rows_expected
        self._malformed = malformed_injected
        self._clock = clock
        self._started = clock()
        self._ingested: deque[tuple[float, float]] = deque()
        self._last_samples: dict[str, Samples] = {}
        self._ingest_started: tuple[float, float] | None = None
        self._ingest_last: tuple[float, float] | None = None

    def _scrape(self, name: str, base: str, metrics: bool = True) -> tuple[ServiceFigures, Samples]:
        health = self._fetch(f"{base}/healthz")
        samples: Samples | None = None
        if metrics:
            answer = self._fetch(f"{base}/metrics")
            if answer is not None and answer[0] == 200:
                samples = parse_metrics(answer[1])
        reachable = health is not None or samples is not None
        if samples is not None:
            self._last_samples[name] = samples
        healthy = None if health is None else health[0] == 200
        seen = reachable or name in self._last_samples
        figures = ServiceFigures(name, reachable, healthy, seen=seen)
        return figures, self._last_samples.get(name, {})

    def read(self) -> DemoStatus:
        """Scrape every service once and derive the view's figures."""
        now = self._clock()
        drones, drone_samples = self._scrape("drones", self._endpoints.drones)
        mailer, mailer_samples = self._scrape("alert-mailer", self._endpoints.mailer)
        ingestor, ingestor_samples = self._scrape("csv-ingestor", self._endpoints.ingestor)
        storage, storage_samples = self._scrape("stream-storage", self._endpoints.storage)
        analytics, _ = self._scrape("analytics", self._endpoints.dashboard, metrics=False)

        sent = "prestacop_drone_messages_sent_total"
        drone_figures = {
            kind: total(drone_samples, sent, kind=kind) for kind in ("status", "violation", "alert")
        }
        mailer_figures = {
            "emails": total(mailer_samples, "alert_mailer_emails_sent_total"),
            "open": total(mailer_samples, "alert_mailer_open_alerts"),
            "resolved": total(mailer_samples, "alert_mailer_resolutions_total"),
        }
        rows = total(ingestor_samples, "prestacop_csv_ingestor_rows_total")
        stored = total(storage_samples, "prestacop_storage_rows_total")
        last_commit = total(storage_samples, "prestacop_storage_last_commit_timestamp_seconds")

        self._ingested.append((now, rows))
        while len(self._ingested) > 2 and now - self._ingested[1][0] >= RATE_WINDOW_S:
            self._ingested.popleft()
        (first_at, first_rows) = self._ingested[0]
        rate = (rows - first_rows) / (now - first_at) if now > first_at else 0.0
        if rows > 0 and self._ingest_started is None:
            self._ingest_started = self._ingested[-2] if len(self._ingested) > 1 else (now, 0.0)
        if self._ingest_last is None or rows > self._ingest_last[1]:
            self._ingest_last = (now, rows)

        produced = (
            sum(drone_figures.values()) + rows + 2 * mailer_figures["resolved"] + self._malformed
        )
        return DemoStatus(
            at=now,
            elapsed_s=now - self._started,
            services=(
                _with(drones, drone_figures),
                _with(mailer, mailer_figures),
                _with(ingestor, {"rows": rows}),
                _with(storage, {"rows": stored}),
                analytics,
            ),
            rows_expected=self._rows_expected,
            rows_per_s=max(rate, 0.0),
            ingest_average_rows_per_s=self._average_ingest_rate(),
            storage_lag_s=max(now - last_commit, 0.0) if last_commit > 0 else None,
            rows_behind=max(int(produced - stored), 0),
        )

    def _average_ingest_rate(self) -> float | None:
        """rows/s from the last scrape before the first row to the last new row, if any."""
        if self._ingest_started is None or self._ingest_last is None:
            return None
        (start_at, start_rows), (last_at, last_rows) = self._ingest_started, self._ingest_last
        return (last_rows - start_rows) / (last_at - start_at) if last_at > start_at else None


def _with(service: ServiceFigures, figures: Mapping[str, float]) -> ServiceFigures:
    return ServiceFigures(
        service.name, service.reachable, service.healthy, dict(figures), seen=service.seen
    )


def count_data_rows(paths: list[str]) -> int:
    """Data rows of CSV files: their line count minus the header (a last line without newline counts)."""
    rows = 0
    for path in paths:
        lines = 0
        last = b"\n"
        with open(path, "rb") as source:
            while block := source.read(1 << 20):
                lines += block.count(b"\n")
                last = block[-1:]
        rows += max(lines + (last != b"\n") - 1, 0)
    return rows


def fmt_count(value: float) -> str:
    """``12,345`` (no decimals)."""
    return f"{math.floor(value):,}"

"""Triggered report runs: one at a time, in a background thread, on a warm Spark session.

A triggered run is incremental: it counts only the files committed since the last run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from pyspark.sql import SparkSession

from prestacop_analytics.config import AnalyticsSettings
from prestacop_analytics.exceptions import RunInProgressError
from prestacop_analytics.report import ReportResult, run_report

log = logging.getLogger(__name__)


@dataclass
class RunState:
    """What the API tells about the current or last triggered run."""

    running: bool = False
    started_at: str | None = None
    finished_at: str | None = None
    last_run_id: str | None = None
    last_error: str | None = None
    runs: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return dict(self.__dict__)


@dataclass
class RunnerMetrics:
    """Prometheus metrics of report runs, in the app's own registry."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.runs = Counter(
            "prestacop_analytics_runs",
            "Report runs by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "prestacop_analytics_run_seconds",
            "Wall time of a report run",
            buckets=(5, 10, 20, 30, 60, 120, 300, 600, 1200),
            registry=self.registry,
        )
        self.running = Gauge(
            "prestacop_analytics_run_in_progress",
            "1 while a run is in progress",
            registry=self.registry,
        )
        self.reports = Gauge(
            "prestacop_analytics_reports",
            "Published reports in the reports folder",
            registry=self.registry,
        )


class ReportRunner:
    """Runs the report on demand; never two at once.

    The Spark session is created on first use (or handed in) and kept warm between runs.
    """

    def __init__(
        self,
        settings: AnalyticsSettings,
        session_factory: Callable[[], SparkSession],
        metrics: RunnerMetrics | None = None,
    ) -> None:
        self._settings = settings
        self._session_factory = session_factory
        self._session: SparkSession | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.state = RunState()
        self.metrics = metrics or RunnerMetrics()

    def session(self) -> SparkSession:
        """The warm session (started on first call)."""
        if self._session is None:
            self._session = self._session_factory()
        return self._session

    def start(self) -> str:
        """Start a run in a background thread; returns when it has started.

        Raises:
            RunInProgressError: a run is already in progress.
        """
        if not self._lock.acquire(blocking=False):
            raise RunInProgressError("a report run is already in progress")
        started_at = datetime.now(UTC).isoformat()
        self.state.running = True
        self.state.started_at = started_at
        self.state.finished_at = None
        self.state.last_error = None
        self.metrics.running.set(1)
        self._thread = threading.Thread(target=self._run, name="report-run", daemon=True)
        self._thread.start()
        return started_at

    def run_now(self, *, full: bool = False) -> ReportResult:
        """Run synchronously (the ``run`` command); ``full`` rebuilds from every committed file.

        Raises:
            RunInProgressError: a triggered run is in progress.
        """
        if not self._lock.acquire(blocking=False):
            raise RunInProgressError("a report run is already in progress")
        try:
            return run_report(self.session(), self._settings, full=full)
        finally:
            self._lock.release()

    def wait(self, timeout_s: float | None = None) -> None:
        """Wait for the background run, if any, to end."""
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        started = time.perf_counter()
        try:
            result = run_report(self.session(), self._settings)
            self.state.last_run_id = result.run_id
            self.metrics.runs.labels(outcome="ok").inc()
        except Exception as error:  # noqa: BLE001 - a failed run is reported, the API stays up
            log.exception("report run failed")
            self.state.last_error = f"{type(error).__name__}: {error}"[:2000]
            self.metrics.runs.labels(outcome="failed").inc()
        finally:
            self.metrics.duration.observe(time.perf_counter() - started)
            self.metrics.running.set(0)
            self.state.runs += 1
            self.state.running = False
            self.state.finished_at = datetime.now(UTC).isoformat()
            self._lock.release()

    def stop(self) -> None:
        """Stop the Spark session (after the current run, if any)."""
        self.wait()
        if self._session is not None:
            self._session.stop()
            self._session = None

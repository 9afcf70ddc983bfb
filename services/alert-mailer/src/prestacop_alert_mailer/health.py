"""What ``/healthz`` reports: the mailer is healthy while SMTP accepts mail and the consumer runs.

The details (which component, why) stay inside the process: logs and ``/metrics``; ``/healthz``
itself only says ok or degraded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from prestacop_shared.events import utc_now


@dataclass(frozen=True)
class Problem:
    """One reason the mailer is degraded, and since when."""

    component: str
    detail: str
    since: datetime


class Health:
    """Thread-safe record of the problems components report (and clear when they recover)."""

    def __init__(self, on_change: Callable[[str, bool], None] = lambda _c, _d: None) -> None:
        """``on_change(component, degraded)`` runs on every report (e.g. to set a gauge)."""
        self._lock = threading.Lock()
        self._problems: dict[str, Problem] = {}
        self._on_change = on_change

    def degrade(self, component: str, detail: str) -> None:
        """Report that ``component`` fails; keeps the first ``since`` while it keeps failing."""
        with self._lock:
            previous = self._problems.get(component)
            since = previous.since if previous else utc_now()
            self._problems[component] = Problem(component, detail, since)
        self._on_change(component, True)

    def recover(self, component: str) -> None:
        """Report that ``component`` works again."""
        with self._lock:
            self._problems.pop(component, None)
        self._on_change(component, False)

    def problems(self) -> list[Problem]:
        """The current problems, by component name."""
        with self._lock:
            return sorted(self._problems.values(), key=lambda problem: problem.component)

    @property
    def healthy(self) -> bool:
        """True when no component reports a problem."""
        with self._lock:
            return not self._problems

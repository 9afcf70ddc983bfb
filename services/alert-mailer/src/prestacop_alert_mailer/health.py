"""What ``/healthz`` reports: the mailer is healthy while SMTP accepts mail and the consumer runs."""

from __future__ import annotations

import threading
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

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._problems: dict[str, Problem] = {}

    def degrade(self, component: str, detail: str) -> None:
        """Report that ``component`` fails; keeps the first ``since`` while it keeps failing."""
        with self._lock:
            previous = self._problems.get(component)
            since = previous.since if previous else utc_now()
            self._problems[component] = Problem(component, detail, since)

    def recover(self, component: str) -> None:
        """Report that ``component`` works again."""
        with self._lock:
            self._problems.pop(component, None)

    def problems(self) -> list[Problem]:
        """The current problems, by component name."""
        with self._lock:
            return sorted(self._problems.values(), key=lambda problem: problem.component)

    @property
    def healthy(self) -> bool:
        """True when no component reports a problem."""
        with self._lock:
            return not self._problems

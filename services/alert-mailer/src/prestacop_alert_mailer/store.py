"""The mailer's durable state: alerts received, which were emailed, and their resolutions.

One SQLite file in ``MAILER_STATE_DIR``, WAL journal, ``synchronous=FULL``: every write is on disk
(fsync'd) when the call returns. The consumer writes alerts and "emailed" marks; the operator API
reads alerts and writes resolutions. One connection guarded by a lock serves both threads.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from prestacop_alert_mailer.exceptions import StateError
from prestacop_shared.events import Alert, AlertResolution, Violation, utc_now

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    alert_id    TEXT PRIMARY KEY,
    payload     TEXT NOT NULL,
    drone_id    TEXT NOT NULL,
    emitted_at  TEXT NOT NULL,
    received_at TEXT NOT NULL,
    source      TEXT NOT NULL,
    emailed_at  TEXT,
    message_id  TEXT
);
CREATE TABLE IF NOT EXISTS resolutions (
    alert_id     TEXT PRIMARY KEY REFERENCES alerts (alert_id),
    violation    TEXT NOT NULL,
    resolution   TEXT NOT NULL,
    published_at TEXT
);
"""

_SELECT_ALERTS = """
SELECT a.payload, a.received_at, a.source, a.emailed_at, a.message_id,
       r.violation, r.resolution, r.published_at
FROM alerts a LEFT JOIN resolutions r USING (alert_id)
WHERE (:alert_id IS NULL OR a.alert_id = :alert_id)
  AND (:resolved IS NULL OR (r.published_at IS NOT NULL) = :resolved)
ORDER BY a.emitted_at DESC
LIMIT :limit
"""


class AlertStatus(StrEnum):
    """Whether an operator has resolved an alert yet."""

    OPEN = "open"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class PendingResolution:
    """The events decided for an alert, kept before they are published so a retry reuses them."""

    violation: Violation
    resolution: AlertResolution
    published: bool


@dataclass(frozen=True)
class StoredAlert:
    """An alert as the mailer knows it."""

    alert: Alert
    received_at: datetime
    source: str
    emailed_at: datetime | None
    message_id: str | None
    resolution: PendingResolution | None

    @property
    def status(self) -> AlertStatus:
        """Resolved once its resolution has been published, open otherwise."""
        if self.resolution is not None and self.resolution.published:
            return AlertStatus.RESOLVED
        return AlertStatus.OPEN


class AlertStore:
    """Alerts, sent marks and resolutions in one SQLite file (thread-safe).

    Example:
        >>> store = AlertStore.open(tmp_path / "state.sqlite3")  # doctest: +SKIP
        >>> store.record_alert(alert, source="drone.alerts/0/12")  # doctest: +SKIP
        >>> store.mark_emailed(alert.alert_id, "<alert-...@prestacop>")  # doctest: +SKIP
    """

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path) -> AlertStore:
        """Open (creating if needed) the state file, in WAL mode with fsync on every commit.

        Raises:
            StateError: the folder or file cannot be created or opened.
        """
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("PRAGMA busy_timeout=5000")
            connection.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise StateError(f"cannot open the mailer state at {path}: {error}") from error
        logger.info("state opened", extra={"path": str(path)})
        return cls(connection)

    def close(self) -> None:
        """Close the database (writes are already durable)."""
        with self._lock:
            self._connection.close()

    @contextmanager
    def _write(self, *, fsync: bool = True) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                # WAL keeps commits in order: a later fsync'd commit makes earlier ones durable.
                mode = "FULL" if fsync else "NORMAL"
                self._connection.execute(f"PRAGMA synchronous={mode}")
                self._connection.execute("BEGIN IMMEDIATE")
                yield self._connection
                self._connection.execute("COMMIT")
            except sqlite3.Error as error:
                if self._connection.in_transaction:
                    self._connection.execute("ROLLBACK")
                raise StateError(f"cannot write the mailer state: {error}") from error

    def record_alert(self, alert: Alert, *, source: str) -> bool:
        """Remember an alert (the first copy wins); return whether it was new.

        Not fsync'd on its own: if it is lost in a crash, so is the offset commit, and the alert
        is redelivered and recorded again; the "emailed" mark that follows is fsync'd and makes
        this write durable too.
        """
        with self._write(fsync=False) as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO alerts (alert_id, payload, drone_id, emitted_at, "
                "received_at, source) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    alert.alert_id,
                    alert.model_dump_json(),
                    alert.drone_id,
                    alert.emitted_at.isoformat(timespec="microseconds"),
                    utc_now().isoformat(timespec="microseconds"),
                    source,
                ),
            )
            return cursor.rowcount == 1

    def was_emailed(self, alert_id: str) -> bool:
        """Whether an SMTP server has already accepted the email for this alert."""
        with self._lock:
            row = self._connection.execute(
                "SELECT emailed_at FROM alerts WHERE alert_id = ?", (alert_id,)
            ).fetchone()
        return row is not None and row[0] is not None

    def mark_emailed(self, alert_id: str, message_id: str) -> None:
        """Record, durably (fsync'd before returning), that the alert's email was accepted."""
        with self._write() as db:
            db.execute(
                "UPDATE alerts SET emailed_at = ?, message_id = ? WHERE alert_id = ?",
                (utc_now().isoformat(timespec="microseconds"), message_id, alert_id),
            )

    def get(self, alert_id: str) -> StoredAlert | None:
        """One alert with its state, or None if it was never received."""
        rows = self._select(alert_id=alert_id, resolved=None, limit=1)
        return rows[0] if rows else None

    def list_alerts(
        self, status: AlertStatus | None = None, *, limit: int = 100
    ) -> list[StoredAlert]:
        """Alerts, newest first, optionally only the open or the resolved ones."""
        resolved = None if status is None else status is AlertStatus.RESOLVED
        return self._select(alert_id=None, resolved=resolved, limit=limit)

    def count_open(self) -> int:
        """How many alerts await an operator."""
        with self._lock:
            row = self._connection.execute(
                "SELECT count(*) FROM alerts a LEFT JOIN resolutions r USING (alert_id) "
                "WHERE r.published_at IS NULL"
            ).fetchone()
        return int(row[0])

    def _select(
        self, *, alert_id: str | None, resolved: bool | None, limit: int
    ) -> list[StoredAlert]:
        with self._lock:
            rows = self._connection.execute(
                _SELECT_ALERTS,
                {"alert_id": alert_id, "resolved": resolved, "limit": limit},
            ).fetchall()
        return [_stored_alert(row) for row in rows]

    def save_pending_resolution(
        self, violation: Violation, resolution: AlertResolution
    ) -> PendingResolution:
        """Keep the events decided for an alert before publishing them; the first one stands.

        Returns the resolution that stands for the alert: the given one, or the one saved by an
        earlier call (possibly already published).
        """
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO resolutions (alert_id, violation, resolution) "
                "VALUES (?, ?, ?)",
                (resolution.alert_id, violation.model_dump_json(), resolution.model_dump_json()),
            )
            row = db.execute(
                "SELECT violation, resolution, published_at FROM resolutions WHERE alert_id = ?",
                (resolution.alert_id,),
            ).fetchone()
        return PendingResolution(
            violation=Violation.model_validate_json(row[0]),
            resolution=AlertResolution.model_validate_json(row[1]),
            published=row[2] is not None,
        )

    def mark_resolution_published(self, alert_id: str) -> None:
        """Record that the alert's resolution events are committed to Kafka."""
        with self._write() as db:
            db.execute(
                "UPDATE resolutions SET published_at = ? WHERE alert_id = ?",
                (utc_now().isoformat(timespec="microseconds"), alert_id),
            )


def _stored_alert(row: tuple[str | None, ...]) -> StoredAlert:
    payload, received_at, source, emailed_at, message_id, violation, resolution, published = row
    assert payload is not None and received_at is not None and source is not None  # noqa: S101
    pending = None
    if violation is not None and resolution is not None:
        pending = PendingResolution(
            violation=Violation.model_validate_json(violation),
            resolution=AlertResolution.model_validate_json(resolution),
            published=published is not None,
        )
    return StoredAlert(
        alert=Alert.model_validate_json(payload),
        received_at=datetime.fromisoformat(received_at),
        source=source,
        emailed_at=datetime.fromisoformat(emailed_at) if emailed_at else None,
        message_id=message_id,
        resolution=pending,
    )

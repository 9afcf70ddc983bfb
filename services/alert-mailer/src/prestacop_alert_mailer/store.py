"""The mailer's durable state: alerts received, how their email went, resolutions, dead letters.

One SQLite file in ``MAILER_STATE_DIR``, WAL journal, ``synchronous=FULL``: every write is on disk
(fsync'd) when the call returns (a few documented ones are not, see each method). The consumer
writes alerts, the send journal ("DATA started", "emailed", "dead-lettered") and dead letters to
publish (an outbox); the operator API reads alerts and writes resolutions. One connection guarded
by a lock serves both threads.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

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
CREATE TABLE IF NOT EXISTS dead_letters (
    event_id     TEXT PRIMARY KEY,
    key          BLOB,
    value        BLOB NOT NULL,
    source       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    delivered_at TEXT
);
CREATE INDEX IF NOT EXISTS dead_letters_pending ON dead_letters (created_at)
    WHERE delivered_at IS NULL;
CREATE TABLE IF NOT EXISTS resolutions (
    alert_id     TEXT PRIMARY KEY REFERENCES alerts (alert_id),
    violation    TEXT NOT NULL,
    resolution   TEXT NOT NULL,
    published_at TEXT
);
"""

# Columns added after the first release; an older state file gets them on open.
_SEND_JOURNAL_COLUMNS = {
    "data_started_at": "TEXT",
    "sends_in_doubt": "INTEGER NOT NULL DEFAULT 0",
    "refused_recipients": "TEXT",
    "failed_at": "TEXT",
    "failure": "TEXT",
}

_SELECT_ALERTS = """
SELECT a.payload, a.received_at, a.source, a.emailed_at, a.message_id,
       r.violation, r.resolution, r.published_at,
       a.sends_in_doubt, a.refused_recipients, a.failed_at, a.failure
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


class DeliveryStatus(StrEnum):
    """Where an alert's email stands."""

    PENDING = "pending"
    EMAILED = "emailed"
    DEAD_LETTERED = "dead_lettered"


@dataclass(frozen=True)
class SendRecord:
    """The send journal of one alert: what the mailer knows of its email."""

    emailed: bool
    dead_lettered: bool
    data_started: bool
    sends_in_doubt: int


@dataclass(frozen=True)
class PendingDeadLetter:
    """A dead letter kept in the state until the broker confirmed it."""

    event_id: str
    key: bytes | None
    value: bytes
    source: str


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
    sends_in_doubt: int = 0
    refused_recipients: dict[str, str] | None = None
    failed_at: datetime | None = None
    failure: str | None = None

    @property
    def delivery(self) -> DeliveryStatus:
        """Emailed, dead-lettered, or still to be sent."""
        if self.emailed_at is not None:
            return DeliveryStatus.EMAILED
        if self.failed_at is not None:
            return DeliveryStatus.DEAD_LETTERED
        return DeliveryStatus.PENDING

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
            _add_missing_columns(connection)
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

    def send_record(self, alert_id: str) -> SendRecord:
        """The send journal of an alert (all false for an alert never recorded)."""
        with self._lock:
            row = self._connection.execute(
                "SELECT emailed_at, failed_at, data_started_at, sends_in_doubt FROM alerts "
                "WHERE alert_id = ?",
                (alert_id,),
            ).fetchone()
        if row is None:
            return SendRecord(False, False, False, 0)
        return SendRecord(row[0] is not None, row[1] is not None, row[2] is not None, row[3])

    def mark_data_started(self, alert_id: str) -> None:
        """Record, durably, that DATA is about to start: from here the email is in doubt."""
        with self._write() as db:
            db.execute(
                "UPDATE alerts SET data_started_at = ? WHERE alert_id = ?",
                (utc_now().isoformat(timespec="microseconds"), alert_id),
            )

    def clear_data_started(self, alert_id: str) -> None:
        """The server answered DATA with a refusal: the email is not in doubt.

        Not fsync'd: if lost, a restart takes the send for in doubt and only marks the next copy
        a possible duplicate.
        """
        with self._write(fsync=False) as db:
            db.execute("UPDATE alerts SET data_started_at = NULL WHERE alert_id = ?", (alert_id,))

    def note_in_doubt(self, alert_id: str) -> int:
        """Count one send that got no reply after DATA started; return the count so far.

        Not fsync'd on its own: if lost, "DATA started" is still on disk and a restart counts
        the same send again.
        """
        with self._write(fsync=False) as db:
            db.execute(
                "UPDATE alerts SET sends_in_doubt = sends_in_doubt + 1, data_started_at = NULL "
                "WHERE alert_id = ?",
                (alert_id,),
            )
            row = db.execute(
                "SELECT sends_in_doubt FROM alerts WHERE alert_id = ?", (alert_id,)
            ).fetchone()
        return int(row[0]) if row else 0

    def mark_emailed(
        self, alert_id: str, message_id: str, refused_recipients: dict[str, str] | None = None
    ) -> None:
        """Record, durably (fsync'd before returning), that the alert's email was accepted.

        ``refused_recipients`` maps each recipient the server refused to its reply.
        """
        refused = json.dumps(refused_recipients) if refused_recipients else None
        with self._write() as db:
            db.execute(
                "UPDATE alerts SET emailed_at = ?, message_id = ?, refused_recipients = ?, "
                "data_started_at = NULL WHERE alert_id = ?",
                (utc_now().isoformat(timespec="microseconds"), message_id, refused, alert_id),
            )

    def save_dead_letter(self, event_id: str, key: bytes | None, value: bytes, source: str) -> bool:
        """Keep a dead letter until the broker confirms it (fsync'd); return whether it is new.

        The first copy of an ``event_id`` stands: a redelivered message adds nothing.
        """
        with self._write() as db:
            return _insert_dead_letter(db, event_id, key, value, source)

    def dead_letter_alert(
        self, alert_id: str, failure: str, *, event_id: str, key: bytes | None, value: bytes
    ) -> bool:
        """Record that an alert will not be mailed, and its dead letter, in one durable write.

        Returns whether the dead letter is new.
        """
        with self._write() as db:
            db.execute(
                "UPDATE alerts SET failed_at = ?, failure = ?, data_started_at = NULL "
                "WHERE alert_id = ?",
                (utc_now().isoformat(timespec="microseconds"), failure, alert_id),
            )
            source = db.execute(
                "SELECT source FROM alerts WHERE alert_id = ?", (alert_id,)
            ).fetchone()
            return _insert_dead_letter(db, event_id, key, value, source[0] if source else "")

    def pending_dead_letters(self) -> list[PendingDeadLetter]:
        """Dead letters the broker has not confirmed yet, oldest first."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT event_id, key, value, source FROM dead_letters "
                "WHERE delivered_at IS NULL ORDER BY created_at"
            ).fetchall()
        return [PendingDeadLetter(row[0], row[1], row[2], row[3]) for row in rows]

    def count_pending_dead_letters(self) -> int:
        """How many dead letters await the broker's confirmation."""
        with self._lock:
            row = self._connection.execute(
                "SELECT count(*) FROM dead_letters WHERE delivered_at IS NULL"
            ).fetchone()
        return int(row[0])

    def mark_dead_letter_delivered(self, event_id: str) -> None:
        """Record that the broker confirmed a dead letter (fsync'd: it is never produced again)."""
        with self._write() as db:
            db.execute(
                "UPDATE dead_letters SET delivered_at = ? WHERE event_id = ?",
                (utc_now().isoformat(timespec="microseconds"), event_id),
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


def _add_missing_columns(connection: sqlite3.Connection) -> None:
    present = {row[1] for row in connection.execute("PRAGMA table_info(alerts)")}
    for name, declaration in _SEND_JOURNAL_COLUMNS.items():
        if name not in present:
            connection.execute(f"ALTER TABLE alerts ADD COLUMN {name} {declaration}")


def _insert_dead_letter(
    db: sqlite3.Connection, event_id: str, key: bytes | None, value: bytes, source: str
) -> bool:
    cursor = db.execute(
        "INSERT OR IGNORE INTO dead_letters (event_id, key, value, source, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (event_id, key, value, source, utc_now().isoformat(timespec="microseconds")),
    )
    return cursor.rowcount == 1


def _stored_alert(row: tuple[Any, ...]) -> StoredAlert:
    payload, received_at, source, emailed_at, message_id, violation, resolution, published = row[:8]
    sends_in_doubt, refused, failed_at, failure = row[8:]
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
        sends_in_doubt=int(sends_in_doubt or 0),
        refused_recipients=json.loads(refused) if refused else None,
        failed_at=datetime.fromisoformat(failed_at) if failed_at else None,
        failure=failure,
    )

"""Kafka topic names: the only place they are written.

| topic | key | value model | written by | read by |
|---|---|---|---|---|
| ``drone.status`` | drone id | :class:`~prestacop_shared.events.DroneStatus` | drone | stream-storage |
| ``drone.violations`` | drone id | :class:`~prestacop_shared.events.Violation` | drone, alert-mailer | stream-storage |
| ``drone.alerts`` | drone id | :class:`~prestacop_shared.events.Alert` | drone | alert-mailer, stream-storage |
| ``drone.alert-resolutions`` | alert id | :class:`~prestacop_shared.events.AlertResolution` | alert-mailer | stream-storage |
| ``drone.alerts.dlq`` | original key | :class:`~prestacop_shared.events.DeadLetter` | alert-mailer | people |
| ``nypd.tickets`` | summons number | :class:`~prestacop_shared.tickets.HistoricalTicket` | csv-ingestor | stream-storage |
| ``nypd.tickets.dlq`` | source + line | :class:`~prestacop_shared.events.DeadLetter` | csv-ingestor | people |
| ``nypd.ingest-progress`` | file fingerprint | csv-ingestor's progress record (compacted) | csv-ingestor | csv-ingestor |
| ``alert-mailer.sent`` | alert id | alert-mailer's sent record (compacted) | alert-mailer | alert-mailer |

Every name can be prefixed for isolation (tests, several deployments on one cluster) with
:func:`prefixed`.
"""

from __future__ import annotations

from typing import Final

DRONE_STATUS: Final = "drone.status"
DRONE_VIOLATIONS: Final = "drone.violations"
DRONE_ALERTS: Final = "drone.alerts"
DRONE_ALERT_RESOLUTIONS: Final = "drone.alert-resolutions"
DRONE_ALERTS_DLQ: Final = "drone.alerts.dlq"
NYPD_TICKETS: Final = "nypd.tickets"
NYPD_TICKETS_DLQ: Final = "nypd.tickets.dlq"
NYPD_INGEST_PROGRESS: Final = "nypd.ingest-progress"
ALERT_MAILER_SENT: Final = "alert-mailer.sent"

DATA_TOPICS: Final[tuple[str, ...]] = (
    DRONE_STATUS,
    DRONE_VIOLATIONS,
    DRONE_ALERTS,
    DRONE_ALERT_RESOLUTIONS,
    NYPD_TICKETS,
)
"""Topics that carry events stream-storage keeps."""

DEAD_LETTER_TOPICS: Final[tuple[str, ...]] = (DRONE_ALERTS_DLQ, NYPD_TICKETS_DLQ)

COMPACTED_TOPICS: Final[tuple[str, ...]] = (NYPD_INGEST_PROGRESS, ALERT_MAILER_SENT)
"""State topics: only the latest record per key matters (``cleanup.policy=compact``)."""

ALL_TOPICS: Final[tuple[str, ...]] = DATA_TOPICS + DEAD_LETTER_TOPICS + COMPACTED_TOPICS


def prefixed(topic: str, prefix: str = "") -> str:
    """Return ``topic`` under an optional namespace prefix.

    Example:
        >>> prefixed(DRONE_ALERTS, "test-42.")
        'test-42.drone.alerts'
        >>> prefixed(DRONE_ALERTS)
        'drone.alerts'
    """
    return f"{prefix}{topic}"

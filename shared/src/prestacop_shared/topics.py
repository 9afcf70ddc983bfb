"""The topic catalogue: every Kafka topic's name, key, encoding, partitions, retention, cleanup.

This module is the only place topic facts are written. kafka-init, the csv-ingestor,
stream-storage, the demo and the tests create topics from :func:`topic_plan`, so a topic has the
same shape wherever it was created first.

| topic | key | value | partitions | retention | cleanup | written by | read by |
|---|---|---|---|---|---|---|---|
| ``drone.status`` | drone id | JSON :class:`~prestacop_shared.events.DroneStatus` | 12 | 30 days | delete | drone | stream-storage |
| ``drone.violations`` | drone id | JSON :class:`~prestacop_shared.events.Violation` | 12 | 30 days | delete | drone, alert-mailer | stream-storage |
| ``drone.alerts`` | drone id | JSON :class:`~prestacop_shared.events.Alert` | 12 | 30 days | delete | drone | alert-mailer, stream-storage |
| ``drone.alert-resolutions`` | alert id | JSON :class:`~prestacop_shared.events.AlertResolution` | 12 | 30 days | delete | alert-mailer | stream-storage |
| ``nypd.tickets`` | summons number | T1 ticket line (:mod:`~prestacop_shared.ticket_lines`) of :class:`~prestacop_shared.tickets.HistoricalTicket` | 12 | 30 days | delete | csv-ingestor | stream-storage |
| ``drone.alerts.dlq`` | original key | JSON :class:`~prestacop_shared.events.DeadLetter` | 3 | 30 days | delete | alert-mailer | people |
| ``nypd.tickets.dlq`` | source + line | JSON :class:`~prestacop_shared.events.DeadLetter` | 3 | 30 days | delete | csv-ingestor | people |
| ``nypd.ingest-progress`` | file fingerprint | csv-ingestor's progress record | 12 | kept | compact | csv-ingestor | csv-ingestor |
| ``alert-mailer.sent`` | alert id | alert-mailer's sent record | 12 | kept | compact | alert-mailer | alert-mailer |

Encoding (:attr:`Topic.encoding`, an :class:`Encoding`): every reader and writer takes it from
here. The drone topics, dead letters and state records are JSON (low volume, self-describing);
``nypd.tickets`` (the bulk topic: a whole fiscal year is over 10M records) carries T1 ticket lines,
one CSV record per ticket in the stored column order, led by its version and its partition date,
so stream-storage stores it without parsing it.

Retention: data and dead-letter topics keep 30 days (:data:`DATA_RETENTION_MS`) instead of the
broker's 7-day default, so stream-storage can be down for up to 30 days without losing a
record; it says at start how far behind it is and whether anything already expired. State
topics are compacted: the latest record per key is kept for ever.

Partitions: the deployment sizes them. kafka-init creates the catalogue's counts, 12
(:data:`DATA_PARTITIONS`, up to 12 consumers of one group share a topic) and 3 for dead letters;
the demo asks :func:`topic_plan` for 4, tests for 1 or 2. ``alert-mailer.sent`` always has as many
as ``drone.alerts`` (the mailer reads them partition by partition together). A service that finds
a topic missing (csv-ingestor, stream-storage run without kafka-init) creates it with the
broker's default partitions and replication (:data:`BROKER_DEFAULT`, ``num.partitions`` and
``default.replication.factor``) and the catalogue's configuration.

Every name can be prefixed for isolation (tests, several deployments on one cluster) with
:func:`prefixed` or :meth:`prestacop_shared.kafka.KafkaSettings.topic`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal

DRONE_STATUS: Final = "drone.status"
DRONE_VIOLATIONS: Final = "drone.violations"
DRONE_ALERTS: Final = "drone.alerts"
DRONE_ALERT_RESOLUTIONS: Final = "drone.alert-resolutions"
DRONE_ALERTS_DLQ: Final = "drone.alerts.dlq"
NYPD_TICKETS: Final = "nypd.tickets"
NYPD_TICKETS_DLQ: Final = "nypd.tickets.dlq"
NYPD_INGEST_PROGRESS: Final = "nypd.ingest-progress"
ALERT_MAILER_SENT: Final = "alert-mailer.sent"

DAY_MS: Final = 24 * 60 * 60 * 1000
DATA_RETENTION_MS: Final = 30 * DAY_MS
"""How long data and dead-letter topics keep records (``retention.ms``): 30 days."""

DATA_PARTITIONS: Final = 12
"""Partitions of data and state topics in a full deployment."""

DLQ_PARTITIONS: Final = 3
"""Partitions of dead-letter topics in a full deployment (low volume)."""

BROKER_DEFAULT: Final = -1
"""A partition count (or replication factor) that takes the broker's default."""


class Encoding(StrEnum):
    """How a topic's message values are written."""

    JSON = "json"
    """UTF-8 JSON of the topic's record (:mod:`prestacop_shared.serde`)."""
    TICKET_LINES = "ticket_lines"
    """A T1 ticket line: ``T1,<event_date>,<ticket fields as CSV>``
    (:mod:`prestacop_shared.ticket_lines`)."""


class TopicRole(StrEnum):
    """What a topic is for, which decides its partitions, retention and cleanup policy."""

    DATA = "data"
    """Events stream-storage keeps."""
    DEAD_LETTER = "dead_letter"
    """Records a service could not handle, with the reason, for people to look at."""
    STATE = "state"
    """A service's own durable state: only the latest record per key matters."""


@dataclass(frozen=True)
class Topic:
    """One topic of the catalogue (name without deployment prefix).

    Attributes:
        name: the topic name.
        role: data, dead letter or state.
        key: what the message key is (decides per-key order and partitioning).
        encoding: how the value is written.
        record: what one value holds (a model or record name).
        partitions: partitions in a full deployment.
        retention_ms: ``retention.ms``; ``None`` for compacted topics (kept for ever).
        dead_letter_topic: where records of this topic that cannot be handled go, if anywhere.
    """

    name: str
    role: TopicRole
    key: str
    encoding: Encoding
    record: str
    partitions: int
    retention_ms: int | None
    dead_letter_topic: str | None = None

    @property
    def cleanup_policy(self) -> Literal["delete", "compact"]:
        """``compact`` for state topics, ``delete`` (time-based retention) otherwise."""
        return "compact" if self.role is TopicRole.STATE else "delete"

    def config(self) -> dict[str, str]:
        """The topic-level configuration to create it with (cleanup policy and retention)."""
        config: dict[str, str] = {"cleanup.policy": self.cleanup_policy}
        if self.retention_ms is not None:
            config["retention.ms"] = str(self.retention_ms)
        return config


def _data(
    name: str,
    key: str,
    model: str,
    dead_letter_topic: str | None = None,
    encoding: Encoding = Encoding.JSON,
) -> Topic:
    return Topic(
        name,
        TopicRole.DATA,
        key,
        encoding,
        model,
        DATA_PARTITIONS,
        DATA_RETENTION_MS,
        dead_letter_topic,
    )


def _dead_letter(name: str) -> Topic:
    return Topic(
        name, TopicRole.DEAD_LETTER, "original key", Encoding.JSON, "DeadLetter", DLQ_PARTITIONS,
        DATA_RETENTION_MS,
    )  # fmt: skip


def _state(name: str, key: str, record: str) -> Topic:
    return Topic(name, TopicRole.STATE, key, Encoding.JSON, record, DATA_PARTITIONS, None)


CATALOGUE: Final[dict[str, Topic]] = {
    topic.name: topic
    for topic in (
        _data(DRONE_STATUS, "drone id", "DroneStatus"),
        _data(DRONE_VIOLATIONS, "drone id", "Violation"),
        _data(DRONE_ALERTS, "drone id", "Alert", DRONE_ALERTS_DLQ),
        _data(DRONE_ALERT_RESOLUTIONS, "alert id", "AlertResolution"),
        _data(
            NYPD_TICKETS,
            "summons number",
            "HistoricalTicket",
            NYPD_TICKETS_DLQ,
            Encoding.TICKET_LINES,
        ),  # fmt: skip
        _dead_letter(DRONE_ALERTS_DLQ),
        _dead_letter(NYPD_TICKETS_DLQ),
        _state(NYPD_INGEST_PROGRESS, "file fingerprint", "csv-ingestor FileProgress"),
        _state(ALERT_MAILER_SENT, "alert id", "alert-mailer sent record"),
    )
}
"""Every topic, by name (without deployment prefix)."""


def _names(role: TopicRole) -> tuple[str, ...]:
    return tuple(name for name, topic in CATALOGUE.items() if topic.role is role)


DATA_TOPICS: Final[tuple[str, ...]] = _names(TopicRole.DATA)
"""Topics that carry events stream-storage keeps."""

DEAD_LETTER_TOPICS: Final[tuple[str, ...]] = _names(TopicRole.DEAD_LETTER)

COMPACTED_TOPICS: Final[tuple[str, ...]] = _names(TopicRole.STATE)
"""State topics: only the latest record per key matters (``cleanup.policy=compact``)."""

ALL_TOPICS: Final[tuple[str, ...]] = tuple(CATALOGUE)


@dataclass(frozen=True)
class TopicSpec:
    """One topic as it should exist on a cluster: full name, partitions, replication, config.

    A ``replication_factor`` of -1 takes the broker's ``default.replication.factor``.
    """

    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str]


def service_topic_plan(names: tuple[str, ...] | list[str], prefix: str = "") -> list[TopicSpec]:
    """The plan a service uses for topics it finds missing: broker-default sizes, catalogue config.

    Example:
        >>> [(s.name, s.partitions, s.config["cleanup.policy"])
        ...  for s in service_topic_plan((NYPD_INGEST_PROGRESS,))]
        [('nypd.ingest-progress', -1, 'compact')]
    """
    return topic_plan(names, prefix=prefix, partitions=BROKER_DEFAULT)


def topic_plan(
    names: tuple[str, ...] | list[str] = ALL_TOPICS,
    *,
    prefix: str = "",
    partitions: int | None = None,
    dlq_partitions: int | None = None,
    replication_factor: int | None = None,
) -> list[TopicSpec]:
    """The topics ``names`` (catalogue names) as they should be created under ``prefix``.

    Args:
        names: which topics (default: the whole catalogue).
        prefix: the deployment's topic prefix (``KAFKA_TOPIC_PREFIX``).
        partitions: partitions of data and state topics (default: the catalogue's;
            :data:`BROKER_DEFAULT` for the broker's).
        dlq_partitions: partitions of dead-letter topics (default: the catalogue's, or
            ``partitions`` when that is smaller or the broker's default).
        replication_factor: replicas of each partition, with ``min.insync.replicas`` 2 when
            there are at least 2 replicas, else 1; ``None`` leaves both to the broker's
            defaults (what a service creating its own topics does).

    Raises:
        KeyError: a name that is not in the catalogue.

    Example:
        >>> [(s.name, s.partitions) for s in topic_plan((NYPD_TICKETS,), prefix="demo.",
        ...                                              partitions=2)]
        [('demo.nypd.tickets', 2)]
    """
    specs = []
    for name in names:
        topic = CATALOGUE[name]
        count = partitions or topic.partitions
        if topic.role is TopicRole.DEAD_LETTER:
            count = dlq_partitions or (
                count if count == BROKER_DEFAULT else min(topic.partitions, count)
            )
        config = topic.config()
        if replication_factor is not None:
            config["min.insync.replicas"] = str(min(2, replication_factor))
        specs.append(TopicSpec(prefixed(name, prefix), count, replication_factor or -1, config))
    return specs


def prefixed(topic: str, prefix: str = "") -> str:
    """Return ``topic`` under an optional namespace prefix.

    Example:
        >>> prefixed(DRONE_ALERTS, "test-42.")
        'test-42.drone.alerts'
        >>> prefixed(DRONE_ALERTS)
        'drone.alerts'
    """
    return f"{prefix}{topic}"

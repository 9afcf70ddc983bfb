"""Drone events: the live pipeline's contract.

Every event is a frozen pydantic model with ``schema_version``, a unique ``event_id`` (the
dedupe key), the ``drone_id`` it concerns, when it was emitted (``emitted_at``, UTC) and where
(``latitude``/``longitude``, WGS84). Position is kept flat so the same fields serve JSON, Spark
and CSV without reshaping.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION: Literal[1] = 1

Latitude = Annotated[float, Field(ge=-90.0, le=90.0, description="WGS84 latitude, degrees")]
Longitude = Annotated[float, Field(ge=-180.0, le=180.0, description="WGS84 longitude, degrees")]
ViolationCodeNumber = Annotated[
    int, Field(ge=1, le=99, description="DOF violation code (see the DOF code table)")
]


def new_event_id() -> str:
    """Return a fresh random event id (32 hex characters)."""
    return uuid.uuid4().hex


def utc_now() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class Event(BaseModel):
    """Fields every event carries."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)

    kind: ClassVar[str] = "event"

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: str = Field(default_factory=new_event_id, min_length=1, max_length=128)
    drone_id: str = Field(min_length=1, max_length=128)
    emitted_at: AwareDatetime = Field(default_factory=utc_now)
    latitude: Latitude
    longitude: Longitude

    @field_validator("emitted_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)


class DroneState(StrEnum):
    """What a drone is doing."""

    PATROLLING = "patrolling"
    RETURNING = "returning"
    CHARGING = "charging"


class DroneStatus(Event):
    """A drone's periodic heartbeat: where it is, its battery and what it is doing."""

    kind: ClassVar[str] = "status"

    battery_pct: float = Field(ge=0.0, le=100.0)
    state: DroneState
    speed_mps: float = Field(ge=0.0, default=0.0)
    heading_deg: float = Field(ge=0.0, lt=360.0, default=0.0)


class ViolationSource(StrEnum):
    """Who classified a violation."""

    DRONE = "drone"
    OPERATOR = "operator"


class Violation(Event):
    """A parking offence, classified by a drone or by an operator resolving an alert."""

    kind: ClassVar[str] = "violation"

    violation_code: ViolationCodeNumber
    plate_id: str = Field(min_length=1, max_length=16)
    image_id: str = Field(min_length=1, max_length=128)
    source: ViolationSource = ViolationSource.DRONE
    alert_id: str | None = Field(
        default=None, description="The alert this violation resolves (operator violations only)"
    )


class AlertReason(StrEnum):
    """Why a drone needs a human."""

    OFFENCE_UNCLASSIFIED = "offence_unclassified"
    PLATE_UNREADABLE = "plate_unreadable"
    VIEW_OBSTRUCTED = "view_obstructed"
    LOW_CONFIDENCE = "low_confidence"


class Alert(Event):
    """An offence the drone could not classify: a human must look at the image and decide."""

    kind: ClassVar[str] = "alert"

    image_id: str = Field(min_length=1, max_length=128)
    reason: AlertReason
    detail: str = Field(default="", max_length=1000)
    plate_id: str | None = Field(default=None, max_length=16)

    @property
    def alert_id(self) -> str:
        """An alert is identified by its event id."""
        return self.event_id


class AlertResolution(Event):
    """An operator's decision on an alert; position and drone are the alert's."""

    kind: ClassVar[str] = "alert_resolution"

    alert_id: str = Field(min_length=1, max_length=128)
    violation_code: ViolationCodeNumber
    operator: str = Field(min_length=1, max_length=128)
    alert_emitted_at: AwareDatetime
    violation_event_id: str = Field(min_length=1, max_length=128)


class DeadLetter(BaseModel):
    """A record that could not be processed, kept with where it came from and why.

    ``source`` names the origin: ``topic/partition/offset`` for a Kafka message, ``file:line``
    for a CSV line. ``raw`` is the original text, truncated to ``raw_truncated_to`` characters.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ClassVar[str] = "dead_letter"

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: str = Field(default_factory=new_event_id)
    emitted_at: AwareDatetime = Field(default_factory=utc_now)
    service: str
    source: str
    reason: str
    raw: str
    raw_length: int = Field(ge=0, description="Length of the original raw text, in bytes")
    raw_truncated_to: int = Field(ge=0, description="How many characters of raw are kept")

    @classmethod
    def from_raw(
        cls, *, service: str, source: str, reason: str, raw: bytes, keep: int = 4096
    ) -> DeadLetter:
        """Build a dead letter from raw bytes, decoded leniently and truncated to ``keep`` chars.

        Example:
            >>> dl = DeadLetter.from_raw(service="x", source="f.csv:3", reason="bad", raw=b"ab\\xff")
            >>> dl.raw, dl.raw_length
            ('ab\\\\xff', 3)
        """
        text = raw.decode("utf-8", errors="backslashreplace")
        return cls(
            service=service,
            source=source,
            reason=reason,
            raw=text[:keep],
            raw_length=len(raw),
            raw_truncated_to=keep,
        )


DRONE_EVENT_MODELS: tuple[type[Event], ...] = (DroneStatus, Violation, Alert, AlertResolution)

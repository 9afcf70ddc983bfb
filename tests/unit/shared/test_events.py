"""Event models and JSON (de)serialisation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from prestacop_shared.events import (
    Alert,
    AlertReason,
    AlertResolution,
    DeadLetter,
    DroneState,
    DroneStatus,
    Violation,
    ViolationSource,
)
from prestacop_shared.exceptions import DeserializationError
from prestacop_shared.serde import decode, encode

pytestmark = pytest.mark.unit

POSITION = {"latitude": 40.7580, "longitude": -73.9855}


def sample_events() -> list[DroneStatus | Violation | Alert | AlertResolution]:
    """One valid instance of every drone event model."""
    alert = Alert(
        drone_id="nypd-a-0001", image_id="img-1", reason=AlertReason.PLATE_UNREADABLE, **POSITION
    )
    return [
        DroneStatus(
            drone_id="nypd-a-0001", battery_pct=87.5, state=DroneState.PATROLLING, **POSITION
        ),
        Violation(
            drone_id="nypd-a-0001", violation_code=21, plate_id="GBB9093", image_id="i", **POSITION
        ),
        alert,
        AlertResolution(
            drone_id=alert.drone_id,
            alert_id=alert.alert_id,
            violation_code=14,
            operator="jdoe",
            alert_emitted_at=alert.emitted_at,
            violation_event_id="v-1",
            **POSITION,
        ),
    ]


@pytest.mark.parametrize("event", sample_events(), ids=lambda e: type(e).__name__)
def test_every_event_survives_the_wire(event: DroneStatus) -> None:
    data = encode(event)
    assert decode(type(event), data) == event
    assert b'"schema_version":1' in data


def test_events_carry_the_contract_fields() -> None:
    for event in sample_events():
        dumped = event.model_dump()
        for field in (
            "schema_version",
            "event_id",
            "drone_id",
            "emitted_at",
            "latitude",
            "longitude",
        ):
            assert dumped[field] is not None, field


def test_event_ids_are_unique() -> None:
    ids = {sample_events()[0].event_id for _ in range(1000)}
    assert len(ids) == 1000


def test_events_are_frozen() -> None:
    status = sample_events()[0]
    with pytest.raises(ValidationError):
        status.battery_pct = 3.0  # type: ignore[misc]


def test_timestamps_are_normalised_to_utc() -> None:
    paris = timezone(timedelta(hours=2))
    status = DroneStatus(
        drone_id="d",
        battery_pct=1,
        state=DroneState.CHARGING,
        emitted_at=datetime(2026, 6, 1, 14, 0, tzinfo=paris),
        **POSITION,
    )
    assert status.emitted_at == datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    assert status.emitted_at.utcoffset() == timedelta(0)


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        DroneStatus(
            drone_id="d",
            battery_pct=1,
            state=DroneState.CHARGING,
            emitted_at=datetime(2026, 6, 1, 14, 0),  # noqa: DTZ001 - the point of the test
            **POSITION,
        )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"latitude": 91.0}, "latitude"),
        ({"violation_code": 0}, "violation_code"),
        ({"violation_code": 100}, "violation_code"),
        ({"plate_id": ""}, "plate_id"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_violations_validate_their_fields(changes: dict[str, object], field: str) -> None:
    values: dict[str, object] = {
        "drone_id": "d",
        "violation_code": 21,
        "plate_id": "ABC",
        "image_id": "img",
        **POSITION,
    }
    values.update(changes)
    with pytest.raises(ValidationError, match=field):
        Violation.model_validate(values)


def test_violation_defaults_to_drone_source() -> None:
    violation = sample_events()[1]
    assert isinstance(violation, Violation)
    assert violation.source is ViolationSource.DRONE
    assert violation.alert_id is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty message value"),
        (b"{not json", "invalid JSON"),
        (b'{"drone_id": "d"}', "schema violation: latitude: Field required"),
        (b"[1, 2]", "schema violation"),
    ],
)
def test_decode_says_why_it_refuses(raw: bytes, reason: str) -> None:
    with pytest.raises(DeserializationError) as caught:
        decode(Alert, raw)
    assert reason in caught.value.reason
    assert caught.value.raw == raw


def test_decode_refuses_another_schema_version() -> None:
    data = encode(sample_events()[2]).replace(b'"schema_version":1', b'"schema_version":2')
    with pytest.raises(DeserializationError, match="schema_version"):
        decode(Alert, data)


def test_dead_letter_keeps_origin_reason_and_truncated_raw() -> None:
    raw = b"x" * 10_000 + b"\xff"
    letter = DeadLetter.from_raw(
        service="csv-ingestor",
        source="fy2017.csv:42",
        reason="wrong column count",
        raw=raw,
        keep=100,
    )
    assert letter.source == "fy2017.csv:42"
    assert letter.raw == "x" * 100
    assert letter.raw_length == 10_001
    assert decode(DeadLetter, encode(letter)) == letter

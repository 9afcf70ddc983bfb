"""Valid events of every stored kind, built with the shared models, and ways to break them."""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from prestacop_shared.events import (
    Alert,
    AlertReason,
    AlertResolution,
    DroneState,
    DroneStatus,
    Event,
    Violation,
    ViolationSource,
)
from prestacop_shared.serde import encode
from prestacop_shared.ticket_lines import encode_ticket
from prestacop_shared.tickets import HistoricalTicket, detect_layout, ticket_from_source_row

_NEAR_MIDNIGHT = datetime(2024, 3, 9, 23, 59, 59, 999_999, tzinfo=UTC)


def _when(rng: random.Random, index: int) -> datetime:
    # A few events straddle midnight UTC (and one is sent with a non-UTC offset) so the
    # event_date partition is exercised on both sides of the day boundary.
    moment = _NEAR_MIDNIGHT + timedelta(microseconds=rng.randint(-3_000_000, 3_000_000))
    if index % 5 == 0:
        moment = moment.astimezone(timezone(timedelta(hours=-5)))
    return moment


def _position(rng: random.Random) -> dict[str, float]:
    return {"latitude": rng.uniform(40.5, 40.9), "longitude": rng.uniform(-74.25, -73.7)}


def drone_statuses(count: int, seed: int = 1) -> list[DroneStatus]:
    """Status heartbeats with every field set."""
    rng = random.Random(seed)
    return [
        DroneStatus(
            drone_id=f"nyc-host-{i % 7}",
            emitted_at=_when(rng, i),
            battery_pct=rng.uniform(0, 100),
            state=rng.choice(list(DroneState)),
            speed_mps=rng.uniform(0, 20),
            heading_deg=rng.uniform(0, 359.9),
            **_position(rng),
        )
        for i in range(count)
    ]


def violations(count: int, seed: int = 2) -> list[Violation]:
    """Drone and operator violations (operator ones carry an alert id)."""
    rng = random.Random(seed)
    return [
        Violation(
            drone_id=f"nyc-host-{i % 7}",
            emitted_at=_when(rng, i),
            violation_code=rng.randint(1, 99),
            plate_id=f"P{rng.randint(0, 10**6):06d}",
            image_id=f"img-{i}",
            source=ViolationSource.OPERATOR if i % 3 == 0 else ViolationSource.DRONE,
            alert_id=f"alert-{i}" if i % 3 == 0 else None,
            **_position(rng),
        )
        for i in range(count)
    ]


def alerts(count: int, seed: int = 3) -> list[Alert]:
    """Alerts whose free text holds what CSV finds hard: commas, quotes, newlines, spaces."""
    rng = random.Random(seed)
    details = [
        "",
        "  leading and trailing  ",
        'a "quoted", comma',
        "two\nlines\r\nand more",
        "é ü 中",
    ]
    return [
        Alert(
            drone_id=f"nyc-host-{i % 7}",
            emitted_at=_when(rng, i),
            image_id=f"img-{i}",
            reason=rng.choice(list(AlertReason)),
            detail=details[i % len(details)],
            plate_id=None if i % 2 else f"PL{i}",
            **_position(rng),
        )
        for i in range(count)
    ]


def alert_resolutions(count: int, seed: int = 4) -> list[AlertResolution]:
    """Operators' decisions on alerts."""
    rng = random.Random(seed)
    return [
        AlertResolution(
            drone_id=f"nyc-host-{i % 7}",
            emitted_at=_when(rng, i),
            alert_id=f"alert-{i}",
            violation_code=rng.randint(1, 99),
            operator=f"officer {i}",
            alert_emitted_at=_when(rng, i) - timedelta(minutes=5),
            violation_event_id=f"violation-{i}",
            **_position(rng),
        )
        for i in range(count)
    ]


def tickets(count: int, nyc_data: Path, seed: int = 5) -> list[HistoricalTicket]:
    """Tickets made from the real FY2017 sample rows (reused cyclically if count is larger)."""
    rng = random.Random(seed)
    with (nyc_data / "fy2017_head_99_rows.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    layout = detect_layout(rows[0])
    made = []
    for i in range(count):
        line = 2 + i % (len(rows) - 1)
        made.append(
            ticket_from_source_row(
                layout,
                rows[line - 1],
                drone_id=f"nypd-archive-{i % 5}",
                source_file="fy2017_head_99_rows.csv",
                source_line=line,
                event_id=f"fingerprint-{i}:{line}",
                emitted_at=_when(rng, i),
                **_position(rng),
            )
        )
    return made


def wire_value(event: Event) -> bytes:
    """What the event's producer sends: ``T1`` for tickets, JSON for the drone topics."""
    return encode_ticket(event) if isinstance(event, HistoricalTicket) else encode(event)


def as_json(event: BaseModel) -> dict[str, Any]:
    """The event's JSON form as a dict, to be broken on purpose."""
    return event.model_dump(mode="json")


def from_stored(model: type[Event], row: dict[str, Any]) -> Event:
    """Rebuild the model from a stored row (Spark hands timestamps back naive, in local time)."""
    fields = {name: row[name] for name in model.model_fields}
    for name, value in fields.items():
        if isinstance(value, datetime) and value.tzinfo is None:
            fields[name] = value.astimezone(UTC)
    return model.model_validate(fields)

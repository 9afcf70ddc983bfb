"""One fleet, one loop: every drone reports on schedule; a seed makes a run repeatable."""

from __future__ import annotations

from collections import Counter

import pytest

from prestacop_drone.fleet import Fleet, FleetBehaviour, launch_drones
from prestacop_drone.flight import BatteryModel
from prestacop_shared.events import Alert, DroneState, DroneStatus, Event, Violation
from prestacop_shared.fleet import NYC_BOUNDS

pytestmark = pytest.mark.unit


def make_fleet(seed: int | None, count: int = 10, **behaviour: float) -> Fleet:
    ids = [f"nypd-test-{i:04d}" for i in range(count)]
    return Fleet(launch_drones(ids, seed), FleetBehaviour(**behaviour), seed=seed)  # type: ignore[arg-type]


def run_for(fleet: Fleet, seconds: float, step_s: float = 0.25) -> list[Event]:
    events: list[Event] = []
    elapsed = 0.0
    while elapsed < seconds:
        elapsed += step_s
        events.extend(fleet.due(elapsed))
    return events


def without_time(event: Event) -> dict[str, object]:
    return event.model_dump(exclude={"emitted_at"}) | {"kind": event.kind}


def test_same_seed_same_events_except_timestamps() -> None:
    first = run_for(make_fleet(seed=123, violation_probability=0.3, alert_probability=0.2), 60)
    second = run_for(
        make_fleet(seed=123, violation_probability=0.3, alert_probability=0.2), 60, step_s=0.75
    )
    assert len(first) > 600
    assert [without_time(e) for e in first] == [without_time(e) for e in second]
    kinds = Counter(e.kind for e in first)
    assert kinds["violation"] > 0 and kinds["alert"] > 0


def test_other_seed_or_no_seed_gives_other_events() -> None:
    reference = [without_time(e) for e in run_for(make_fleet(seed=1), 5)]
    assert reference != [without_time(e) for e in run_for(make_fleet(seed=2), 5)]
    assert reference != [without_time(e) for e in run_for(make_fleet(seed=None), 5)]


def test_each_drone_reports_once_per_interval() -> None:
    fleet = make_fleet(seed=5, count=100, interval_s=2.0)
    events = run_for(fleet, 20.0)
    statuses = Counter(e.drone_id for e in events if isinstance(e, DroneStatus))
    assert len(statuses) == 100
    assert set(statuses.values()) == {10}


def test_first_reports_are_spread_over_the_first_interval() -> None:
    fleet = make_fleet(seed=5, count=1_000, interval_s=1.0)
    first_half = sum(isinstance(e, DroneStatus) for e in fleet.due(0.5))
    assert 400 < first_half < 600


def test_event_ids_are_unique_and_every_event_is_inside_new_york() -> None:
    events = run_for(make_fleet(seed=8, count=50, violation_probability=0.5), 30)
    assert len({e.event_id for e in events}) == len(events)
    assert all(NYC_BOUNDS.contains(e.latitude, e.longitude) for e in events)


def test_violation_and_alert_rates_follow_the_probabilities() -> None:
    fleet = make_fleet(seed=9, count=200, violation_probability=0.5, alert_probability=0.1)
    events = run_for(fleet, 100)
    patrolling = sum(
        isinstance(e, DroneStatus) and e.state is DroneState.PATROLLING for e in events
    )
    violations = sum(isinstance(e, Violation) for e in events)
    alerts = sum(isinstance(e, Alert) for e in events)
    assert (violations + alerts) / patrolling == pytest.approx(0.5, abs=0.02)
    assert alerts / (violations + alerts) == pytest.approx(0.1, abs=0.015)


def test_only_patrolling_drones_report_offences() -> None:
    fleet = make_fleet(
        seed=4,
        count=20,
        violation_probability=1.0,
        alert_probability=0.0,
        battery=BatteryModel(drain_pct_per_s=2.0, charge_pct_per_s=2.0),  # type: ignore[arg-type]
    )
    events = run_for(fleet, 200)
    last_state: dict[str, DroneState] = {}
    offences_by_state: Counter[DroneState] = Counter()
    for event in events:
        if isinstance(event, DroneStatus):
            last_state[event.drone_id] = event.state
        else:
            offences_by_state[last_state[event.drone_id]] += 1
    states_seen = {e.state for e in events if isinstance(e, DroneStatus)}
    assert states_seen == set(DroneState)
    assert set(offences_by_state) == {DroneState.PATROLLING}

"""Checks derived from the models: what a stored message must satisfy."""

from __future__ import annotations

import pytest

from prestacop_shared.events import Alert, DroneStatus, Violation
from prestacop_shared.tickets import HistoricalTicket
from prestacop_stream_storage.rules import FieldRule, model_rules

pytestmark = pytest.mark.unit


def _rules(model: type) -> dict[str, FieldRule]:
    return {rule.field: rule for rule in model_rules(model)}


def test_rules_follow_the_model_field_order() -> None:
    assert [rule.field for rule in model_rules(DroneStatus)] == list(DroneStatus.model_fields)


def test_positions_and_battery_are_bounded_like_the_model() -> None:
    rules = _rules(DroneStatus)
    assert (rules["latitude"].lower, rules["latitude"].upper) == (-90.0, 90.0)
    assert (rules["longitude"].lower, rules["longitude"].upper) == (-180.0, 180.0)
    assert (rules["battery_pct"].lower, rules["battery_pct"].upper) == (0.0, 100.0)
    assert rules["heading_deg"].upper == 360.0
    assert rules["heading_deg"].upper_inclusive is False


def test_violation_codes_must_be_real_dof_codes() -> None:
    code = _rules(Violation)["violation_code"]
    assert (code.required, code.lower, code.upper) == (True, 1, 99)


def test_schema_version_must_be_one_and_enums_their_values() -> None:
    rules = _rules(DroneStatus)
    assert rules["schema_version"].allowed == (1,)
    assert rules["state"].allowed == ("patrolling", "returning", "charging")
    assert rules["state"].required


def test_identity_and_time_are_required_on_the_wire() -> None:
    rules = _rules(Alert)
    for name in ("event_id", "drone_id", "emitted_at"):
        assert rules[name].required, name
        assert rules[name].default is None, name
    assert (rules["event_id"].min_length, rules["event_id"].max_length) == (1, 128)


def test_plain_defaults_are_filled_and_optional_fields_may_be_missing() -> None:
    status, alert, violation = _rules(DroneStatus), _rules(Alert), _rules(Violation)
    assert status["speed_mps"].default == 0.0
    assert alert["detail"].default == ""
    assert violation["source"].default == "drone"
    assert not alert["plate_id"].required
    assert alert["plate_id"].max_length == 16


def test_ticket_source_columns_are_optional_but_provenance_is_not() -> None:
    rules = _rules(HistoricalTicket)
    assert not rules["issue_date"].required
    assert not rules["violation_code"].required
    assert rules["summons_number"].required
    assert rules["source_file"].required
    assert rules["source_line"].lower == 2


def test_every_float_field_and_only_those_must_be_finite() -> None:
    for model in (DroneStatus, Alert, Violation, HistoricalTicket):
        for name, rule in _rules(model).items():
            annotation = model.model_fields[name].annotation
            assert rule.finite == (annotation in (float, float | None)), (model, name)
    assert _rules(DroneStatus)["battery_pct"].finite
    assert _rules(HistoricalTicket)["latitude"].finite

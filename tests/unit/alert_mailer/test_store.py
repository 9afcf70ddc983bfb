"""The state file: alerts survive a reopen, the emailed mark and the first resolution stand."""

from __future__ import annotations

from pathlib import Path

import pytest

from prestacop_alert_mailer.resolve import resolution_event_id, violation_event_id
from prestacop_alert_mailer.store import AlertStatus, AlertStore
from prestacop_shared.events import Alert, AlertReason, AlertResolution, Violation

pytestmark = pytest.mark.unit


def _alert(index: int) -> Alert:
    return Alert(
        drone_id="d-1", latitude=40.7, longitude=-73.9, image_id=f"i-{index}",
        reason=AlertReason.LOW_CONFIDENCE, plate_id="P1",
    )  # fmt: skip


def _decision(alert: Alert, code: int) -> tuple[Violation, AlertResolution]:
    violation = Violation(
        event_id=violation_event_id(alert.alert_id), drone_id=alert.drone_id,
        latitude=alert.latitude, longitude=alert.longitude, violation_code=code,
        plate_id="P1", image_id=alert.image_id, alert_id=alert.alert_id,
    )  # fmt: skip
    resolution = AlertResolution(
        event_id=resolution_event_id(alert.alert_id), drone_id=alert.drone_id,
        latitude=alert.latitude, longitude=alert.longitude, alert_id=alert.alert_id,
        violation_code=code, operator="jdoe", alert_emitted_at=alert.emitted_at,
        violation_event_id=violation.event_id,
    )  # fmt: skip
    return violation, resolution


def test_emailed_mark_survives_reopening(tmp_path: Path) -> None:
    alert = _alert(1)
    store = AlertStore.open(tmp_path / "s.sqlite3")
    assert store.record_alert(alert, source="t/0/1") is True
    assert store.record_alert(alert, source="t/0/9") is False
    store.mark_emailed(alert.alert_id, "<alert-x@prestacop>")
    store.close()

    reopened = AlertStore.open(tmp_path / "s.sqlite3")
    assert reopened.was_emailed(alert.alert_id)
    stored = reopened.get(alert.alert_id)
    assert stored is not None and stored.source == "t/0/1" and stored.alert == alert


def test_first_resolution_stands_and_closes_the_alert(tmp_path: Path) -> None:
    store = AlertStore.open(tmp_path / "s.sqlite3")
    alerts = [_alert(i) for i in range(3)]
    for alert in alerts:
        store.record_alert(alert, source="t/0/0")
    first = store.save_pending_resolution(*_decision(alerts[0], 21))
    second = store.save_pending_resolution(*_decision(alerts[0], 14))
    assert second.violation.violation_code == 21 and not second.published
    assert store.count_open() == 3
    store.mark_resolution_published(alerts[0].alert_id)

    assert first.violation.event_id == violation_event_id(alerts[0].alert_id)
    assert store.count_open() == 2
    open_ids = {s.alert.alert_id for s in store.list_alerts(AlertStatus.OPEN)}
    assert open_ids == {alerts[1].alert_id, alerts[2].alert_id}
    (resolved,) = store.list_alerts(AlertStatus.RESOLVED)
    assert resolved.status is AlertStatus.RESOLVED

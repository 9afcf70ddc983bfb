"""The state file: alerts survive a reopen, the emailed mark and the first resolution stand."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from prestacop_alert_mailer.resolve import resolution_event_id, violation_event_id
from prestacop_alert_mailer.store import (
    AlertStatus,
    AlertStore,
    DeliveryStatus,
    PendingDeadLetter,
    SendRecord,
)
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
    assert reopened.send_record(alert.alert_id).emailed
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


def test_send_journal_survives_reopening_and_old_files_are_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE alerts (alert_id TEXT PRIMARY KEY, payload TEXT NOT NULL, "
        "drone_id TEXT NOT NULL, emitted_at TEXT NOT NULL, received_at TEXT NOT NULL, "
        "source TEXT NOT NULL, emailed_at TEXT, message_id TEXT);"
    )
    old.close()
    in_doubt, refused, failed = _alert(1), _alert(2), _alert(3)
    store = AlertStore.open(path)
    for alert in (in_doubt, refused, failed):
        store.record_alert(alert, source="t/0/1")
    store.mark_data_started(in_doubt.alert_id)
    store.mark_data_started(refused.alert_id)
    store.mark_emailed(refused.alert_id, "<m>", {"b@x.org": "550 no"})
    assert store.dead_letter_alert(failed.alert_id, "554 no", event_id="e1", key=b"k", value=b"v")
    assert not store.save_dead_letter("e1", b"k", b"v2", "t/0/3")
    store.close()

    store = AlertStore.open(path)
    assert store.send_record(in_doubt.alert_id) == SendRecord(False, False, True, 0)
    assert store.note_in_doubt(in_doubt.alert_id) == 1
    assert store.send_record(in_doubt.alert_id) == SendRecord(False, False, False, 1)
    assert store.send_record(refused.alert_id) == SendRecord(True, False, False, 0)
    stored = store.get(refused.alert_id)
    assert stored is not None and stored.refused_recipients == {"b@x.org": "550 no"}
    assert store.send_record(failed.alert_id).dead_lettered
    failed_view = store.get(failed.alert_id)
    assert failed_view is not None and failed_view.delivery is DeliveryStatus.DEAD_LETTERED
    assert failed_view.failure == "554 no"
    assert store.pending_dead_letters() == [PendingDeadLetter("e1", b"k", b"v", "t/0/1")]
    store.mark_dead_letter_delivered("e1")
    assert store.pending_dead_letters() == [] and store.count_pending_dead_letters() == 0

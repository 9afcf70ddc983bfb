"""An operator resolves an alert over HTTP: one violation event, never two; writes need the token."""

from __future__ import annotations

import time

import httpx
import pytest

from prestacop_shared import topics
from prestacop_shared.events import AlertResolution, ViolationSource
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.serde import decode
from tests.integration.alert_mailer.harness import (
    AUTH,
    MailerFactory,
    make_alert,
    metric,
    produce_alerts,
)
from tests.support.kafka import consume_all, violations_in_kafka
from tests.support.smtp import RecordingSMTPServer

pytestmark = pytest.mark.integration

READ_TOKEN = "test-read-token-0123456789abcdef"  # noqa: S105 - test-only token
READ_AUTH = {"Authorization": f"Bearer {READ_TOKEN}"}


def test_resolving_an_alert_publishes_one_operator_violation(
    kafka_settings: KafkaSettings, smtp_server: RecordingSMTPServer, mailer_factory: MailerFactory
) -> None:
    alert, unplated = make_alert(1, plate="HJK9876"), make_alert(2, plate=None)
    mailer = mailer_factory(smtp_server).start()
    produce_alerts(kafka_settings, [alert, unplated])
    smtp_server.wait_for(2, timeout_s=120, settle_s=0)
    resolve = f"{mailer.url}/alerts/{alert.alert_id}/resolve"
    decision = {"violation_code": 21, "operator": "jdoe"}

    no_token = httpx.post(resolve, json=decision)
    wrong_token = httpx.post(resolve, json=decision, headers={"Authorization": "Bearer nope"})
    unknown_code = httpx.post(resolve, json=decision | {"violation_code": 100}, headers=AUTH)
    unknown_alert = httpx.post(f"{mailer.url}/alerts/nope/resolve", json=decision, headers=AUTH)
    assert (no_token.status_code, wrong_token.status_code) == (401, 401)
    assert no_token.headers["WWW-Authenticate"] == "Bearer"
    assert unknown_code.status_code == 422
    assert "violation code 100 is not in the DOF" in unknown_code.text
    assert unknown_alert.status_code == 404
    assert violations_in_kafka(kafka_settings, expected=0) == []

    created = httpx.post(resolve, json=decision, headers=AUTH)
    assert created.status_code == 201, created.text
    assert created.json()["violation_code"] == 21
    assert created.json()["violation_definition"] == "NO PARKING-STREET CLEANING"
    again = httpx.post(resolve, json=decision | {"violation_code": 14}, headers=AUTH)
    assert again.status_code == 409
    assert again.json()["resolution"] == created.json()

    (violation,) = violations_in_kafka(kafka_settings, expected=1)
    assert violation.event_id == created.json()["violation_event_id"]
    assert (violation.violation_code, violation.source) == (21, ViolationSource.OPERATOR)
    assert (violation.alert_id, violation.drone_id) == (alert.alert_id, alert.drone_id)
    assert (violation.latitude, violation.longitude) == (alert.latitude, alert.longitude)
    assert (violation.image_id, violation.plate_id) == (alert.image_id, "HJK9876")
    (resolution_record,) = consume_all(
        kafka_settings, kafka_settings.topic(topics.DRONE_ALERT_RESOLUTIONS), expected=1
    )
    resolution = decode(AlertResolution, resolution_record.value)
    assert (resolution.alert_id, resolution.operator) == (alert.alert_id, "jdoe")
    assert resolution.violation_event_id == violation.event_id

    listed = httpx.get(f"{mailer.url}/alerts?status=open", headers=AUTH).json()
    assert {a["alert_id"] for a in listed} == {unplated.alert_id}
    shown = httpx.get(f"{mailer.url}/alerts/{alert.alert_id}", headers=AUTH).json()
    assert shown["status"] == "resolved" and shown["resolution"]["operator"] == "jdoe"

    unplated_resolve = f"{mailer.url}/alerts/{unplated.alert_id}/resolve"
    needs_plate = httpx.post(unplated_resolve, json=decision, headers=AUTH)
    assert needs_plate.status_code == 422 and "plate_id" in needs_plate.text
    with_plate = httpx.post(unplated_resolve, json=decision | {"plate_id": "XYZ123"}, headers=AUTH)
    assert with_plate.status_code == 201

    mailer.kill()
    mailer.start()
    after_restart = httpx.post(resolve, json=decision, headers=AUTH)
    assert after_restart.status_code == 409
    violations = violations_in_kafka(kafka_settings, expected=2)
    assert sorted(v.alert_id or "" for v in violations) == sorted(
        [alert.alert_id, unplated.alert_id]
    )
    assert httpx.get(f"{mailer.url}/docs").status_code == 200
    assert "/alerts/{alert_id}/resolve" in httpx.get(f"{mailer.url}/openapi.json").text


def test_reads_need_a_token_and_health_tells_no_internals(
    kafka_settings: KafkaSettings, smtp_server: RecordingSMTPServer, mailer_factory: MailerFactory
) -> None:
    alert = make_alert(3)
    mailer = mailer_factory(smtp_server, MAILER_READ_TOKEN=READ_TOKEN).start()
    produce_alerts(kafka_settings, [alert])
    smtp_server.wait_for(1, timeout_s=120, settle_s=0)
    one = f"{mailer.url}/alerts/{alert.alert_id}"

    for url in (f"{mailer.url}/alerts", one, f"{mailer.url}/alerts/unknown"):
        anonymous = httpx.get(url)
        assert anonymous.status_code == 401, anonymous.text
        assert anonymous.headers["WWW-Authenticate"] == "Bearer"
        assert alert.plate_id not in anonymous.text
        assert httpx.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert httpx.get(one, headers=READ_AUTH).json()["plate_id"] == alert.plate_id
    assert httpx.get(one, headers=AUTH).json()["plate_id"] == alert.plate_id
    assert httpx.get(f"{mailer.url}/alerts/unknown", headers=READ_AUTH).status_code == 404
    read_token_write = httpx.post(
        f"{one}/resolve", json={"violation_code": 21, "operator": "x"}, headers=READ_AUTH
    )
    assert read_token_write.status_code == 401
    assert mailer.healthz().json() == {"status": "ok"}

    smtp_server.stop()
    produce_alerts(kafka_settings, [make_alert(4)])  # its send fails: SMTP is degraded
    deadline = time.monotonic() + 60
    while (health := mailer.healthz()).status_code != 503:
        assert time.monotonic() < deadline, "/healthz never said degraded"
        time.sleep(0.5)
    assert health.json() == {"status": "degraded"}
    assert smtp_server.host not in health.text and "SMTP" not in health.text
    assert metric(mailer, 'alert_mailer_component_degraded{component="smtp"}') == 1.0

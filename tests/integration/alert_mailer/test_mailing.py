"""Every alert on drone.alerts becomes exactly one email that names it."""

from __future__ import annotations

import httpx
import pytest

from prestacop_shared.kafka import KafkaSettings
from tests.integration.alert_mailer.harness import (
    AUTH,
    MailerFactory,
    emails_per_alert,
    make_alert,
    produce_alerts,
)
from tests.support.smtp import RecordingSMTPServer

pytestmark = pytest.mark.integration


def test_each_alert_gets_one_email_naming_it(
    kafka_settings: KafkaSettings, smtp_server: RecordingSMTPServer, mailer_factory: MailerFactory
) -> None:
    alerts = [make_alert(i) for i in range(40)]
    mailer = mailer_factory(smtp_server).start()
    produce_alerts(kafka_settings, alerts)

    messages = smtp_server.wait_for(len(alerts), timeout_s=120, settle_s=2)

    assert emails_per_alert(messages) == {alert.alert_id: 1 for alert in alerts}
    by_id = {alert.alert_id: alert for alert in alerts}
    for message in messages:
        alert = by_id[str(message["X-Prestacop-Alert-Id"])]
        assert str(message["Message-ID"]) == f"<alert-{alert.alert_id}@prestacop>"
        assert alert.alert_id in str(message["Subject"])
        assert alert.drone_id in str(message["Subject"])
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        assert text is not None and html is not None
        for part in (text.get_content(), html.get_content()):
            assert alert.alert_id in part
            assert alert.image_id in part
            assert alert.reason.value in part
            assert f"https://www.openstreetmap.org/?mlat={alert.latitude:.6f}" in part
            assert f"{mailer.url}/alerts/{alert.alert_id}/resolve" in part
    assert smtp_server.recipients[0] == ["operators@test.invalid", "duty@test.invalid"]

    listed = httpx.get(
        f"{mailer.url}/alerts", params={"status": "open", "limit": 1000}, headers=AUTH
    ).json()
    assert {row["alert_id"] for row in listed} == set(by_id)
    assert all(row["emailed_at"] is not None for row in listed)
    metrics = httpx.get(f"{mailer.url}/metrics").text
    assert "alert_mailer_emails_sent_total 40.0" in metrics
    assert "alert_mailer_open_alerts 40.0" in metrics
    assert mailer.healthz().json() == {"status": "ok"}

"""An SMTP outage delays mail but loses none and duplicates none; /healthz says degraded."""

from __future__ import annotations

import time

import pytest

from prestacop_shared.kafka import KafkaSettings
from tests.integration.alert_mailer.harness import (
    MailerFactory,
    emails_per_alert,
    make_alert,
    produce_alerts,
)
from tests.support.smtp import RecordingSMTPServer

pytestmark = pytest.mark.integration

OUTAGE_S = 20.0


def test_smtp_outage_delays_but_delivers_every_alert_once(
    kafka_settings: KafkaSettings, smtp_server: RecordingSMTPServer, mailer_factory: MailerFactory
) -> None:
    first, during = [make_alert(i) for i in range(20)], [make_alert(i) for i in range(20, 40)]
    mailer = mailer_factory(smtp_server).start()
    produce_alerts(kafka_settings, first)
    smtp_server.wait_for(10, timeout_s=120, settle_s=0)

    smtp_server.stop()
    received_when_stopped = len(smtp_server.snapshot())
    produce_alerts(kafka_settings, during)
    health_seen: list[tuple[int, dict[str, object]]] = []
    outage_ends = time.monotonic() + OUTAGE_S
    while time.monotonic() < outage_ends:
        response = mailer.healthz()
        health_seen.append((response.status_code, response.json()))
        time.sleep(1)
    smtp_server.start()

    messages = smtp_server.wait_for(len(first) + len(during), timeout_s=120, settle_s=3)
    assert emails_per_alert(messages) == {a.alert_id: 1 for a in first + during}
    assert received_when_stopped < len(first) + len(during)
    degraded = [body for code, body in health_seen if code == 503]
    assert degraded, f"/healthz never said degraded during the outage: {health_seen}"
    assert degraded[-1] == {"status": "degraded"}
    assert "SMTP send failed" in mailer.log_path.read_text()  # the reason: logs, not /healthz

    deadline = time.monotonic() + 30
    while mailer.healthz().status_code != 200:
        assert time.monotonic() < deadline, "/healthz did not recover after SMTP came back"
        time.sleep(0.5)

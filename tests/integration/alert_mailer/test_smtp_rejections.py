"""SMTP replies decide the fate of a mail: 5xx is final after a few tries, 4xx is retried.

A mail the server refuses for its content goes to ``drone.alerts.dlq`` with the server's reply,
and the alerts behind it on the same partition are mailed; a partly refused recipient list is
reported, not silently marked emailed.
"""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from prestacop_shared import topics
from prestacop_shared.events import Alert
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.serde import decode, encode
from tests.integration.alert_mailer.harness import (
    MailerFactory,
    alert_id_of,
    dead_letters,
    emails_per_alert,
    make_alert,
    metric,
    produce_on_one_partition,
    stored_alert,
)
from tests.support.smtp import ScriptedSMTPServer

pytestmark = pytest.mark.integration

REJECTED = "554 5.6.0 Message content rejected: test filter"


def test_a_mail_refused_for_its_content_is_dead_lettered_and_the_partition_moves_on(
    kafka_settings: KafkaSettings,
    scripted_smtp_server: ScriptedSMTPServer,
    mailer_factory: MailerFactory,
) -> None:
    smtp = scripted_smtp_server
    poison, *behind = [make_alert(i) for i in range(6)]

    def reply(message: EmailMessage, _attempt: int) -> str:
        return REJECTED if alert_id_of(message) == poison.alert_id else "250 OK"

    smtp.data_reply = reply
    mailer = mailer_factory(smtp, MAILER_SMTP_PERMANENT_FAILURE_ATTEMPTS="3").start()
    produce_on_one_partition(kafka_settings, [encode(alert) for alert in [poison, *behind]])

    messages = smtp.wait_for(len(behind), timeout_s=60, settle_s=2)
    assert emails_per_alert(messages) == {alert.alert_id: 1 for alert in behind}
    assert smtp.attempts[f"<alert-{poison.alert_id}@prestacop>"] == 3

    (letter,) = dead_letters(kafka_settings, expected=1)
    alerts_topic = kafka_settings.topic(topics.DRONE_ALERTS)
    assert letter.source.startswith(f"{alerts_topic}/") and letter.source.endswith("/0")
    assert REJECTED in letter.reason and "3 attempts" in letter.reason
    assert decode(Alert, letter.raw.encode()) == poison

    shown = stored_alert(mailer, poison.alert_id)
    assert shown["delivery"] == "dead_lettered" and shown["emailed_at"] is None
    assert REJECTED in shown["send_failure"]
    assert stored_alert(mailer, behind[0].alert_id)["delivery"] == "emailed"
    assert metric(mailer, "alert_mailer_permanent_failures_total") == 1.0
    assert metric(mailer, "alert_mailer_dead_letters_total") == 1.0

    mailer.kill()  # a redelivery of the dead-lettered alert sends nothing and dead-letters nothing
    mailer.start()
    assert smtp.wait_for(len(behind) + 1, timeout_s=5, settle_s=0) == messages
    assert len(dead_letters(kafka_settings, expected=1)) == 1


def test_temporary_refusals_are_retried_past_the_permanent_limit(
    kafka_settings: KafkaSettings,
    scripted_smtp_server: ScriptedSMTPServer,
    mailer_factory: MailerFactory,
) -> None:
    smtp = scripted_smtp_server
    alerts = [make_alert(i) for i in range(3)]
    smtp.data_reply = lambda _m, attempt: "451 4.3.0 try later" if attempt <= 4 else "250 OK"
    mailer = mailer_factory(smtp, MAILER_SMTP_PERMANENT_FAILURE_ATTEMPTS="2").start()
    produce_on_one_partition(kafka_settings, [encode(alert) for alert in alerts])

    messages = smtp.wait_for(len(alerts), timeout_s=90, settle_s=2)
    assert emails_per_alert(messages) == {alert.alert_id: 1 for alert in alerts}
    assert all(n == 5 for n in smtp.attempts.values()), smtp.attempts
    assert dead_letters(kafka_settings, expected=0, idle_s=3) == []
    assert metric(mailer, "alert_mailer_permanent_failures_total") == 0.0


def test_a_partly_refused_recipient_list_is_recorded_and_counted(
    kafka_settings: KafkaSettings,
    scripted_smtp_server: ScriptedSMTPServer,
    mailer_factory: MailerFactory,
) -> None:
    smtp = scripted_smtp_server
    refused = "550 5.1.1 duty@test.invalid: no such mailbox"
    smtp.rcpt_reply = lambda address: refused if address == "duty@test.invalid" else "250 OK"
    alert = make_alert(7)
    mailer = mailer_factory(smtp).start()
    produce_on_one_partition(kafka_settings, [encode(alert)])

    (message,) = smtp.wait_for(1, timeout_s=60, settle_s=2)
    assert alert_id_of(message) == alert.alert_id
    assert smtp.recipients == [["operators@test.invalid"]]
    shown = stored_alert(mailer, alert.alert_id)
    assert shown["delivery"] == "emailed"
    assert shown["refused_recipients"] == {"duty@test.invalid": refused}
    assert metric(mailer, "alert_mailer_recipients_refused_total") == 1.0
    assert "recipients refused" in mailer.log_path.read_text()

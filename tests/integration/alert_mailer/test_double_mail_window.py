"""The one window where an alert can be mailed twice, and how narrow it is.

A mail is "in doubt" once the mailer has started DATA and has no reply: the server may have
taken it. The mailer records that durably before DATA, waits for the reply to the end of DATA
far longer than for other commands (``MAILER_SMTP_DATA_TIMEOUT_S``), and, when it must send an
in-doubt mail again (reply timed out, connection lost, mailer killed), marks the new copy
``X-Prestacop-Possible-Duplicate: yes`` with the same ``Message-ID``; after
``MAILER_SMTP_IN_DOUBT_ATTEMPTS`` such sends the alert goes to the dead-letter topic.
"""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.serde import encode
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

DUPLICATE_HEADER = "X-Prestacop-Possible-Duplicate"


def test_a_server_that_answers_data_after_the_command_timeout_gets_each_mail_once(
    kafka_settings: KafkaSettings,
    scripted_smtp_server: ScriptedSMTPServer,
    mailer_factory: MailerFactory,
) -> None:
    smtp = scripted_smtp_server
    smtp.data_delay_s = lambda _m, _n: 3.0
    alerts = [make_alert(i) for i in range(3)]
    mailer = mailer_factory(
        smtp, MAILER_SMTP_TIMEOUT_S="1", MAILER_SMTP_DATA_TIMEOUT_S="30"
    ).start()
    produce_on_one_partition(kafka_settings, [encode(alert) for alert in alerts])

    messages = smtp.wait_for(len(alerts), timeout_s=60, settle_s=5)
    assert emails_per_alert(messages) == {alert.alert_id: 1 for alert in alerts}
    assert not any(DUPLICATE_HEADER in message for message in messages)
    assert metric(mailer, "alert_mailer_sends_in_doubt_total") == 0.0


def test_in_doubt_sends_are_resent_marked_and_bounded(
    kafka_settings: KafkaSettings,
    scripted_smtp_server: ScriptedSMTPServer,
    mailer_factory: MailerFactory,
) -> None:
    smtp = scripted_smtp_server
    slow_once, slow_always, behind = (make_alert(i) for i in range(3))

    def delay_s(message: EmailMessage, attempt: int) -> float:
        alert_id = alert_id_of(message)
        slow = alert_id == slow_always.alert_id or (alert_id == slow_once.alert_id and attempt == 1)
        return 4.0 if slow else 0.0

    smtp.data_delay_s = delay_s
    mailer = mailer_factory(
        smtp, MAILER_SMTP_DATA_TIMEOUT_S="1.5", MAILER_SMTP_IN_DOUBT_ATTEMPTS="2"
    ).start()
    produce_on_one_partition(
        kafka_settings, [encode(alert) for alert in (slow_once, slow_always, behind)]
    )

    messages = smtp.wait_for(5, timeout_s=90, settle_s=5)
    assert emails_per_alert(messages) == {
        slow_once.alert_id: 2,
        slow_always.alert_id: 2,
        behind.alert_id: 1,
    }
    copies = [m for m in messages if alert_id_of(m) == slow_once.alert_id]
    assert [m.get(DUPLICATE_HEADER) for m in copies] == [None, "yes"]
    assert stored_alert(mailer, slow_once.alert_id)["delivery"] == "emailed"
    assert stored_alert(mailer, slow_once.alert_id)["sends_in_doubt"] == 1
    assert DUPLICATE_HEADER not in next(m for m in messages if alert_id_of(m) == behind.alert_id)

    (letter,) = dead_letters(kafka_settings, expected=1)
    assert letter.source.endswith("/1")
    assert "in doubt" in letter.reason and "2 " in letter.reason
    assert stored_alert(mailer, slow_always.alert_id)["delivery"] == "dead_lettered"
    assert metric(mailer, "alert_mailer_sends_in_doubt_total") == 3.0


def test_sigkill_while_the_server_holds_its_reply_resends_once_marked(
    kafka_settings: KafkaSettings,
    scripted_smtp_server: ScriptedSMTPServer,
    mailer_factory: MailerFactory,
) -> None:
    smtp = scripted_smtp_server
    alerts = [make_alert(i) for i in range(4)]
    smtp.hold_reply.set()
    mailer = mailer_factory(smtp).start()
    produce_on_one_partition(kafka_settings, [encode(alert) for alert in alerts])
    assert smtp.reply_held.wait(60), "no mail reached the end of DATA"

    mailer.kill()  # the server has the mail; the mailer never saw the reply
    smtp.hold_reply.clear()
    mailer.start()

    messages = smtp.wait_for(len(alerts) + 1, timeout_s=60, settle_s=5)
    first = alerts[0].alert_id
    assert emails_per_alert(messages) == {a.alert_id: 1 + (a.alert_id == first) for a in alerts}
    copies = [m for m in messages if alert_id_of(m) == first]
    assert [m.get(DUPLICATE_HEADER) for m in copies] == [None, "yes"]
    assert copies[0]["Message-ID"] == copies[1]["Message-ID"]
    assert stored_alert(mailer, first)["sends_in_doubt"] == 1
    assert metric(mailer, "alert_mailer_sends_in_doubt_total") == 1.0

"""A dead letter is written once even when the broker goes away under it; mail goes on.

The test owns its broker (a :class:`~prestacop_devkit.broker.LocalKafka` of its own, not the
suite's), so it can stop it while the mailer is dead-lettering a poison alert.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from prestacop_devkit.broker import LocalKafka
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.serde import encode
from tests.integration.alert_mailer.harness import (
    HoldingSMTPServer,
    MailerFactory,
    dead_letters,
    emails_per_alert,
    make_alert,
    produce_on_one_partition,
)

pytestmark = pytest.mark.integration

OUTAGE_S = 25.0  # well past the 10 s flush timeout after which the old code produced again


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A broker for this module only: the test stops and restarts it."""
    with LocalKafka.on_free_ports(tmp_path_factory.mktemp("own-kafka")) as broker:
        yield broker


@pytest.fixture(scope="module")
def kafka_bootstrap(own_broker: LocalKafka) -> str:
    """Every Kafka fixture of this module talks to ``own_broker``."""
    return own_broker.bootstrap_servers


def test_one_poison_alert_gives_one_dead_letter_across_a_broker_outage(
    own_broker: LocalKafka,
    kafka_settings: KafkaSettings,
    holding_smtp_server: HoldingSMTPServer,
    mailer_factory: MailerFactory,
    tmp_path: Path,
) -> None:
    smtp = holding_smtp_server
    first, *behind = [make_alert(i) for i in range(4)]
    poison = b'{"not": "an alert"}'
    smtp.hold.set()
    produce_on_one_partition(kafka_settings, [encode(first), poison, *map(encode, behind)])
    mailer = mailer_factory(smtp).start()
    assert smtp.session_held.wait(60), "the first alert's mail never started"

    own_broker.stop()  # the poison alert is fetched already; its dead letter meets no broker
    smtp.hold.clear()
    time.sleep(OUTAGE_S)
    mailed_during_outage = emails_per_alert(smtp.snapshot())
    own_broker.start(timeout_s=120)

    messages = smtp.wait_for(1 + len(behind), timeout_s=120, settle_s=3)
    assert emails_per_alert(messages) == {a.alert_id: 1 for a in [first, *behind]}
    (letter,) = dead_letters(kafka_settings, expected=1, idle_s=10)
    assert letter.source.endswith("/1") and letter.raw == poison.decode()
    # The alerts behind the poison one were fetched before the outage: the partition went on
    # without waiting for the broker to take the dead letter.
    assert mailed_during_outage == {a.alert_id: 1 for a in [first, *behind]}
    assert mailer.process is not None and mailer.process.poll() is None, mailer.log()

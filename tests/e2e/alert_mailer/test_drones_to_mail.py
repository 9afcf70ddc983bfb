"""Real drone processes raise alerts; the mailer sends one email per distinct alert."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from prestacop_shared import topics
from prestacop_shared.events import Alert
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.serde import decode
from tests.integration.alert_mailer.harness import MailerFactory, emails_per_alert
from tests.support.kafka import consume_all, create_topics
from tests.support.smtp import RecordingSMTPServer

pytestmark = pytest.mark.e2e

DRONE_PROCESSES = 3
DRONES_PER_PROCESS = 20
FLIGHT_S = 30


def _drone_process(settings: KafkaSettings, index: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRONE_", "KAFKA_"))}
    env |= {
        "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "KAFKA_TOPIC_PREFIX": settings.topic_prefix,
    }
    command = [
        sys.executable, "-m", "prestacop_drone",
        "--drones", str(DRONES_PER_PROCESS),
        "--interval-s", "0.2",
        "--violation-probability", "0.05",
        "--alert-probability", "0.3",
        "--duration-s", str(FLIGHT_S),
        "--host", f"e2e-host-{index}",
    ]  # fmt: skip
    return subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def test_drone_fleet_alerts_each_become_exactly_one_email(
    kafka_settings: KafkaSettings,
    smtp_server: RecordingSMTPServer,
    mailer_factory: MailerFactory,
    tmp_path: Path,
) -> None:
    mailer = mailer_factory(smtp_server)
    create_topics(kafka_settings, [topics.DRONE_STATUS], partitions=3)
    mailer.start()
    drones = [
        _drone_process(kafka_settings, i, tmp_path / f"drone-{i}.log")
        for i in range(DRONE_PROCESSES)
    ]
    for index, drone in enumerate(drones):
        assert drone.wait(FLIGHT_S + 120) == 0, (tmp_path / f"drone-{index}.log").read_text()[
            -3000:
        ]

    produced = consume_all(kafka_settings, kafka_settings.topic(topics.DRONE_ALERTS), idle_s=5)
    alert_ids = {decode(Alert, record.value).alert_id for record in produced}
    assert len(alert_ids) >= 20, "the fleet raised too few alerts to prove anything"

    messages = smtp_server.wait_for(len(alert_ids), timeout_s=180, settle_s=5)
    assert emails_per_alert(messages) == dict.fromkeys(alert_ids, 1)
    assert mailer.healthz().status_code == 200

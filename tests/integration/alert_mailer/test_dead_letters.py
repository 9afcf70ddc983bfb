"""Malformed alert messages go to the dead-letter topic with reason and offset; mail goes on."""

from __future__ import annotations

import json

import httpx
import pytest

from prestacop_shared import topics
from prestacop_shared.events import DeadLetter
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.serde import decode, encode
from tests.integration.alert_mailer.harness import MailerFactory, emails_per_alert, make_alert
from tests.support.kafka import consume_all, produce
from tests.support.smtp import RecordingSMTPServer

pytestmark = pytest.mark.integration


def test_garbage_and_schema_violations_are_dead_lettered_and_valid_alerts_mailed(
    kafka_settings: KafkaSettings, smtp_server: RecordingSMTPServer, mailer_factory: MailerFactory
) -> None:
    valid = [make_alert(i) for i in range(6)]
    missing_image = json.loads(encode(make_alert(100)))
    del missing_image["image_id"]
    bad_reason = json.loads(encode(make_alert(101))) | {"reason": "bored"}
    bad = {
        b"not json at all \xff": "invalid JSON",
        json.dumps(missing_image).encode(): "image_id: Field required",
        json.dumps(bad_reason).encode(): "reason: Input should be",
        b"": "empty message value",
    }
    # All on one key, so one partition, interleaved with valid alerts: order shows the mailer
    # went on after each bad one.
    records: list[tuple[bytes | str | None, bytes]] = []
    for alert, raw in zip(valid, [*bad, b"[]", b"{}"], strict=True):
        records += [("drone-x", raw), ("drone-x", encode(alert))]
    alerts_topic = kafka_settings.topic(topics.DRONE_ALERTS)
    mailer = mailer_factory(smtp_server).start()
    produce(kafka_settings, alerts_topic, records)

    messages = smtp_server.wait_for(len(valid), timeout_s=120, settle_s=2)
    assert emails_per_alert(messages) == {alert.alert_id: 1 for alert in valid}

    letters = [
        decode(DeadLetter, record.value)
        for record in consume_all(
            kafka_settings, kafka_settings.topic(topics.DRONE_ALERTS_DLQ), expected=6
        )
    ]
    assert len(letters) == 6
    offsets_of_bad = {f"{alerts_topic}/{_partition(letters)}/{2 * i}" for i in range(6)}
    assert {letter.source for letter in letters} == offsets_of_bad
    assert all(letter.service == "alert-mailer" for letter in letters)
    reasons = " | ".join(letter.reason for letter in letters)
    for expected_reason in bad.values():
        assert expected_reason in reasons
    assert any(letter.raw.startswith("not json at all") for letter in letters)
    metrics = httpx.get(f"{mailer.url}/metrics").text
    assert "alert_mailer_dead_letters_total 6.0" in metrics


def _partition(letters: list[DeadLetter]) -> str:
    partitions = {letter.source.rsplit("/", 2)[1] for letter in letters}
    assert len(partitions) == 1, partitions
    return partitions.pop()

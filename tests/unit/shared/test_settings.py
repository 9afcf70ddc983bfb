"""Kafka settings, configuration errors, the code table and the fleet's ids."""

from __future__ import annotations

import pytest

from prestacop_shared import topics
from prestacop_shared.config import load_settings
from prestacop_shared.exceptions import ConfigError, UnknownViolationCode
from prestacop_shared.fleet import BOROUGH_BOUNDS, NYC_BOUNDS, borough_of_county, drone_id
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.violation_codes import load_violation_codes, violation_code

pytestmark = pytest.mark.unit


def test_bootstrap_comes_from_the_one_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092, kafka-2:9092")
    settings = load_settings(KafkaSettings)
    assert settings.producer_config()["bootstrap.servers"] == "kafka-1:9092,kafka-2:9092"


@pytest.mark.parametrize("value", ["kafka", "kafka:port", "", "http://kafka:9092"])
def test_bad_bootstrap_names_the_variable_and_form(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", value)
    with pytest.raises(ConfigError) as caught:
        load_settings(KafkaSettings)
    message = str(caught.value)
    assert "KAFKA_BOOTSTRAP_SERVERS" in message
    assert "host:port" in message


def test_sasl_needs_credentials_and_hides_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(ConfigError, match="KAFKA_SASL_USERNAME"):
        load_settings(KafkaSettings)
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "prestacop")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret-value")
    settings = load_settings(KafkaSettings)
    assert "s3cret-value" not in repr(settings)
    config = settings.consumer_config("g")
    assert config["sasl.password"] == "s3cret-value"
    assert config["isolation.level"] == "read_committed"
    assert config["enable.auto.commit"] is False
    assert "s3cret-value" in settings.spark_options()["kafka.sasl.jaas.config"]


def test_producer_is_idempotent_with_acks_all_and_optionally_transactional() -> None:
    settings = KafkaSettings(bootstrap_servers="localhost:9092")
    plain = settings.producer_config(linger_ms=20)
    assert plain["enable.idempotence"] is True
    assert plain["acks"] == "all"
    assert plain["linger.ms"] == 20
    assert "transactional.id" not in plain
    assert settings.producer_config(transactional_id="tx-1")["transactional.id"] == "tx-1"


def test_spark_options_are_prefixed_for_the_kafka_source() -> None:
    options = KafkaSettings(bootstrap_servers="localhost:9092").spark_options()
    assert all(key.startswith("kafka.") for key in options)
    assert options["kafka.isolation.level"] == "read_committed"


def test_topic_prefix_namespaces_every_topic() -> None:
    settings = KafkaSettings(bootstrap_servers="localhost:9092", topic_prefix="staging.")
    assert settings.topic(topics.NYPD_TICKETS) == "staging.nypd.tickets"
    assert len(set(topics.ALL_TOPICS)) == len(topics.ALL_TOPICS)


def test_the_dof_table_is_shipped_with_fines() -> None:
    table = load_violation_codes()
    assert len(table) == 97
    street_cleaning = violation_code(21)
    assert (street_cleaning.fine_manhattan_usd, street_cleaning.fine_elsewhere_usd) == (65, 45)
    assert street_cleaning.long_definition is not None
    assert "Street Cleaning" in street_cleaning.long_definition
    with pytest.raises(UnknownViolationCode, match="95"):
        violation_code(95)


def test_drone_ids_are_stable_and_host_scoped() -> None:
    assert drone_id("nypd", "drone_3.local", 7) == "nypd-drone-3-local-0007"
    assert drone_id("nypd", "a", 1) != drone_id("nypd", "b", 1)
    with pytest.raises(ValueError, match="index"):
        drone_id("nypd", "a", -1)


def test_boroughs_lie_inside_the_city_and_counties_map_to_them() -> None:
    for box in BOROUGH_BOUNDS.values():
        assert NYC_BOUNDS.contains(box.south, box.west)
        assert NYC_BOUNDS.contains(box.north, box.east)
    for county in ("NY", "K", "Q", "BX", "R", "BK", "QN", "MN", "ST"):
        assert borough_of_county(county) in BOROUGH_BOUNDS
    assert borough_of_county(None) is None

"""Every wire model through a real broker, and through Spark with the derived schema."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from confluent_kafka import Producer
from pydantic import BaseModel

from prestacop_shared import topics
from prestacop_shared.events import DeadLetter
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.serde import decode, encode
from prestacop_shared.spark import spark_schema
from prestacop_shared.tickets import HistoricalTicket, detect_layout, ticket_from_source_row
from tests.support.kafka import consume_all, create_topics
from tests.unit.shared.test_events import sample_events

if TYPE_CHECKING:
    from collections.abc import Callable

    from pyspark.sql import SparkSession

pytestmark = pytest.mark.integration


def real_tickets(nyc_data: Path, name: str = "fy2014_head_99_rows.csv") -> list[HistoricalTicket]:
    with (nyc_data / name).open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        layout = detect_layout(next(reader))
        return [
            ticket_from_source_row(
                layout,
                row,
                drone_id="nypd-archive-0001",
                latitude=40.75,
                longitude=-73.98,
                source_file=name,
                source_line=line,
                event_id=f"{name}:{line}",
            )
            for line, row in enumerate(reader, start=2)
        ]


def every_model(nyc_data: Path) -> list[tuple[str, BaseModel]]:
    """(key, event) for one instance of every wire model."""
    events: list[tuple[str, BaseModel]] = [(e.drone_id, e) for e in sample_events()]
    ticket = real_tickets(nyc_data)[0]
    events.append((str(ticket.summons_number), ticket))
    letter = DeadLetter.from_raw(service="t", source="f.csv:9", reason="bad", raw=b"a,b")
    events.append(("f.csv:9", letter))
    return events


def test_every_model_round_trips_through_the_broker_with_its_key(
    kafka_settings: KafkaSettings, nyc_data: Path
) -> None:
    (topic,) = create_topics(kafka_settings, ["wire"])
    sent = every_model(nyc_data)
    producer = Producer(kafka_settings.producer_config())
    for key, event in sent:
        producer.produce(topic, key=key.encode(), value=encode(event))
    assert producer.flush(30) == 0

    received = consume_all(kafka_settings, topic, expected=len(sent))
    assert len(received) == len(sent)
    for (key, event), record in zip(sent, received, strict=True):
        assert record.key == key.encode()
        assert decode(type(event), record.value) == event


def test_transactions_are_all_or_nothing_for_read_committed_consumers(
    kafka_settings: KafkaSettings, nyc_data: Path, unique_name: Callable[[str], str]
) -> None:
    (topic,) = create_topics(kafka_settings, [topics.NYPD_TICKETS])
    tickets = real_tickets(nyc_data)
    producer = Producer(kafka_settings.producer_config(transactional_id=unique_name("tx")))
    producer.init_transactions(30)

    producer.begin_transaction()
    for ticket in tickets[:50]:
        producer.produce(topic, key=str(ticket.summons_number).encode(), value=encode(ticket))
    producer.commit_transaction(30)

    producer.begin_transaction()
    for ticket in tickets[50:]:
        producer.produce(topic, key=str(ticket.summons_number).encode(), value=encode(ticket))
    producer.flush(30)
    producer.abort_transaction(30)

    committed = consume_all(kafka_settings, topic, expected=50, read_committed=True)
    assert [decode(HistoricalTicket, r.value) for r in committed] == tickets[:50]
    everything = consume_all(kafka_settings, topic, expected=99, read_committed=False)
    assert len(everything) == 99, "the aborted records exist but must stay invisible"


def test_spark_parses_every_model_with_the_derived_schema(
    spark: SparkSession, nyc_data: Path
) -> None:
    from pyspark.sql import functions as F  # noqa: N812

    for _key, event in every_model(nyc_data):
        model = type(event)
        frame = spark.createDataFrame([(encode(event).decode(),)], "value string").select(
            F.from_json("value", spark_schema(model)).alias("e")
        )
        row = frame.select("e.*").collect()[0].asDict(recursive=True)
        expected = event.model_dump(mode="python")
        for name, value in expected.items():
            got = row[name]
            if hasattr(value, "value"):  # enums travel as their value
                value = value.value
            if isinstance(got, datetime):  # Spark hands back naive local time
                got = got.astimezone(UTC)
            assert got == value, f"{model.__name__}.{name}: {got!r} != {value!r}"

"""Stream-storage against a real broker and real Spark: what is sent is what is stored.

One store run (in-process, on the session's Spark) serves the round-trip and quarantine tests:
every topic gets K valid events and the status and tickets topics also get broken messages.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from prestacop_shared import topics
from prestacop_shared.events import Event
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.spark import read_dataset, read_quarantine
from prestacop_stream_storage.config import Settings
from prestacop_stream_storage.datasets import DATASETS
from prestacop_stream_storage.service import run
from prestacop_stream_storage.transform import (
    BAD_DATE_REASON,
    BAD_FIELDS_REASON,
    EMPTY_REASON,
    NOT_PARSED_REASON,
    UNKNOWN_PREFIX_REASON,
)
from tests.integration.stream_storage import samples
from tests.support.kafka import create_topics, produce

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = pytest.mark.integration

K = 40


@dataclass(frozen=True)
class Broken:
    """A message that must be quarantined, and a fragment its reason must contain."""

    value: bytes | None
    reason: str


def _broken_status(valid: dict[str, Any]) -> list[Broken]:
    def variant(**changes: Any) -> bytes:
        return json.dumps(valid | changes).encode()

    without_drone = {k: v for k, v in valid.items() if k != "drone_id"}
    return [
        Broken(b"not json at all", NOT_PARSED_REASON),
        Broken(b"[1, 2, 3]", NOT_PARSED_REASON),
        Broken(b"", EMPTY_REASON),
        Broken(None, EMPTY_REASON),
        Broken(variant(latitude="forty"), NOT_PARSED_REASON),
        Broken(variant(emitted_at="2024-03-09T12:00:00"), NOT_PARSED_REASON),  # no zone
        Broken(variant(latitude=95.5), "latitude: must be <= 90.0"),
        Broken(variant(longitude=-200.0), "longitude: must be >= -180.0"),
        Broken(variant(battery_pct=150.0), "battery_pct: must be <= 100.0"),
        Broken(variant(heading_deg=360.0), "heading_deg: must be < 360.0"),
        Broken(variant(schema_version=2), "schema_version: must be one of 1"),
        Broken(variant(state="flying"), "state: must be one of"),
        Broken(variant(drone_id=""), "drone_id: shorter than 1"),
        Broken(json.dumps(without_drone).encode(), "drone_id: missing"),
        # Spark's JSON parser reads NaN and Infinity (bare or quoted), and NaN < 0 is false.
        Broken(variant(latitude=float("nan")), "latitude: not a finite number"),
        Broken(variant(battery_pct=float("inf")), "battery_pct: not a finite number"),
        Broken(variant(heading_deg=float("-inf")), "heading_deg: not a finite number"),
        Broken(variant(longitude="NaN"), "longitude: not a finite number"),
    ]


def _broken_tickets(valid: bytes) -> list[Broken]:
    fields = valid[len(b"T1,2016-07-01,") :]
    return [
        Broken(b"", EMPTY_REASON),
        Broken(b"T2," + valid[3:], UNKNOWN_PREFIX_REASON + "T2"),
        Broken(b'{"summons_number": 1}', UNKNOWN_PREFIX_REASON + '{"summons_number'),
        Broken(b"T1,2016-02-30," + fields, BAD_DATE_REASON),
        Broken(b"T1,07/01/2016," + fields, BAD_DATE_REASON),
        Broken(b"T1,2016-07-01" + fields, BAD_DATE_REASON),
        Broken(b"T1,2016-07-01," + fields + b",extra", BAD_FIELDS_REASON),
        Broken(b"T1,2016-07-01," + fields.rsplit(b",", 1)[0], BAD_FIELDS_REASON),
        Broken(b'T1,2016-07-01,"' + fields, BAD_FIELDS_REASON),
        Broken(b"T1,2016-07-01," + fields.replace(b",", b',x"y', 1), BAD_FIELDS_REASON),
        Broken(b"T1,2016-07-01," + fields.replace(b",", b",a\nb", 1), BAD_FIELDS_REASON),
    ]


@dataclass(frozen=True)
class StoreRun:
    """What was sent, and where it was stored."""

    sent: dict[str, list[Event]]
    broken: dict[str, list[Broken]]
    topic_names: dict[str, str]
    data_dir: Path


@pytest.fixture(scope="module")
def module_kafka(kafka_bootstrap: str) -> KafkaSettings:
    """Kafka settings in a topic namespace shared by this module's tests (one store run)."""
    return KafkaSettings(
        bootstrap_servers=kafka_bootstrap,
        topic_prefix=f"t-stream-storage-{uuid.uuid4().hex[:8]}.",
        client_id="prestacop-tests",
    )


@pytest.fixture(scope="module")
def store_run(
    spark: SparkSession,
    module_kafka: KafkaSettings,
    tmp_path_factory: pytest.TempPathFactory,
    nyc_data: Path,
) -> StoreRun:
    """K valid events per dataset plus broken messages, produced then stored (available-now)."""
    kafka_settings = module_kafka
    sent: dict[str, list[Event]] = {
        "status": list(samples.drone_statuses(K)),
        "violations": list(samples.violations(K)),
        "alerts": list(samples.alerts(K)),
        "alert_resolutions": list(samples.alert_resolutions(K)),
        "tickets": list(samples.tickets(K, nyc_data)),
    }
    broken = {
        "status": _broken_status(samples.as_json(sent["status"][0])),
        "tickets": _broken_tickets(samples.wire_value(sent["tickets"][0])),
    }
    create_topics(kafka_settings, topics.DATA_TOPICS, partitions=2)
    names = {name: kafka_settings.topic(DATASETS[name].topic) for name in DATASETS}
    for name, events in sent.items():
        # Broken messages go in the middle so valid ones follow them at higher offsets.
        half = len(events) // 2
        records: list[tuple[bytes | str | None, bytes]] = [
            (e.drone_id, samples.wire_value(e)) for e in events
        ]
        bad: list[tuple[bytes | str | None, Any]] = [
            (b"bad", b.value) for b in broken.get(name, [])
        ]
        produce(kafka_settings, names[name], records[:half] + bad + records[half:])  # type: ignore[arg-type]
    data_dir = tmp_path_factory.mktemp("stream-storage") / "data"
    settings = Settings(data_dir=data_dir, max_offsets_per_trigger=25)
    run(spark, settings, kafka_settings, available_now=True)
    return StoreRun(sent=sent, broken=broken, topic_names=names, data_dir=data_dir)


def test_every_dataset_holds_exactly_what_was_sent_field_by_field(
    spark: SparkSession, store_run: StoreRun
) -> None:
    for name, events in store_run.sent.items():
        dataset = DATASETS[name]
        rows = [
            row.asDict()
            for row in read_dataset(
                spark, dataset.output_dir(store_run.data_dir), dataset.model
            ).collect()
        ]
        assert len(rows) == K, name
        stored = {row["event_id"]: row for row in rows}
        assert len(stored) == K, f"{name}: duplicate event ids"
        for event in events:
            row = stored[event.event_id]
            assert samples.from_stored(dataset.model, row) == event, name
            assert row["kafka_topic"] == store_run.topic_names[name]
            expected_date = (
                event.emitted_at.date() if name != "tickets" else _issue_month(event)  # type: ignore[arg-type]
            )
            assert row["event_date"] == expected_date, (name, event.event_id)


def _issue_month(ticket: Any) -> Any:
    """Tickets are filed by month (PartitionRule.ISSUE_MONTH): the issue month's first day."""
    from datetime import datetime

    return datetime.strptime(ticket.issue_date, "%m/%d/%Y").date().replace(day=1)  # noqa: DTZ007


def test_broken_messages_are_quarantined_with_their_offsets_and_why(
    spark: SparkSession, store_run: StoreRun
) -> None:
    quarantined = [
        row.asDict() for row in read_quarantine(spark, store_run.data_dir / "quarantine").collect()
    ]
    for name, broken in store_run.broken.items():
        topic = store_run.topic_names[name]
        mine = [row for row in quarantined if row["kafka_topic"] == topic]
        assert len(mine) == len(broken), name
        assert len({(r["kafka_partition"], r["kafka_offset"]) for r in mine}) == len(broken)
        by_value: dict[str | None, list[dict[str, Any]]] = {}
        for row in mine:
            by_value.setdefault(row["raw_value"], []).append(row)
        for message in broken:
            text = None if message.value is None else message.value.decode()
            # Spark's CSV cannot tell an empty value from a missing one: both read back as null.
            candidates = by_value.get(text) or by_value.get(None if text == "" else text, [])
            assert candidates, f"{name}: {message.value!r} not quarantined"
            assert any(message.reason in row["reason"] for row in candidates), (
                f"{name}: {message.value!r} quarantined for {[r['reason'] for r in candidates]}"
            )
            assert all(row["event_date"] is not None for row in candidates)
    assert {row["kafka_topic"] for row in quarantined} == {
        store_run.topic_names[name] for name in store_run.broken
    }


def test_a_new_checkpoint_over_an_old_output_is_refused(
    spark: SparkSession, store_run: StoreRun, module_kafka: KafkaSettings, tmp_path: Path
) -> None:
    from prestacop_stream_storage.exceptions import CheckpointMismatchError

    settings = Settings(data_dir=store_run.data_dir, checkpoint_dir=tmp_path / "fresh-checkpoints")
    with pytest.raises(CheckpointMismatchError, match="already holds stored batches"):
        run(spark, settings, module_kafka, available_now=True)
    assert not spark.streams.active

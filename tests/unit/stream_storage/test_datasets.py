"""The dataset registry: topics, folders and the exact columns stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from prestacop_shared import topics
from prestacop_shared.datasets import HEADER_FILE, FileLayout, PartitionRule, files_carry_header
from prestacop_shared.events import Alert, AlertResolution, DroneStatus, Violation
from prestacop_shared.exceptions import PrestacopError
from prestacop_shared.spark import (
    QUARANTINE_SCHEMA,
    header_line,
    read_dataset,
    read_quarantine,
    stored_schema,
)
from prestacop_shared.tickets import HistoricalTicket
from prestacop_stream_storage.datasets import DATASETS, QUARANTINE_COLUMNS

pytestmark = pytest.mark.unit

KAFKA_COLUMNS = ("kafka_topic", "kafka_partition", "kafka_offset")


@pytest.mark.parametrize(
    ("name", "topic", "model", "folder"),
    [
        ("status", topics.DRONE_STATUS, DroneStatus, "drone_msg/status"),
        ("violations", topics.DRONE_VIOLATIONS, Violation, "drone_msg/violations"),
        ("alerts", topics.DRONE_ALERTS, Alert, "drone_msg/alerts"),
        (
            "alert_resolutions",
            topics.DRONE_ALERT_RESOLUTIONS,
            AlertResolution,
            "drone_msg/alert_resolutions",
        ),
        ("tickets", topics.NYPD_TICKETS, HistoricalTicket, "archived_nypd_msg"),
    ],
)
def test_each_dataset_stores_its_topic_in_its_folder(
    name: str, topic: str, model: type, folder: str
) -> None:
    dataset = DATASETS[name]
    assert (dataset.topic, dataset.model) == (topic, model)
    assert dataset.output_dir(Path("/d")) == Path("/d") / folder
    assert dataset.quarantine_dir(Path("/d")) == Path("/d/quarantine") / name
    assert dataset.checkpoint_dir(Path("/c")) == Path("/c") / name
    assert dataset.quarantine_checkpoint_dir(Path("/c")) == Path("/c/quarantine") / name


def test_every_data_topic_is_stored() -> None:
    assert {dataset.topic for dataset in DATASETS.values()} == set(topics.DATA_TOPICS)


@pytest.mark.parametrize("name", list(DATASETS))
def test_stored_columns_are_the_model_fields_then_kafka_position_then_date(name: str) -> None:
    dataset = DATASETS[name]
    expected = (*dataset.model.model_fields, *KAFKA_COLUMNS, "event_date")
    assert dataset.stored_columns == expected
    assert dataset.stored_columns == tuple(stored_schema(dataset.model).fieldNames())


def test_drone_events_are_filed_by_day_and_tickets_by_month() -> None:
    assert [d.name for d in DATASETS.values() if d.filed_by_month] == ["tickets"]
    # transform.event_date files every JSON (CSV-with-header) dataset by emitted_at's day.
    json_rules = {
        d.partition_rule for d in DATASETS.values() if d.layout is FileLayout.CSV_WITH_HEADER
    }
    assert json_rules == {PartitionRule.EMITTED_DATE}


def test_quarantine_keeps_where_what_and_why() -> None:
    assert QUARANTINE_COLUMNS == (
        *KAFKA_COLUMNS,
        "kafka_timestamp",
        "raw_value",
        "reason",
        "event_date",
    )
    assert QUARANTINE_COLUMNS == tuple(QUARANTINE_SCHEMA.fieldNames())


def test_reading_a_quarantine_without_any_sink_is_refused(tmp_path: Path) -> None:
    (tmp_path / "status" / "event_date=2024-01-01").mkdir(parents=True)
    with pytest.raises(Exception, match="no quarantine sink"):
        read_quarantine(None, tmp_path)  # type: ignore[arg-type]


def test_only_tickets_are_stored_headerless_with_the_header_beside_them() -> None:
    layouts = {name: dataset.layout for name, dataset in DATASETS.items()}
    assert layouts.pop("tickets") is FileLayout.CSV_HEADER_BESIDE
    assert set(layouts.values()) == {FileLayout.CSV_WITH_HEADER}
    tickets = DATASETS["tickets"]
    assert tickets.header_file(Path("/d")) == Path("/d/archived_nypd_msg/_header.csv")
    assert header_line(stored_schema(HistoricalTicket)).split(",") == list(tickets.file_columns)


def test_a_header_file_that_names_other_columns_is_refused(tmp_path: Path) -> None:
    (tmp_path / "_spark_metadata").mkdir()
    (tmp_path / HEADER_FILE).write_text("schema_version,event_id\n", encoding="utf-8")
    assert not files_carry_header(tmp_path)
    with pytest.raises(PrestacopError, match="names other columns"):
        read_dataset(None, tmp_path, HistoricalTicket)  # type: ignore[arg-type]

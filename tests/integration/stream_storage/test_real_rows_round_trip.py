"""Every real sample row of every fiscal year: encoded as T1, through Kafka and stream-storage,
read back (Spark's ``read_dataset``, and DuckDB on the committed files) to its exact source text.
"""

from __future__ import annotations

import csv
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pytest

from prestacop_shared import datasets, topics
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.sink_log import committed_files
from prestacop_shared.spark import read_dataset, stored_schema
from prestacop_shared.ticket_lines import encode_ticket, event_date_of
from prestacop_shared.tickets import (
    HistoricalTicket,
    TicketLayout,
    detect_layout,
    ticket_from_source_row,
    ticket_to_source_row,
)
from prestacop_stream_storage.config import Settings
from prestacop_stream_storage.service import run
from tests.integration.stream_storage import samples
from tests.support.kafka import create_topics, produce

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = pytest.mark.integration

TICKETS = datasets.TICKETS


@dataclass(frozen=True)
class Source:
    """One real sample file: its layout and its rows (by line number)."""

    layout: TicketLayout
    rows: dict[int, list[str]]


@dataclass(frozen=True)
class Stored:
    """What was sent (by event id) and where it was stored."""

    sources: dict[str, Source]
    data_dir: Path


def _real_files(nyc_data: Path) -> list[Path]:
    files = sorted(nyc_data.glob("fy20*_head_*_rows.csv"))
    assert {f.name[:6] for f in files} == {"fy2014", "fy2015", "fy2016", "fy2017"}
    return files


@pytest.fixture(scope="module")
def stored(
    spark: SparkSession,
    kafka_bootstrap: str,
    nyc_data: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Stored:
    """Every real sample row as a T1 message, stored by one available-now run."""
    kafka = KafkaSettings(
        bootstrap_servers=kafka_bootstrap,
        topic_prefix=f"t-round-trip-{uuid.uuid4().hex[:8]}.",
        client_id="prestacop-tests",
    )
    sources: dict[str, Source] = {}
    records: list[tuple[str, bytes]] = []
    for path in _real_files(nyc_data):
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        layout = detect_layout(rows[0])
        sources[path.name] = Source(layout, dict(enumerate(rows[1:], start=2)))
        for line, values in sources[path.name].rows.items():
            ticket = ticket_from_source_row(
                layout, values, drone_id="nypd-archive-1", latitude=40.7, longitude=-73.9,
                source_file=path.name, source_line=line, event_id=f"{path.name}:{line}",
            )  # fmt: skip
            records.append((str(ticket.summons_number), encode_ticket(ticket)))
    create_topics(kafka, [topics.NYPD_TICKETS], partitions=2)
    produce(kafka, kafka.topic(topics.NYPD_TICKETS), records)  # type: ignore[arg-type]
    data_dir = tmp_path_factory.mktemp("round-trip") / "data"
    run(spark, Settings(data_dir=data_dir, datasets="tickets"), kafka, available_now=True)
    return Stored(sources, data_dir)


def _check_source_text(stored: Stored, tickets: list[HistoricalTicket]) -> None:
    expected = sum(len(source.rows) for source in stored.sources.values())
    assert len(tickets) == expected
    assert len({t.event_id for t in tickets}) == expected, "a row stored twice"
    for ticket in tickets:
        source = stored.sources[ticket.source_file]
        assert ticket_to_source_row(ticket, source.layout) == source.rows[ticket.source_line], (
            ticket.event_id
        )


def test_spark_reads_every_real_row_back_to_its_source_text(
    spark: SparkSession, stored: Stored
) -> None:
    frame = read_dataset(spark, TICKETS.output_dir(stored.data_dir), TICKETS.model)
    tickets = [
        samples.from_stored(HistoricalTicket, row.asDict())
        for row in frame.collect()  # type: ignore[misc]
    ]
    _check_source_text(stored, tickets)  # type: ignore[arg-type]


def test_every_real_row_is_filed_under_the_first_day_of_its_issue_month(
    spark: SparkSession, stored: Stored
) -> None:
    # The catalogue's rule (PartitionRule.ISSUE_MONTH): the month of the T1 value's date, which
    # is the issue date, else emitted_at's date (real rows hold issue dates that are no day).
    frame = read_dataset(spark, TICKETS.output_dir(stored.data_dir), TICKETS.model)
    filed = {}
    for row in frame.collect():
        ticket = samples.from_stored(HistoricalTicket, row.asDict())
        filed[ticket.event_id] = (row["event_date"], event_date_of(ticket).replace(day=1))  # type: ignore[union-attr]
    assert len(filed) == sum(len(source.rows) for source in stored.sources.values())
    wrong = {event_id: pair for event_id, pair in filed.items() if pair[0] != pair[1]}
    assert not wrong, list(wrong.items())[:5]
    assert all(found.day == 1 for found, _ in filed.values())


def test_duckdb_reads_the_committed_headerless_files_back_to_the_source_text(
    stored: Stored,
) -> None:
    folder = TICKETS.output_dir(stored.data_dir)
    assert not datasets.files_carry_header(folder)
    names = TICKETS.header_file(stored.data_dir).read_text(encoding="utf-8").strip().split(",")
    assert tuple(names) == TICKETS.file_columns
    files = [str(f.path) for f in committed_files(folder)]
    types = {f.name: f.dataType.typeName() for f in stored_schema(HistoricalTicket).fields}
    duck = {"long": "BIGINT", "integer": "INTEGER", "double": "DOUBLE"}
    columns = "{" + ", ".join(f"'{n}': '{duck.get(types[n], 'VARCHAR')}'" for n in names) + "}"
    rows = duckdb.sql(
        f"SELECT * FROM read_csv({files!r}, header=false, columns={columns}, quote='\"', "  # noqa: S608
        "escape='\"', allow_quoted_nulls=false, auto_detect=false, hive_partitioning=false)"
    ).fetchall()
    tickets = []
    for row in rows:
        fields: dict[str, Any] = dict(zip(names, row, strict=True))
        tickets.append(
            HistoricalTicket.model_validate({n: fields[n] for n in TICKETS.model.model_fields})
        )
    _check_source_text(stored, tickets)

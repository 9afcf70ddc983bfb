"""A dataset's one query: its two halves (stored rows, quarantine) through Spark's file sinks.

Each micro-batch writes the stored rows, then the quarantine; a crash between the two leaves
the stored half committed and the quarantine half missing, and the re-run (same batch id, same
records) must then write the quarantine and nothing twice. These tests drive
:class:`DatasetSinks` with real batches in the Kafka source's shape and read the results back
through the sinks' own logs, for the tickets (checked T1 lines, stored as text) and for a drone
dataset (JSON, parsed, stored as CSV); the SIGKILL test of the whole process is in
``test_crash.py``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from prestacop_shared import datasets
from prestacop_shared.sink_log import committed_files, latest_batch
from prestacop_shared.spark import header_line, read_dataset, read_quarantine, stored_schema
from prestacop_stream_storage.queries import DatasetSinks
from prestacop_stream_storage.transform import check_ticket_lines
from tests.integration.stream_storage import samples

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

pytestmark = pytest.mark.integration

TICKETS = datasets.TICKETS
STATUS = datasets.STATUS


def _records(spark: SparkSession, topic: str, values: list[bytes]) -> DataFrame:
    """Kafka records of ``values``, in the Kafka source's shape."""
    at = datetime(2026, 12, 1, 12, tzinfo=UTC)
    rows = [(topic, 0, offset, at, value) for offset, value in enumerate(values)]
    return spark.createDataFrame(
        rows, "topic string, partition int, offset long, timestamp timestamp, value binary"
    )


def _batch(spark: SparkSession, values: list[bytes]) -> DataFrame:
    """A checked batch of ``values``, as the ticket query's micro-batch has it."""
    return check_ticket_lines(_records(spark, TICKETS.topic, values))


@dataclass(frozen=True)
class Values:
    """Valid values (``good``, of the events ``event_ids``) and values to quarantine."""

    event_ids: list[str]
    good: list[bytes]
    bad: list[bytes]


@pytest.fixture(scope="module")
def values(nyc_data: Path) -> Values:
    tickets = samples.tickets(40, nyc_data)
    good = [samples.wire_value(t) for t in tickets]
    bad = [b"T2," + good[0][3:], b"T1,2016-13-45," + good[1][14:], b""]
    return Values([t.event_id for t in tickets], good, bad)


def _ids(spark: SparkSession, dataset: datasets.Dataset, data_dir: Path) -> list[str]:
    frame = read_dataset(spark, dataset.output_dir(data_dir), dataset.model)
    return [str(row.event_id) for row in frame.select("event_id").collect()]


def test_a_clean_batch_gives_the_quarantine_an_empty_entry(
    spark: SparkSession, values: Values, tmp_path: Path
) -> None:
    good = values.good
    sinks = DatasetSinks(spark, TICKETS, tmp_path)
    sinks(_batch(spark, good), 0)
    assert len(_ids(spark, TICKETS, tmp_path)) == len(good)
    quarantine = TICKETS.quarantine_dir(tmp_path)
    assert latest_batch(quarantine) == 0  # the batch is in the quarantine's log...
    assert committed_files(quarantine) == []  # ...with no file


@pytest.fixture(scope="module")
def statuses() -> Values:
    events = samples.drone_statuses(30)
    good = [samples.wire_value(e) for e in events]
    forty = json.dumps(json.loads(good[0]) | {"latitude": "forty"}).encode()
    bad = [b"not json at all", forty, b""]
    return Values([str(e.event_id) for e in events], good, bad)


@pytest.fixture(params=[TICKETS, STATUS], ids=lambda d: d.name)
def case(request: pytest.FixtureRequest) -> tuple[datasets.Dataset, Values]:
    """Each layout: the tickets (T1 lines) and a drone dataset (JSON), with their values."""
    dataset: datasets.Dataset = request.param
    fixture = "values" if dataset is TICKETS else "statuses"
    return dataset, request.getfixturevalue(fixture)


def test_a_batch_with_bad_values_stores_the_rest_and_quarantines_those(
    spark: SparkSession, case: tuple[datasets.Dataset, Values], tmp_path: Path
) -> None:
    dataset, values = case
    good, bad = values.good, values.bad
    sinks = DatasetSinks(spark, dataset, tmp_path)
    sinks(sinks.judged(_records(spark, dataset.topic, good[:20] + bad + good[20:])), 0)
    assert sorted(_ids(spark, dataset, tmp_path)) == sorted(values.event_ids)
    quarantined = read_quarantine(spark, dataset.quarantine_dir(tmp_path)).collect()
    assert sorted((row.raw_value or "").encode() for row in quarantined) == sorted(bad)
    assert all(row.reason for row in quarantined)
    # Tickets: text files, the header beside them; drone datasets: CSV, a header in each file.
    files = committed_files(dataset.output_dir(tmp_path))
    header = header_line(stored_schema(dataset.model))
    carries_header = datasets.files_carry_header(dataset.output_dir(tmp_path))
    assert files
    assert carries_header == (dataset is not TICKETS)
    assert all(f.path.read_text().startswith(header) == carries_header for f in files)


def test_a_crash_between_the_halves_is_repaired_by_the_rerun(
    spark: SparkSession, case: tuple[datasets.Dataset, Values], tmp_path: Path
) -> None:
    dataset, values = case
    good, bad = values.good, values.bad
    first = DatasetSinks(spark, dataset, tmp_path)
    batch = first.judged(_records(spark, dataset.topic, bad + good[10:]))
    first(first.judged(_records(spark, dataset.topic, good[:10])), 0)
    assert committed_files(dataset.quarantine_dir(tmp_path)) == []  # a clean batch: no file
    assert first.store(batch, 1) == len(bad)  # counted (through the date shuffle for drones)
    # Killed here: batch 1 is stored, its quarantine half is not. The restarted query re-runs
    # batch 1 with the same records; the stored sink skips it, so nothing was counted, and the
    # quarantine must be read rather than assumed empty.
    again = DatasetSinks(spark, dataset, tmp_path)
    assert again.store(batch, 1) is None
    again(batch, 1)
    assert sorted(_ids(spark, dataset, tmp_path)) == sorted(values.event_ids)
    quarantined = read_quarantine(spark, dataset.quarantine_dir(tmp_path)).collect()
    assert sorted((row.raw_value or "").encode() for row in quarantined) == sorted(bad)

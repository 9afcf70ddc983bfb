"""The one ticket query's two halves (stored lines, quarantine) through Spark's file sinks.

Each micro-batch writes the stored lines, then the quarantine; a crash between the two leaves
the stored half committed and the quarantine half missing, and the re-run (same batch id, same
records) must then write the quarantine and nothing twice. These tests drive
:class:`TicketSinks` with real batches in the Kafka source's shape and read the results back
through the sinks' own logs; the SIGKILL test of the whole process is in ``test_crash.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from prestacop_shared import datasets
from prestacop_shared.sink_log import committed_files, latest_batch
from prestacop_shared.spark import read_dataset, read_quarantine
from prestacop_stream_storage.queries import TicketSinks
from prestacop_stream_storage.transform import check_ticket_lines
from tests.integration.stream_storage import samples

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

pytestmark = pytest.mark.integration

TICKETS = datasets.TICKETS


def _batch(spark: SparkSession, values: list[bytes]) -> DataFrame:
    """A checked batch of ``values``, as the ticket query's micro-batch has it."""
    at = datetime(2026, 12, 1, 12, tzinfo=UTC)
    rows = [("nypd.tickets", 0, offset, at, value) for offset, value in enumerate(values)]
    frame = spark.createDataFrame(
        rows, "topic string, partition int, offset long, timestamp timestamp, value binary"
    )
    return check_ticket_lines(frame)


@dataclass(frozen=True)
class Values:
    """Valid T1 values of real rows (``good``, of ``event_ids``) and values to quarantine."""

    event_ids: list[str]
    good: list[bytes]
    bad: list[bytes]


@pytest.fixture(scope="module")
def values(nyc_data: Path) -> Values:
    tickets = samples.tickets(40, nyc_data)
    good = [samples.wire_value(t) for t in tickets]
    bad = [b"T2," + good[0][3:], b"T1,2016-13-45," + good[1][14:], b""]
    return Values([t.event_id for t in tickets], good, bad)


def _stored_ids(spark: SparkSession, data_dir: Path) -> list[str]:
    frame = read_dataset(spark, TICKETS.output_dir(data_dir), TICKETS.model)
    return [row.event_id for row in frame.select("event_id").collect()]


def test_a_clean_batch_gives_the_quarantine_an_empty_entry(
    spark: SparkSession, values: Values, tmp_path: Path
) -> None:
    good = values.good
    sinks = TicketSinks(spark, TICKETS, tmp_path)
    sinks(_batch(spark, good), 0)
    assert len(_stored_ids(spark, tmp_path)) == len(good)
    quarantine = TICKETS.quarantine_dir(tmp_path)
    assert latest_batch(quarantine) == 0  # the batch is in the quarantine's log...
    assert committed_files(quarantine) == []  # ...with no file


def test_a_batch_with_bad_values_stores_the_rest_and_quarantines_those(
    spark: SparkSession, values: Values, tmp_path: Path
) -> None:
    good, bad = values.good, values.bad
    sinks = TicketSinks(spark, TICKETS, tmp_path)
    sinks(_batch(spark, good[:20] + bad + good[20:]), 0)
    assert len(_stored_ids(spark, tmp_path)) == len(good)
    quarantined = read_quarantine(spark, TICKETS.quarantine_dir(tmp_path)).collect()
    assert sorted((row.raw_value or "").encode() for row in quarantined) == sorted(bad)
    assert all(row.reason for row in quarantined)


def test_a_crash_between_the_halves_is_repaired_by_the_rerun(
    spark: SparkSession, values: Values, tmp_path: Path
) -> None:
    good, bad = values.good, values.bad
    batch = _batch(spark, bad + good[10:])
    first = TicketSinks(spark, TICKETS, tmp_path)
    first(_batch(spark, good[:10]), 0)
    assert first.store(batch, 1) == len(bad)
    # Killed here: batch 1 is stored, its quarantine half is not. The restarted query re-runs
    # batch 1 with the same records; the stored sink skips it, so nothing was counted, and the
    # quarantine must be read rather than assumed empty.
    again = TicketSinks(spark, TICKETS, tmp_path)
    assert again.store(batch, 1) is None
    again(batch, 1)
    ids = _stored_ids(spark, tmp_path)
    assert sorted(ids) == sorted(values.event_ids)
    quarantined = read_quarantine(spark, TICKETS.quarantine_dir(tmp_path)).collect()
    assert sorted((row.raw_value or "").encode() for row in quarantined) == sorted(bad)

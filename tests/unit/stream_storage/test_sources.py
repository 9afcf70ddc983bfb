"""Start-up reports: a query's backlog from its checkpoint, and failures without Spark's plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prestacop_stream_storage.runner import failure_summary
from prestacop_stream_storage.sources import query_backlog

pytestmark = pytest.mark.unit


def _checkpoint(root: Path, batch: int, offsets: dict[str, dict[str, int]]) -> Path:
    (root / "offsets").mkdir(parents=True)
    (root / "commits").mkdir()
    metadata = json.dumps({"batchWatermarkMs": 0, "batchTimestampMs": 0})
    (root / "offsets" / str(batch)).write_text(f"v1\n{metadata}\n{json.dumps(offsets)}\n")
    (root / "commits" / str(batch)).write_text("v1\n{}\n")
    return root


def test_a_stored_query_is_behind_by_what_arrived_since_its_last_commit(tmp_path: Path) -> None:
    checkpoint = _checkpoint(tmp_path / "c", 3, {"t": {"0": 10, "1": 4}})
    backlog = query_backlog("store-x", "t", checkpoint, {0: (0, 15), 1: (0, 4)})
    assert (backlog.behind, backlog.expired, backlog.first_run) == (5, 0, False)


def test_offsets_deleted_by_retention_before_being_stored_are_expired(tmp_path: Path) -> None:
    checkpoint = _checkpoint(tmp_path / "c", 0, {"t": {"0": 10}})
    backlog = query_backlog("store-x", "t", checkpoint, {0: (25, 40), 1: (0, 2)})
    # partition 0: 10..24 expired, 25..39 to read; partition 1 is new to the checkpoint.
    assert (backlog.behind, backlog.expired) == (17, 15)


def test_a_first_run_reads_what_the_topic_still_holds(tmp_path: Path) -> None:
    backlog = query_backlog("store-x", "t", tmp_path / "none", {0: (100, 130)})
    assert (backlog.behind, backlog.expired, backlog.first_run) == (30, 0, True)


def test_a_failure_is_summarised_without_the_plan_spark_appends() -> None:
    plan = "\n".join(f"+- Project [col{i}]" for i in range(5_000))
    error = RuntimeError(
        "[STREAM_FAILED] Query [id = 1] terminated with exception: UnknownTopicOrPartition\n"
        f"=== Streaming Query ===\nCurrent Logical Plan:\n{plan}"
    )
    summary = failure_summary(error)
    assert summary.endswith("terminated with exception: UnknownTopicOrPartition")
    assert "Logical Plan" not in summary
    assert len(failure_summary(RuntimeError("x" * 50_000))) < 1_100

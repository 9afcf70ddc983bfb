"""A checkpoint and an output folder are used together or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from prestacop_shared.datasets import STATUS, TICKETS, Dataset
from prestacop_shared.sink_log import log_batches
from prestacop_stream_storage.config import Settings
from prestacop_stream_storage.exceptions import CheckpointMismatchError
from prestacop_stream_storage.progress import committed_end_offsets, committed_record_count
from prestacop_stream_storage.queries import check_pairing, refuse_two_query_checkpoint

pytestmark = pytest.mark.unit


def _entries(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text("v1\n{}\n")


def test_a_fresh_start_is_fine(tmp_path: Path) -> None:
    check_pairing(tmp_path / "checkpoint", tmp_path / "output")


def test_a_new_checkpoint_over_stored_batches_is_refused(tmp_path: Path) -> None:
    _entries(tmp_path / "output" / "_spark_metadata", "0", "1")
    with pytest.raises(CheckpointMismatchError, match="already holds stored batches"):
        check_pairing(tmp_path / "checkpoint", tmp_path / "output")


def test_an_old_checkpoint_over_a_new_output_is_refused(tmp_path: Path) -> None:
    _entries(tmp_path / "checkpoint" / "offsets", "0", "1")
    _entries(tmp_path / "checkpoint" / "commits", "0", "1")
    with pytest.raises(CheckpointMismatchError, match="has no sink log"):
        check_pairing(tmp_path / "checkpoint", tmp_path / "output")


def test_a_crash_inside_the_first_batch_can_be_restarted(tmp_path: Path) -> None:
    _entries(tmp_path / "checkpoint" / "offsets", "0")
    (tmp_path / "output" / "_spark_metadata").mkdir(parents=True)
    check_pairing(tmp_path / "checkpoint", tmp_path / "output")
    _entries(tmp_path / "output" / "_spark_metadata", "0")
    check_pairing(tmp_path / "checkpoint", tmp_path / "output")


def test_committed_offsets_come_from_the_last_committed_batch(tmp_path: Path) -> None:
    checkpoint = tmp_path / "checkpoint"
    assert committed_end_offsets(checkpoint) == {}
    (checkpoint / "offsets").mkdir(parents=True)
    (checkpoint / "offsets" / "0").write_text('v1\n{"batchWatermarkMs":0}\n{"t":{"0":5,"1":3}}\n')
    (checkpoint / "offsets" / "1").write_text('v1\n{"batchWatermarkMs":0}\n{"t":{"0":9,"1":4}}\n')
    _entries(checkpoint / "commits", "0")
    assert committed_end_offsets(checkpoint) == {"t": {0: 5, 1: 3}}
    assert committed_record_count(checkpoint) == 8


def test_a_sink_log_ahead_of_its_checkpoint_is_refused(tmp_path: Path) -> None:
    # The sink would skip the checkpoint's next batches as already written.
    _entries(tmp_path / "checkpoint" / "offsets", "0", "1")
    _entries(tmp_path / "checkpoint" / "commits", "0")
    _entries(tmp_path / "output" / "_spark_metadata", "0", "1", "2")
    with pytest.raises(CheckpointMismatchError, match="holds batch 2, newer than any checkpoint"):
        check_pairing(tmp_path / "checkpoint", tmp_path / "output")
    _entries(tmp_path / "checkpoint" / "offsets", "2")
    check_pairing(tmp_path / "checkpoint", tmp_path / "output")


@pytest.mark.parametrize("dataset", [TICKETS, STATUS], ids=lambda d: d.name)
def test_a_quarantine_of_the_old_separate_query_is_refused(
    tmp_path: Path, dataset: Dataset
) -> None:
    settings = Settings(data_dir=tmp_path / "data", datasets=dataset.name)
    refuse_two_query_checkpoint(dataset, settings)  # nothing there yet
    _entries(dataset.quarantine_checkpoint_dir(settings.checkpoint_root) / "offsets", "0")
    with pytest.raises(CheckpointMismatchError, match="separate quarantine query"):
        refuse_two_query_checkpoint(dataset, settings)


def test_log_batches_are_numbered_entries_in_numeric_order(tmp_path: Path) -> None:
    log = tmp_path / "output" / "_spark_metadata"
    _entries(log, "9", "10", "19.compact", ".10.crc", "11.tmp", "x")
    assert log_batches(log) == [9, 10, 19]
    assert log_batches(tmp_path / "missing") == []
    _entries(tmp_path / "checkpoint" / "offsets", "2", "9")  # "9" > "19" as text
    with pytest.raises(CheckpointMismatchError, match="holds batch 19, newer than any"):
        check_pairing(tmp_path / "checkpoint", tmp_path / "output")

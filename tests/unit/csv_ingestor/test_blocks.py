"""The read-ahead thread hands over exactly what a single thread would, and never hangs."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from prestacop_csv_ingestor import enrich
from prestacop_csv_ingestor.batch import EncodedBatch, FileContext
from prestacop_csv_ingestor.blocks import BlockReader, Checkpoint, ReadAhead
from prestacop_csv_ingestor.config import Settings
from prestacop_csv_ingestor.generate import generate_file
from prestacop_csv_ingestor.reader import open_tickets_file
from prestacop_csv_ingestor.summary import RepeatCounter

pytestmark = pytest.mark.unit
# The one field that differs (and the event date, which falls back to its date).
_EMITTED_AT = re.compile(r"^T1,[0-9-]{10},|,[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{15}Z,")


def _reader(path: Path) -> BlockReader:
    tickets_file = open_tickets_file(path)
    context = FileContext(
        tickets_file.layout, path.name, "f" * 24, enrich.archive_fleet("nypd", 10)
    )
    return BlockReader(
        path, context, Settings(block_bytes=64 * 1024), RepeatCounter(10_000),
        offset=tickets_file.data_offset, line=2,
    )  # fmt: skip


def test_read_ahead_gives_the_same_batches_and_checkpoints_as_one_thread(tmp_path: Path) -> None:
    path = tmp_path / "fy2017.csv"
    generate_file(path, 3_000, year=2017, seed=3)
    alone = list(_reader(path).items())
    with ReadAhead(_reader(path).items()) as ahead:
        threaded = list(ahead)

    def shape(items: list[EncodedBatch | Checkpoint]) -> list[object]:
        return [
            item
            if isinstance(item, Checkpoint)
            else (item.lines, [_EMITTED_AT.sub("", value) for value in item.values])
            for item in items
        ]

    assert shape(threaded) == shape(alone)
    last = threaded[-1]
    assert isinstance(last, Checkpoint) and last.done and last.offset == path.stat().st_size
    assert sum(len(i.values) for i in threaded if isinstance(i, EncodedBatch)) == 3_000


def test_an_error_while_reading_ahead_reaches_the_caller() -> None:
    def failing() -> Iterator[int]:
        yield 1
        raise OSError("disk gone")

    seen = []
    with pytest.raises(OSError, match="disk gone"), ReadAhead(failing()) as ahead:
        seen.extend(ahead)
    assert seen == [1]


def test_leaving_early_stops_the_thread() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            number = 0
            while True:
                yield number
                number += 1
        finally:
            closed.set()

    with ReadAhead(endless(), depth=2) as ahead:
        for number in ahead:
            if number == 10:
                break
    assert closed.wait(5)
    assert not any(t.name == "csv-read-ahead" and t.is_alive() for t in threading.enumerate())


def test_no_byte_past_the_end_it_was_given_is_read(tmp_path: Path) -> None:
    """A file growing while it is read: only the size it had when opened is ingested."""
    path = tmp_path / "growing.csv"
    generate_file(path, 500, year=2017, seed=4)
    data = path.read_bytes()
    end = data.index(b"\n", len(data) // 2) + 1  # the end of a line in the middle
    tickets_file = open_tickets_file(path)
    context = FileContext(tickets_file.layout, path.name, "f" * 24, enrich.archive_fleet("n", 2))
    reader = BlockReader(
        path, context, Settings(), RepeatCounter(10_000), offset=tickets_file.data_offset,
        line=2, end=end, block_bytes=4096,
    )  # fmt: skip
    items = list(reader.items())
    sent = sum(len(item.values) for item in items if isinstance(item, EncodedBatch))
    assert sent == data[:end].count(b"\n") - 1
    last = items[-1]
    assert isinstance(last, Checkpoint) and last.done and last.offset == end

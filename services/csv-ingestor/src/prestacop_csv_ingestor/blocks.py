"""Reading one file block by block into encoded batches, optionally ahead in a second thread.

:class:`BlockReader` turns the bytes of a file from a record boundary into the exact sequence of
things the ingest loop does: send this batch, then (at the end of each block) checkpoint at this
byte offset and line. :class:`ReadAhead` runs any such iterator in a background thread behind a
small bounded queue, so the next blocks are cut, parsed and encoded (polars and numpy release the
GIL) while the caller produces the current one. The caller sees the same items in the same order
as without the thread, so what it commits with a checkpoint is exactly what it produced before it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Generic, TypeVar

from prestacop_csv_ingestor.batch import EncodedBatch, FileContext, dead_letter, encode_batch
from prestacop_csv_ingestor.config import Settings
from prestacop_csv_ingestor.records import REASON_TOO_LONG, split_records
from prestacop_csv_ingestor.summary import RepeatCounter
from prestacop_shared.events import utc_now

_SKIP_CHUNK = 1024 * 1024
_PUT_WAIT_S = 0.1

T = TypeVar("T")


@dataclass(frozen=True)
class Checkpoint:
    """Everything before ``offset`` (physical line ``line``) has been handed out as batches."""

    offset: int
    line: int
    eof: bool
    """The file has no more bytes."""
    done: bool
    """End of file and every record of it handed out."""


class BlockReader:
    """Cuts and encodes a file from a record boundary, one block at a time."""

    def __init__(
        self,
        path: Path,
        context: FileContext,
        settings: Settings,
        repeats: RepeatCounter,
        *,
        offset: int,
        line: int,
        end: int | None = None,
        block_bytes: int | None = None,
    ) -> None:
        self.path = path
        self.context = context
        self.settings = settings
        self.repeats = repeats
        self.offset = offset
        self.line = line
        self.end = end
        """Read no byte at or after this offset (the size the file had when it was opened)."""
        self.block_bytes = block_bytes or settings.block_bytes

    def items(self) -> Iterator[EncodedBatch | Checkpoint]:
        """Batches to send, each block followed by the checkpoint that covers it."""
        offset, line = self.offset, self.line
        block = self.block_bytes
        with self.path.open("rb") as handle:
            handle.seek(offset)
            pending = b""
            eof = False
            while not eof:
                chunk = self._read(handle, block)
                eof = len(chunk) < block
                buffer = pending + chunk if pending else chunk
                begin = 0
                while begin < len(buffer):
                    split = split_records(
                        buffer, begin, line, eof=eof,
                        expected_columns=self.context.layout.column_count,
                        max_record_bytes=self.settings.max_record_bytes,
                        max_record_lines=self.settings.max_record_lines,
                    )  # fmt: skip
                    if split.oversized:
                        skipped, rest, eof, batch = self._skip_long_line(
                            handle, buffer[begin:], line
                        )
                        yield batch
                        offset += begin + skipped
                        line += 1
                        buffer, begin = rest, 0
                        continue
                    if not len(split):
                        break
                    batch = encode_batch(self.context, buffer, split, utc_now())
                    batch.repeated = self.repeats.add(batch.summons)
                    yield batch
                    begin, line = split.consumed, split.next_line
                pending = buffer[begin:]
                offset += begin
                yield Checkpoint(offset, line, eof=eof, done=eof and not pending)

    def _read(self, handle: BinaryIO, size: int) -> bytes:
        """Up to ``size`` bytes, none at or after :attr:`end`."""
        if self.end is not None:
            size = max(0, min(size, self.end - handle.tell()))
        return handle.read(size)

    def _skip_long_line(
        self, handle: BinaryIO, head: bytes, line: int
    ) -> tuple[int, bytes, bool, EncodedBatch]:
        """Quarantine a line longer than the limit without holding it in memory.

        Returns the bytes skipped (newline included), what follows the line, end of file, and
        the batch holding the line's dead letter.
        """
        keep = head[: self.settings.dlq_raw_keep_chars]
        length = len(head)
        tail = head
        eof = False
        while True:
            newline = tail.find(b"\n")
            if newline >= 0:
                length -= len(tail) - newline
                rest = tail[newline + 1 :]
                break
            tail = self._read(handle, _SKIP_CHUNK)
            if not tail:
                rest, eof = b"", True
                break
            length += len(tail)
        reason = f"{REASON_TOO_LONG}: {length} bytes (limit {self.settings.max_record_bytes})"
        batch = EncodedBatch(lines=1)
        batch.dead_letters.append(
            dead_letter(self.context, line, reason, keep.rstrip(b"\r"), raw_length=length)
        )
        return length + (0 if eof else 1), rest, eof, batch


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


_END = object()


class ReadAhead(Generic[T]):
    """Iterates ``items`` in a background thread, at most ``depth`` items ahead of the caller.

    Use as a context manager: leaving it (normally or by an exception) stops the thread. An
    exception raised while producing an item is raised again to the caller at that item.
    """

    def __init__(self, items: Iterator[T], depth: int = 2) -> None:
        self._items = items
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name="csv-read-ahead", daemon=True)

    def __enter__(self) -> ReadAhead[T]:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._cancel.set()
        self._thread.join()

    def __iter__(self) -> Iterator[T]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item  # type: ignore[misc]

    def _run(self) -> None:
        try:
            for item in self._items:
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer thread
            self._put(_Failure(error))
        finally:
            close = getattr(self._items, "close", None)
            if close is not None:
                close()

    def _put(self, item: object) -> bool:
        while not self._cancel.is_set():
            try:
                self._queue.put(item, timeout=_PUT_WAIT_S)
                return True
            except queue.Full:
                continue
        return False

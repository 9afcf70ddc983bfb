"""Cutting a byte buffer into CSV records, with exact physical line numbers, vectorised.

A record normally is one physical line; a quoted field may legally hold a newline, so a record
ends at the first newline outside quotes. Quote parity is computed for the whole buffer at once
with numpy (a newline is outside quotes when an even number of quotes precede it in the buffer,
which always starts at a record boundary). Doubled quotes (``""``) keep the parity, so they need
no special case.

An unterminated quote would otherwise swallow the rest of the file. A record that spans several
lines is accepted only if it stays within ``max_record_lines`` lines and ``max_record_bytes``
bytes and has the right column count; otherwise only its *first physical line* is quarantined
("unterminated quote") and cutting restarts on the next line, so one stray quote costs one line.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]

NEWLINE = 10
QUOTE = 34
COMMA = 44
CARRIAGE_RETURN = 13

REASON_COLUMNS = "wrong column count"
REASON_QUOTE = "unterminated quote"
REASON_TOO_LONG = "line too long"
REASON_NOT_UTF8 = "not UTF-8"
REASON_INTEGER = "not an integer"
REASON_SUMMONS = "empty summons number"


@dataclass
class RecordSplit:
    """Complete records found at the start of a buffer (offsets are absolute in that buffer).

    Attributes:
        starts: first byte of each record.
        ends: end of each record's text (its newline, or the buffer end at end of file).
        lines: 1-based physical line number of each record's first line.
        line_counts: physical lines each record spans.
        columns: column count of each record (commas outside quotes + 1).
        consumed: where the next record starts (all bytes before it are handled).
        next_line: physical line number at ``consumed``.
        reasons: record index -> why it is bad (decided while cutting).
        oversized: no record fits: the line at ``consumed`` is longer than the limit and the
            caller must skip it up to its newline.
    """

    starts: IntArray
    ends: IntArray
    lines: IntArray
    line_counts: IntArray
    columns: IntArray
    consumed: int
    next_line: int
    reasons: dict[int, str] = field(default_factory=dict)
    oversized: bool = False

    def __len__(self) -> int:
        return int(self.starts.size)


def _empty(consumed: int, next_line: int, *, oversized: bool = False) -> RecordSplit:
    none = np.zeros(0, dtype=np.int64)
    return RecordSplit(none, none, none, none, none, consumed, next_line, {}, oversized)


def split_records(
    buffer: bytes,
    begin: int,
    first_line: int,
    *,
    eof: bool,
    expected_columns: int,
    max_record_bytes: int,
    max_record_lines: int,
) -> RecordSplit:
    """Cut the complete records of ``buffer[begin:]``.

    Args:
        buffer: bytes read from the file; ``begin`` must be a record boundary.
        begin: where to start in ``buffer``.
        first_line: physical line number of the line starting at ``begin``.
        eof: no byte follows ``buffer``: a last line without newline is a record.
        expected_columns: the layout's column count (to judge multi-line records).
        max_record_bytes: longest acceptable record.
        max_record_lines: most physical lines one record may span.

    Returns:
        The records; the caller keeps ``buffer[consumed:]`` and adds more bytes to it.
    """
    view = np.frombuffer(buffer, dtype=np.uint8)[begin:]
    size = int(view.size)
    newlines = np.flatnonzero(view == NEWLINE).astype(np.int64)
    quotes = np.flatnonzero(view == QUOTE).astype(np.int64)
    if quotes.size:
        boundaries = newlines[(np.searchsorted(quotes, newlines) & 1) == 0]
    else:
        boundaries = newlines
    tail_start = int(boundaries[-1]) + 1 if boundaries.size else 0
    ends = boundaries
    reasons: dict[int, str] = {}
    cut_at: int | None = None  # relative offset after which nothing is returned

    if tail_start < size:
        tail_newlines = newlines[newlines >= tail_start]
        tail_open_quote = bool((quotes.size - np.searchsorted(quotes, tail_start)) & 1)
        if not tail_open_quote and eof:
            ends = np.append(ends, size)
        elif (
            tail_open_quote
            and tail_newlines.size
            and (
                eof
                or size - tail_start > max_record_bytes
                or tail_newlines.size >= max_record_lines
            )
        ):
            first_end = int(tail_newlines[0])
            ends = np.append(ends, first_end)
            reasons[int(ends.size) - 1] = REASON_QUOTE
            cut_at = first_end
        elif tail_open_quote and eof:
            ends = np.append(ends, size)
            reasons[int(ends.size) - 1] = REASON_QUOTE
        elif not ends.size and size - tail_start > max_record_bytes:
            return _empty(begin, first_line, oversized=True)

    if not ends.size:
        return _empty(begin, first_line)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    newlines_before_start = np.searchsorted(newlines, starts)
    line_counts = np.searchsorted(newlines, ends) - newlines_before_start + 1
    columns = _column_counts(view, starts, ends, quotes)

    multi_line = np.flatnonzero(line_counts > 1)
    for index in multi_line.tolist():
        if index in reasons:
            break
        fits = (
            line_counts[index] <= max_record_lines
            and ends[index] - starts[index] <= max_record_bytes
            and columns[index] == expected_columns
        )
        if not fits:
            first_end = int(newlines[newlines_before_start[index]])
            ends = ends[: index + 1].copy()
            ends[index] = first_end
            starts = starts[: index + 1]
            line_counts = line_counts[: index + 1].copy()
            line_counts[index] = 1
            columns = columns[: index + 1]
            newlines_before_start = newlines_before_start[: index + 1]
            reasons = {k: v for k, v in reasons.items() if k < index}
            reasons[index] = REASON_QUOTE
            cut_at = first_end
            break
    if cut_at is None:
        cut_at = int(ends[-1])
    too_long = np.flatnonzero(ends - starts > max_record_bytes)
    for index in too_long.tolist():
        reasons.setdefault(index, REASON_TOO_LONG)

    lines = newlines_before_start + first_line
    last = int(ends.size) - 1
    consumed = min(cut_at + 1, size)
    return RecordSplit(
        starts=starts + begin,
        ends=ends + begin,
        lines=lines,
        line_counts=line_counts,
        columns=columns,
        consumed=consumed + begin,
        next_line=int(lines[last] + line_counts[last]),
        reasons=reasons,
    )


def _column_counts(
    view: npt.NDArray[np.uint8], starts: IntArray, ends: IntArray, quotes: IntArray
) -> IntArray:
    """Commas outside quotes + 1, per record (quote pairs are consecutive quotes)."""
    region = view[: min(int(ends[-1]) + 1, int(view.size))]
    is_comma = region == COMMA
    commas = np.add.reduceat(is_comma, starts, dtype=np.int64)
    # reduceat gives the element at start for empty records (start == end): fix those up.
    empty = ends == starts
    if empty.any():
        commas[empty] = 0
    in_region = quotes[quotes < region.size]
    if in_region.size >= 2:
        opens = in_region[0 : in_region.size - 1 : 2]
        closes = in_region[1::2]
        comma_positions = np.flatnonzero(is_comma)
        inside = np.searchsorted(comma_positions, closes) - np.searchsorted(comma_positions, opens)
        owner = np.searchsorted(ends, opens)
        commas -= np.bincount(owner, weights=inside, minlength=starts.size).astype(np.int64)
    return commas + 1


def find_undecodable(buffer: bytes, starts: IntArray, ends: IntArray) -> dict[int, str]:
    """Records of ``buffer`` that are not valid UTF-8, with the offending byte.

    Decodes the whole span once (C speed); only on an error does it locate the record and go on
    after it, so the cost is one pass plus one re-decode per bad record.
    """
    bad: dict[int, str] = {}
    if not starts.size:
        return bad
    position = int(starts[0])
    stop = int(ends[-1])
    decoder = codecs.utf_8_decode
    while position < stop:
        try:
            decoder(buffer[position:stop], "strict", True)
            break
        except UnicodeDecodeError as error:
            at = position + error.start
            index = int(np.searchsorted(ends, at))
            column = at - int(starts[index]) + 1
            bad[index] = f"{REASON_NOT_UTF8}: byte 0x{buffer[at]:02X} at position {column}"
            position = int(ends[index]) + 1
    return bad


def record_bytes(buffer: bytes, start: int, end: int) -> bytes:
    """The text of a record without its line ending (``\\r\\n`` or ``\\n``)."""
    if end > start and buffer[end - 1] == CARRIAGE_RETURN:
        end -= 1
    return buffer[start:end]

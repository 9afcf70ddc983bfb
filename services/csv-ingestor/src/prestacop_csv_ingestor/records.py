"""Cutting a byte buffer into CSV records, with exact physical line numbers, vectorised.

A record is one physical line, except that an RFC 4180 quoted field may hold newlines: a quote
that opens a field (first byte of the field), closes before a comma or the line end, and doubles
every quote inside. Only such *clean* quoting joins lines, and only within ``max_record_lines``
lines, ``max_record_bytes`` bytes and at the layout's column count; everything else is judged
line by line, so one stray quote never swallows, merges or loses another line. Every physical
line therefore ends in exactly one record.

Lines without quotes (nearly all real lines) are cut, counted and checked with numpy on the whole
buffer. A line whose quotes are not clean (``5" X``, ``12 "A" ST``, ``"open``) is read the way
Python's ``csv`` module reads it (a quote inside an unquoted field is text): if that gives the
right column count it is rewritten as clean CSV for the parser (:attr:`RecordSplit.rewritten`),
otherwise it is quarantined with the reason. Only these rare lines cost Python work.
"""

from __future__ import annotations

import codecs
import csv
import io
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
REASON_MALFORMED = "malformed CSV"
REASON_TOO_LONG = "line too long"
REASON_NOT_UTF8 = "not UTF-8"
REASON_INTEGER = "not an integer"
REASON_RANGE = "out of range"
REASON_SUMMONS = "empty summons number"


@dataclass
class RecordSplit:
    """Complete records found at the start of a buffer (offsets are absolute in that buffer).

    Attributes:
        starts: first byte of each record.
        ends: end of each record's text (its newline, or the buffer end at end of file).
        lines: 1-based physical line number of each record's first line.
        line_counts: physical lines each record spans.
        columns: column count of each record.
        quote_counts: quote characters in each record.
        consumed: where the next record starts (all bytes before it are handled).
        next_line: physical line number at ``consumed``.
        reasons: record index -> why it is bad (decided while cutting).
        rewritten: record index -> the record as clean CSV (UTF-8), for records whose own quoting
            is not clean but which read as the right number of columns.
        oversized: no record fits: the line at ``consumed`` is longer than the limit and the
            caller must skip it up to its newline.
    """

    starts: IntArray
    ends: IntArray
    lines: IntArray
    line_counts: IntArray
    columns: IntArray
    quote_counts: IntArray
    consumed: int
    next_line: int
    reasons: dict[int, str] = field(default_factory=dict)
    rewritten: dict[int, bytes] = field(default_factory=dict)
    oversized: bool = False

    def __len__(self) -> int:
        return int(self.starts.size)


def _empty(consumed: int, next_line: int, *, oversized: bool = False) -> RecordSplit:
    none = np.zeros(0, dtype=np.int64)
    return RecordSplit(none, none, none, none, none, none, consumed, next_line, {}, {}, oversized)


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
        expected_columns: the layout's column count (to judge records).
        max_record_bytes: longest acceptable record.
        max_record_lines: most physical lines one record may span.

    Returns:
        The records; the caller keeps ``buffer[consumed:]`` and adds more bytes to it.
    """
    view = np.frombuffer(buffer, dtype=np.uint8)[begin:]
    size = int(view.size)
    line_ends = np.flatnonzero(view == NEWLINE)
    if eof and size and (not line_ends.size or int(line_ends[-1]) + 1 < size):
        line_ends = np.append(line_ends, size)
    if not line_ends.size:
        return _empty(begin, first_line, oversized=not eof and size > max_record_bytes)
    line_starts = np.empty_like(line_ends)
    line_starts[0] = 0
    line_starts[1:] = line_ends[:-1] + 1
    quotes = np.flatnonzero(view == QUOTE)
    quotes_before = np.searchsorted(quotes, line_starts)
    quote_counts = np.searchsorted(quotes, line_ends) - quotes_before

    lone_returns = _lone_returns(view, int(line_ends[-1]))
    continues = np.zeros(line_ends.size, dtype=bool)  # line belongs to the record above it
    usable = int(line_ends.size)
    odd = np.flatnonzero(quote_counts & 1)
    if odd.size:
        usable = _join_quoted_lines(
            view, quotes, quotes_before, line_starts, line_ends, odd, continues,
            lone_returns, eof=eof, expected_columns=expected_columns, max_record_bytes=max_record_bytes,
            max_record_lines=max_record_lines,
        )  # fmt: skip
        if not usable:
            return _empty(begin, first_line)

    firsts = np.flatnonzero(~continues[:usable])
    lasts = np.empty_like(firsts)
    lasts[:-1] = firsts[1:] - 1
    lasts[-1] = usable - 1
    starts = line_starts[firsts]
    ends = line_ends[lasts]
    line_counts = lasts - firsts + 1
    first_quote = quotes_before[firsts]
    record_quotes = np.searchsorted(quotes, ends) - first_quote
    columns = _column_counts(view, starts, ends)
    reasons: dict[int, str] = {}
    rewritten: dict[int, bytes] = {}
    if quotes.size or lone_returns.size:
        clean = _clean_records(view, quotes, first_quote, record_quotes, starts, ends)
        columns -= _quoted_commas(view, quotes, first_quote, record_quotes, clean)
        # polars drops a lone CR before a comma: such records are read by the csv module too.
        inside = lone_returns[lone_returns < ends[-1]]
        clean[np.searchsorted(ends, inside, side="right")] = False
        for index in np.flatnonzero(~clean).tolist():
            text = _text(view, int(starts[index]), int(ends[index]))
            outcome = canonical_record(
                text, expected_columns, odd_quotes=bool(record_quotes[index] & 1)
            )
            if isinstance(outcome, bytes):
                rewritten[index] = outcome
                columns[index] = expected_columns
            elif outcome is not None:
                reasons[index] = outcome
    for index in np.flatnonzero(ends - starts > max_record_bytes).tolist():
        reasons[index] = REASON_TOO_LONG
        rewritten.pop(index, None)

    last = int(ends.size) - 1
    return RecordSplit(
        starts=starts + begin,
        ends=ends + begin,
        lines=firsts + first_line,
        line_counts=line_counts,
        columns=columns,
        quote_counts=record_quotes,
        consumed=min(int(ends[last]) + 1, size) + begin,
        next_line=int(firsts[last] + line_counts[last]) + first_line,
        reasons=reasons,
        rewritten=rewritten,
    )


def _join_quoted_lines(
    view: npt.NDArray[np.uint8],
    quotes: IntArray,
    quotes_before: IntArray,
    line_starts: IntArray,
    line_ends: IntArray,
    odd: IntArray,
    continues: npt.NDArray[np.bool_],
    lone_returns: IntArray,
    *,
    eof: bool,
    expected_columns: int,
    max_record_bytes: int,
    max_record_lines: int,
) -> int:
    """Join each line with an odd quote count to the lines up to the next such line, where that
    makes one clean record of the right width; mark joined lines in ``continues``.

    Returns how many lines are decided (a record that might still close in bytes not read yet
    is left, with everything after it, for the next call).
    """
    lines = int(line_ends.size)
    odd_lines: list[int] = odd.tolist()
    k = 0
    while k < len(odd_lines):
        first = odd_lines[k]
        start = int(line_starts[first])
        if k + 1 < len(odd_lines):
            last = odd_lines[k + 1]
            end = int(line_ends[last])
            if last - first + 1 <= max_record_lines and end - start <= max_record_bytes:
                quote_from = int(quotes_before[first])
                quote_count = int(np.searchsorted(quotes, end)) - quote_from
                one = np.array([0], dtype=np.int64)
                record = (np.array([start]), np.array([end]))
                clean = _clean_records(view, quotes, one + quote_from, one + quote_count, *record)
                columns = _column_counts(view, *record) - _quoted_commas(
                    view, quotes, one + quote_from, one + quote_count, clean
                )
                returns = np.searchsorted(lone_returns, [start, end])
                if (
                    bool(clean[0])
                    and int(columns[0]) == expected_columns
                    and returns[0] == returns[1]
                ):
                    continues[first + 1 : last + 1] = True
                    k += 2
                    continue
        elif not eof and lines - first < max_record_lines and view.size - start <= max_record_bytes:
            return first  # it may still close in the next bytes
        k += 1  # the line stands alone
    return lines


def _lone_returns(view: npt.NDArray[np.uint8], end: int) -> IntArray:
    """Positions before ``end`` of CRs that do not end a line (a CR before LF or at the end)."""
    region = view[:end]
    returns = np.flatnonzero(region == CARRIAGE_RETURN)
    if not returns.size:
        return returns
    following = np.append(region, np.uint8(NEWLINE))[returns + 1]
    lone: IntArray = returns[following != NEWLINE]
    return lone


def _clean_records(
    view: npt.NDArray[np.uint8],
    quotes: IntArray,
    first_quote: IntArray,
    record_quotes: IntArray,
    starts: IntArray,
    ends: IntArray,
) -> npt.NDArray[np.bool_]:
    """Whether each record's quotes are RFC 4180: pairs that open a field and close it."""
    clean: npt.NDArray[np.bool_] = (record_quotes & 1) == 0
    if not record_quotes.any():
        return clean
    index, owner = _owned_quotes(first_quote, record_quotes)
    position = quotes[index]
    opener = ((index - first_quote[owner]) & 1) == 0
    record_start, record_end = starts[owner], ends[owner]
    before = view[np.maximum(position - 1, 0)]
    after = view[np.minimum(position + 1, view.size - 1)]
    opens_ok = (position == record_start) | (before == COMMA) | (before == QUOTE)
    closes_ok = (
        (position + 1 == record_end)
        | (after == COMMA)
        | (after == QUOTE)
        | ((after == CARRIAGE_RETURN) & (position + 2 == record_end))
    )
    bad = np.where(opener, ~opens_ok, ~closes_ok)
    faults = np.bincount(owner[bad], minlength=starts.size)
    result: npt.NDArray[np.bool_] = clean & (faults == 0)
    return result


def _owned_quotes(first_quote: IntArray, record_quotes: IntArray) -> tuple[IntArray, IntArray]:
    """Index (into ``quotes``) and owning record of every quote of the records.

    Records tile the buffer with only newlines between them, so their quotes are one run.
    """
    total = int(record_quotes.sum())
    index = np.arange(int(first_quote[0]), int(first_quote[0]) + total, dtype=np.int64)
    owner = np.repeat(np.arange(record_quotes.size, dtype=np.int64), record_quotes)
    return index, owner


def _quoted_commas(
    view: npt.NDArray[np.uint8],
    quotes: IntArray,
    first_quote: IntArray,
    record_quotes: IntArray,
    clean: npt.NDArray[np.bool_],
) -> IntArray:
    """Commas inside the quoted fields of each clean record (0 for the others)."""
    result = np.zeros(first_quote.size, dtype=np.int64)
    if not (clean & (record_quotes > 0)).any():
        return result
    index, owner = _owned_quotes(first_quote, record_quotes)
    keep = clean[owner]
    paired, owner = quotes[index[keep]], owner[keep]
    inside = _comma_counts(view, paired[0::2], paired[1::2])
    result += np.bincount(owner[0::2], weights=inside, minlength=first_quote.size).astype(np.int64)
    return result


def _column_counts(view: npt.NDArray[np.uint8], starts: IntArray, ends: IntArray) -> IntArray:
    """Commas + 1 per record (quotes not considered)."""
    return _comma_counts(view, starts, ends) + 1


_UINT16_SPAN = 2**16 - 1
"""The longest span whose comma count a uint16 sum holds."""


def _comma_counts(view: npt.NDArray[np.uint8], starts: IntArray, ends: IntArray) -> IntArray:
    """Commas in ``view[start:end]`` for each span; spans in order, none overlapping.

    One ``reduceat`` over the spans' range, summed in uint16 (``reduceat`` casts its whole
    input to the sum's type first): no array of comma positions, which in int64 would be twice
    the block's size (a ticket line has 42 commas). The rare longer spans are counted alone.
    """
    if not starts.size:
        return np.zeros(0, dtype=np.int64)
    low, high = int(starts[0]), int(ends[-1])
    is_comma = np.zeros(high - low + 1, dtype=np.uint8)  # one 0 past the end: a valid index
    np.equal(view[low:high], COMMA, out=is_comma[:-1].view(bool))
    bounds = np.empty(2 * starts.size, dtype=np.int64)
    bounds[0::2] = starts - low
    bounds[1::2] = ends - low
    sums = np.add.reduceat(is_comma, bounds, dtype=np.uint16)[0::2].astype(np.int64)
    counts: IntArray = np.where(ends > starts, sums, 0)  # reduceat of an empty span is 1 item
    for index in np.flatnonzero(ends - starts > _UINT16_SPAN).tolist():
        counts[index] = int(np.count_nonzero(view[int(starts[index]) : int(ends[index])] == COMMA))
    return counts


def _text(view: npt.NDArray[np.uint8], start: int, end: int) -> bytes:
    if end > start and view[end - 1] == CARRIAGE_RETURN:
        end -= 1
    return view[start:end].tobytes()


def canonical_record(
    raw: bytes | str, expected_columns: int, *, odd_quotes: bool
) -> bytes | str | None:
    """Read one record whose quoting is not clean as Python's ``csv`` module does.

    A lone CR is kept as text (as polars keeps it elsewhere in a field).

    Returns:
        The record rewritten as clean CSV (UTF-8 bytes, every field quoted) when it has
        ``expected_columns`` columns; else the reason to quarantine it; ``None`` when it is not
        UTF-8 (the caller's decoding check reports it).
    """
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
    # The csv module takes a lone CR for a line end; polars and the model keep it as text.
    marker = "\ue000"
    if "\r" in raw and marker in raw:
        return f"{REASON_MALFORMED}: a carriage return and U+E000 in one record"
    try:
        rows = list(csv.reader([raw.replace("\r", marker)]))
    except csv.Error as error:
        return f"{REASON_MALFORMED}: {error}"
    width = len(rows[0]) if len(rows) == 1 else 0
    if width == expected_columns:
        text = io.StringIO()
        values = [value.replace(marker, "\r") for value in rows[0]]
        csv.writer(text, lineterminator="", quoting=csv.QUOTE_ALL).writerow(values)
        return text.getvalue().encode()
    if odd_quotes:
        return REASON_QUOTE
    return f"{REASON_COLUMNS}: {width} columns, expected {expected_columns}"


def find_undecodable(buffer: bytes, starts: IntArray, ends: IntArray) -> dict[int, str]:
    """Records of ``buffer`` that are not valid UTF-8, with the offending byte.

    An ASCII record is UTF-8, so only the records holding a byte of 0x80 or more (found with
    numpy, no copy of the buffer) are decoded, each on its own.
    """
    bad: dict[int, str] = {}
    if not starts.size:
        return bad
    first = int(starts[0])
    view = np.frombuffer(buffer, dtype=np.uint8)[first : int(ends[-1])]
    high = np.flatnonzero(view >= 0x80) + first
    if not high.size:
        return bad
    decoder = codecs.utf_8_decode
    for index in np.unique(np.searchsorted(ends, high, side="right")).tolist():
        start, end = int(starts[index]), int(ends[index])
        try:
            decoder(buffer[start:end], "strict", True)
        except UnicodeDecodeError as error:
            at = start + error.start
            bad[index] = f"{REASON_NOT_UTF8}: byte 0x{buffer[at]:02X} at position {at - start + 1}"
    return bad


def record_bytes(buffer: bytes, start: int, end: int) -> bytes:
    """The text of a record without its line ending (``\\r\\n`` or ``\\n``)."""
    if end > start and buffer[end - 1] == CARRIAGE_RETURN:
        end -= 1
    return buffer[start:end]

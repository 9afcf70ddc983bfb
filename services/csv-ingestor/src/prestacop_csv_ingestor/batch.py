"""Turning cut records into Kafka-ready tickets and dead letters, a whole batch at a time.

Good records go to polars in one ``read_csv`` call that reads only the fields validated or used
for enrichment (as text); they are validated and typed with column expressions, enriched with
numpy, and written as T1 ticket lines by :func:`prestacop_shared.ticket_lines.encode_frame` (one
``concat_str``). A record without a quote character is already the T1 text of its source fields,
so its line goes in as it is (a string view into the read buffer); only the rare records with a
quote or rewritten are read in full and written field by field. No Python work per row or field
otherwise, one ``str`` per ticket at the end. Each value decodes
(:func:`~prestacop_shared.ticket_lines.decode_ticket`) to the ticket
:func:`~prestacop_shared.tickets.ticket_from_source_row` makes of the same line.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from prestacop_csv_ingestor import enrich
from prestacop_csv_ingestor.records import (
    CARRIAGE_RETURN,
    REASON_COLUMNS,
    REASON_INTEGER,
    REASON_MALFORMED,
    REASON_RANGE,
    REASON_SUMMONS,
    RecordSplit,
    canonical_record,
    find_undecodable,
    record_bytes,
)
from prestacop_shared import ticket_lines
from prestacop_shared.events import DeadLetter
from prestacop_shared.polars_views import borough_index
from prestacop_shared.serde import encode
from prestacop_shared.tickets import (
    INTEGER_BOUNDS,
    INTEGER_FIELDS,
    INTEGER_TEXT_PATTERN,
    SOURCE_FIELDS,
    TicketLayout,
)

logger = logging.getLogger(__name__)

SERVICE_NAME = "csv-ingestor"
_CANONICAL_INTEGER = f"^{INTEGER_TEXT_PATTERN}$"


@dataclass(frozen=True)
class FileContext:
    """What every ticket of one file shares."""

    layout: TicketLayout
    source_file: str
    fingerprint: str
    fleet: list[str]
    fallback_encoding: str = "none"
    dlq_raw_keep_chars: int = 4096


@dataclass
class EncodedBatch:
    """Tickets and dead letters of one batch, ready to produce."""

    keys: list[str] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    summons: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    dead_letters: list[tuple[str, bytes, str]] = field(default_factory=list)
    """(key, encoded DeadLetter, reason kind)"""
    lines: int = 0
    repeated: int = 0
    """Summons numbers of this batch seen before in the run (filled in by the block reader)."""


def dead_letter(
    context: FileContext, line: int, reason: str, raw: bytes, raw_length: int | None = None
) -> tuple[str, bytes, str]:
    """A dead-letter record for a bad line: (key ``file:line``, JSON, reason kind)."""
    source = f"{context.source_file}:{line}"
    letter = DeadLetter.from_raw(
        service=SERVICE_NAME,
        source=source,
        reason=reason,
        raw=raw,
        keep=context.dlq_raw_keep_chars,
    )
    if raw_length is not None:
        letter = letter.model_copy(update={"raw_length": raw_length})
    return source, encode(letter), reason.split(":", 1)[0]


def encode_batch(
    context: FileContext, buffer: bytes, split: RecordSplit, emitted_at: datetime
) -> EncodedBatch:
    """Validate, type, enrich and serialise the records of ``split``."""
    layout = context.layout
    reasons = dict(split.reasons)
    wrong = np.flatnonzero(split.columns != layout.column_count)
    for index in wrong.tolist():
        reasons.setdefault(
            index,
            f"{REASON_COLUMNS}: {int(split.columns[index])} columns, "
            f"expected {layout.column_count} ({layout.value})",
        )
    undecodable = find_undecodable(buffer, split.starts, split.ends)
    replaced: dict[int, bytes] = {i: v for i, v in split.rewritten.items() if i not in reasons}
    for index, reason in undecodable.items():
        if index in reasons:
            continue
        if context.fallback_encoding == "none":
            reasons[index] = reason
            replaced.pop(index, None)
            continue
        raw = record_bytes(buffer, int(split.starts[index]), int(split.ends[index]))
        text = raw.decode(context.fallback_encoding, "replace")
        outcome = (
            canonical_record(text, layout.column_count, odd_quotes=raw.count(b'"') % 2 == 1)
            if b'"' in raw
            else text.encode()
        )
        if isinstance(outcome, bytes):
            replaced[index] = outcome
        elif outcome is not None:
            reasons[index] = outcome

    # polars reads an unquoted empty field as null; only a quoted one ("") comes back as "".
    empty_strings_possible = buffer.find(
        b'""', int(split.starts[0]), int(split.ends[-1])
    ) >= 0 or bool(replaced)  # find, not a slice: a slice would copy the block

    def parse_and_validate(
        indexes: npt.NDArray[np.int64], fields: tuple[str, ...]
    ) -> tuple[pl.DataFrame, npt.NDArray[np.int64]]:
        """The valid records among ``indexes`` (their ``fields``) and their indexes; the
        reasons of the others go to ``reasons``."""
        frame, parse_reasons = _parse(context, buffer, split, indexes, replaced, fields)
        if parse_reasons:
            reasons.update(parse_reasons)
            indexes = indexes[~np.isin(indexes, list(parse_reasons))]
        if not indexes.size:
            return frame, indexes
        frame, row_reasons = _validate(frame, empty_strings_possible=empty_strings_possible)
        for row, reason in row_reasons.items():
            reasons[int(indexes[row])] = reason
        if row_reasons:
            keep = np.ones(indexes.size, dtype=bool)
            keep[list(row_reasons)] = False
            indexes = indexes[keep]
        return frame, indexes

    good = np.ones(len(split), dtype=bool)
    good[list(reasons)] = False
    # Only the fields checked or enriched are parsed for every record; the others are needed
    # only for the rare records whose line is not their T1 text (see _source_text).
    frame, good_indexes = parse_and_validate(np.flatnonzero(good), _checked_fields(layout))
    batch = EncodedBatch(lines=int(split.line_counts.sum()))
    if frame.height:
        source_text = _source_text(buffer, split, good_indexes, replaced)
        slow = np.flatnonzero(source_text.is_null().to_numpy())
        if slow.size:
            full, slow_indexes = parse_and_validate(good_indexes[slow], layout.fields)
            if slow_indexes.size < slow.size:  # the csv module refused what polars read
                keep = ~np.isin(good_indexes, np.setdiff1d(good_indexes[slow], slow_indexes))
                frame, good_indexes = frame.filter(pl.Series(keep)), good_indexes[keep]
                source_text = source_text.filter(pl.Series(keep))
                slow = np.flatnonzero(source_text.is_null().to_numpy())
            source_text = source_text.scatter(slow, _fields_text(full))
        _encode(context, frame, split.lines[good_indexes], emitted_at, batch, source_text)
    for index in sorted(reasons):
        raw = record_bytes(buffer, int(split.starts[index]), int(split.ends[index]))
        batch.dead_letters.append(
            dead_letter(context, int(split.lines[index]), reasons[index], raw)
        )
    return batch


def _checked_fields(layout: TicketLayout) -> tuple[str, ...]:
    """The fields every record is parsed for: those validated (integers) or used to enrich and
    to date it, in the layout's order."""
    wanted = INTEGER_FIELDS | {"issue_date", "violation_county"}
    return tuple(name for name in layout.fields if name in wanted)


def _parse(
    context: FileContext,
    buffer: bytes,
    split: RecordSplit,
    good_indexes: npt.NDArray[np.int64],
    replaced: dict[int, bytes],
    columns: tuple[str, ...],
) -> tuple[pl.DataFrame, dict[int, str]]:
    """One polars frame of the good records (``columns``, all text), and records that could not
    be read.

    The cutter hands polars only records with no quote or clean (RFC 4180) quoting, so polars
    and the cutter agree; should they not, the batch is read record by record with the ``csv``
    module and a record it cannot read either becomes a dead letter, never an exception.
    """
    fields = context.layout.fields
    schema = dict.fromkeys(fields, pl.String)
    if not good_indexes.size:
        return pl.DataFrame(schema=dict.fromkeys(columns, pl.String)), {}
    pieces = _contiguous_pieces(buffer, split, good_indexes, replaced)
    data = pieces[0] if len(pieces) == 1 else b"\n".join(pieces)
    try:
        frame = pl.read_csv(
            io.BytesIO(data), has_header=False, new_columns=list(fields), schema=schema,
            quote_char='"', columns=[fields.index(name) for name in columns],
        )  # fmt: skip
        if frame.height == good_indexes.size:
            return frame, {}
        problem = f"{frame.height} rows for {good_indexes.size} records"
    except pl.exceptions.PolarsError as error:
        problem = str(error).splitlines()[0][:200]
    logger.warning(
        "polars could not read the batch as cut; reading it record by record",
        extra={"source_file": context.source_file, "records": int(good_indexes.size),
               "error": problem},
    )  # fmt: skip
    rows: list[list[str]] = []
    reasons: dict[int, str] = {}
    for index in good_indexes.tolist():
        try:
            parsed = list(csv.reader([_text(buffer, split, index, replaced)]))
        except (csv.Error, UnicodeDecodeError) as error:
            reasons[index] = f"{REASON_MALFORMED}: {error}"
            continue
        if len(parsed) != 1 or len(parsed[0]) != len(fields):
            reasons[index] = f"{REASON_MALFORMED}: not one row of {len(fields)} columns"
            continue
        rows.append(parsed[0])
    return pl.DataFrame(rows, schema=schema, orient="row").select(columns), reasons


def _text(buffer: bytes, split: RecordSplit, index: int, replaced: dict[int, bytes]) -> str:
    raw = replaced.get(index) or record_bytes(
        buffer, int(split.starts[index]), int(split.ends[index])
    )
    return raw.decode()


def _contiguous_pieces(
    buffer: bytes,
    split: RecordSplit,
    good_indexes: npt.NDArray[np.int64],
    replaced: dict[int, bytes],
) -> list[bytes]:
    """Byte slices covering the good records: runs of consecutive records are one slice."""
    if good_indexes.size == len(split) and not replaced:
        return [buffer[int(split.starts[0]) : int(split.ends[-1])]]
    breaks = np.flatnonzero(np.diff(good_indexes) != 1) + 1
    pieces: list[bytes] = []
    for run in np.split(good_indexes, breaks):
        first, last = int(run[0]), int(run[-1])
        inner = [i for i in replaced if first <= i <= last]
        if not inner:
            pieces.append(buffer[int(split.starts[first]) : int(split.ends[last])])
            continue
        position = first
        for index in sorted(inner):
            if index > position:
                pieces.append(buffer[int(split.starts[position]) : int(split.ends[index - 1])])
            pieces.append(replaced[index])
            position = index + 1
        if position <= last:
            pieces.append(buffer[int(split.starts[position]) : int(split.ends[last])])
    return pieces


def _validate(
    frame: pl.DataFrame, *, empty_strings_possible: bool = True
) -> tuple[pl.DataFrame, dict[int, str]]:
    """Empty text becomes null; integer fields must be canonical integers; a summons is needed."""
    if empty_strings_possible:
        frame = frame.with_columns(
            pl.when(pl.col(name).str.len_bytes() > 0).then(pl.col(name)).alias(name)
            for name in frame.columns
        )
    integer_fields = [name for name in frame.columns if name in INTEGER_FIELDS]
    checks = [
        pl.col(name).is_null() | pl.col(name).str.contains(_CANONICAL_INTEGER)
        for name in integer_fields
    ]
    bounded = [name for name in integer_fields if name in INTEGER_BOUNDS]
    checks.extend(_in_bounds(name) for name in bounded)
    verdict = frame.select(
        pl.all_horizontal(checks).alias("integers_ok"),
        pl.col("summons_number").is_not_null().alias("summons_ok"),
    )
    bad_rows = np.flatnonzero(
        ~(verdict["integers_ok"].to_numpy() & verdict["summons_ok"].to_numpy())
    )
    reasons: dict[int, str] = {}
    for row in bad_rows.tolist():
        values = frame.row(row, named=True)
        if values["summons_number"] is None:
            reasons[row] = f"{REASON_SUMMONS}: summons_number is empty"
            continue
        for name in integer_fields:
            value = values[name]
            if value is not None and not pl.Series([value]).str.contains(_CANONICAL_INTEGER)[0]:
                reasons[row] = f"{REASON_INTEGER}: {name}={value[:40]!r}"
                break
        else:
            for name in bounded:
                low, high = INTEGER_BOUNDS[name]
                value = int(values[name]) if values[name] is not None else None
                if value is not None and low is not None and value < low:
                    reasons[row] = f"{REASON_RANGE}: {name}={value} (must be >= {low})"
                    break
                if value is not None and high is not None and value > high:
                    reasons[row] = f"{REASON_RANGE}: {name}={value} (must be <= {high})"
                    break
    if reasons:
        keep = np.ones(frame.height, dtype=bool)
        keep[list(reasons)] = False
        frame = frame.filter(pl.Series(keep))
    return frame, reasons


def _in_bounds(name: str) -> pl.Expr:
    """Null, not an integer (reported by the pattern check) or within the model's bounds."""
    low, high = INTEGER_BOUNDS[name]
    value = pl.col(name).cast(pl.Int64, strict=False)
    within = pl.lit(True)
    if low is not None:
        within = within & (value >= low)
    if high is not None:
        within = within & (value <= high)
    return value.is_null() | within


def _encode(
    context: FileContext,
    frame: pl.DataFrame,
    lines: npt.NDArray[np.int64],
    emitted_at: datetime,
    batch: EncodedBatch,
    source_text: pl.Series,
) -> None:
    """Enrich the validated records and write each ticket as a T1 ticket line.

    ``frame`` holds the checked fields of every record, ``source_text`` the T1 text of its
    source fields (see :func:`_source_text` and :func:`_fields_text`). Positions are the point
    table's ``repr`` text. What every ticket of the batch shares (``schema_version``,
    ``emitted_at``, ``source_file``, the columns the layout lacks) is encoded once.
    """
    inputs = frame.select(
        pl.col("summons_number").cast(pl.Int64),
        borough_index(pl.col("violation_county"), enrich.BOROUGHS),
        pl.col("violation_precinct").cast(pl.Int64).fill_null(-1),
    )  # one query: each eager Series call would be a query of its own (~0.3 ms each)
    summons = inputs["summons_number"].to_numpy()
    counties = inputs["violation_county"].to_numpy()
    precincts = inputs["violation_precinct"].to_numpy()
    boroughs = enrich.borough_indexes(counties, precincts)
    latitude, longitude = enrich.position_texts(enrich.position_indexes(summons, boroughs))
    drones = pl.Series(context.fleet).gather(enrich.drone_indexes(summons, len(context.fleet)))
    line_text = pl.Series("source_line", lines, dtype=pl.Int64).cast(pl.String)
    added = pl.DataFrame(
        [
            (f"{context.fingerprint}:" + line_text).alias("event_id"),
            drones.alias("drone_id"),
            latitude,
            longitude,
            line_text,
        ]
    )
    constants: dict[str, object] = dict.fromkeys(_missing_fields(context.layout))
    constants.update(schema_version=1, emitted_at=emitted_at, source_file=context.source_file)
    quoted = [
        name
        for name, texts in (("event_id", [context.fingerprint]), ("drone_id", context.fleet))
        if any(ticket_lines.encode_field(text) != text for text in texts)
    ]
    values = ticket_lines.encode_frame(
        added.with_columns(frame["issue_date"]), constants, quoted=quoted,
        source_text=source_text, source_columns=context.layout.fields,
    )  # fmt: skip
    batch.values = values.to_list()
    batch.keys = frame["summons_number"].to_list()
    batch.summons = summons


def _source_text(
    buffer: bytes,
    split: RecordSplit,
    good_indexes: npt.NDArray[np.int64],
    replaced: dict[int, bytes],
) -> pl.Series:
    """Per good record, its line as it is in the file where that is already the T1 text of its
    source fields, else null: string views into the buffer, no copy and no Python work per
    record.

    A record without a quote character that was read as it is (not rewritten, not re-decoded)
    has no field holding ``,``, ``"``, CR or LF, and its empty fields are the nulls; its integer
    fields passed the canonical check. So its text, without the line ending, is the T1 text.
    Good records are UTF-8 (:func:`~prestacop_csv_ingestor.records.find_undecodable`); the views
    reach no byte of any other record.
    """
    view = np.frombuffer(buffer, dtype=np.uint8)
    usable = split.quote_counts == 0
    usable[list(replaced)] = False
    starts, ends = split.starts[good_indexes], split.ends[good_indexes]
    carriage_return = (ends > starts) & (view[np.maximum(ends - 1, 0)] == CARRIAGE_RETURN)
    return _string_views(buffer, starts, ends - starts - carriage_return, usable[good_indexes])


_INLINE_BYTES = 12
"""Arrow string views hold a string of up to 12 bytes in the view itself."""


def _string_views(
    buffer: bytes,
    starts: npt.NDArray[np.int64],
    lengths: npt.NDArray[np.int64],
    valid: npt.NDArray[np.bool_],
) -> pl.Series:
    """The strings ``buffer[start:start + length]`` (null where not ``valid``) as one Arrow
    string-view array over ``buffer``: 16 bytes per string, the text itself is not copied.

    A view is its length (int32), then the string itself when it has at most 12 bytes, else its
    first 4 bytes, the data buffer's index (0) and the string's offset in it (int32).
    """
    if len(buffer) >= 2**31:
        raise ValueError("string views address at most 2 GiB: use smaller blocks")
    data = np.frombuffer(buffer, dtype=np.uint8)
    count = int(starts.size)
    words = np.zeros((count, 4), dtype="<i4")
    words[:, 0] = lengths
    words[:, 3] = starts
    views = words.view(np.uint8)
    last = data.size - 1
    for byte in range(4):  # the prefix; four gathers of one byte beat one (count, 4) gather
        views[:, 4 + byte] = data[np.minimum(starts + byte, last)]
    short = np.flatnonzero(lengths <= _INLINE_BYTES)  # never a ticket line (43+ fields)
    if short.size:
        head = data[np.minimum(starts[short, None] + np.arange(_INLINE_BYTES), last)]
        views[short, 4:] = np.where(np.arange(_INLINE_BYTES) < lengths[short, None], head, 0)
    validity = pa.py_buffer(np.packbits(valid, bitorder="little"))
    array = pa.Array.from_buffers(
        pa.string_view(), count, [validity, pa.py_buffer(views), pa.py_buffer(buffer)]
    )
    return pl.Series(array)


def _fields_text(frame: pl.DataFrame) -> pl.Series:
    """The T1 text of the source fields of each row of ``frame`` (every field, validated): the
    rare records whose line is not that text (a quote, a rewrite), field by field in Python.

    Integer fields are canonical integer text, which :func:`~prestacop_shared.ticket_lines.
    encode_field` writes as the integer's own text.
    """
    encode_field = ticket_lines.encode_field
    return pl.Series(
        [",".join(encode_field(value) for value in row) for row in frame.iter_rows()],
        dtype=pl.String,
    )


def _missing_fields(layout: TicketLayout) -> tuple[str, ...]:
    """Ticket source fields a layout has no column for (always null)."""
    return tuple(name for name in SOURCE_FIELDS if name not in layout.fields)

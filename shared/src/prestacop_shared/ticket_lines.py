"""The ``nypd.tickets`` wire encoding "T1": one ticket as one CSV text record.

A message value is the UTF-8 text ``T1,<event_date>,<ticket fields as CSV>``:

- ``T1`` names the encoding and its version (:data:`PREFIX`); a later layout is ``T2``.
- ``<event_date>`` is ``YYYY-MM-DD``, the date storage files the ticket by (under its month:
  ``PartitionRule.ISSUE_MONTH`` in :mod:`prestacop_shared.datasets`), by THE issue-date rule
  (:func:`event_date_of`, :func:`event_date_expr`): the ticket's ``issue_date`` when it is
  ``MM/DD/YYYY`` (:data:`~prestacop_shared.tickets.ISSUE_DATE_PATTERN`, year 1000-2999) naming a real calendar day, else the
  UTC date of ``emitted_at``. The prefix is fixed width: the fields start at character
  :data:`FIELDS_OFFSET` (0-based; 15 1-based).
- The fields are every field of :class:`~prestacop_shared.tickets.HistoricalTicket` in model
  declaration order (:data:`COLUMNS`), separated by ``,``. Null is the empty unquoted field, the
  empty string is ``""``; a field is quoted with ``"`` (inner ``"`` doubled) exactly when it
  contains ``,``, ``"``, CR or LF or is empty; otherwise it is written as is (never trimmed).
  Integers in decimal, floats in the shortest text that round-trips (Python ``repr``),
  ``emitted_at`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC, 6 fraction digits).

stream-storage writes the fields part as it is (plus the Kafka coordinates) into the folder of
``<event_date>``'s month, so the stored CSV is the encoded text. Two encoders give the same bytes (a
hypothesis test proves it): :func:`encode_ticket` (pure Python, the reference) and
:func:`encode_frame` (polars, vectorised, what the csv-ingestor sends). :func:`decode_ticket`
reads a value back (tests and tools).

This module needs polars (the csv-ingestor's dependency, or the ``polars`` extra).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Final

import polars as pl

from prestacop_shared.exceptions import DeserializationError
from prestacop_shared.tickets import (
    ISSUE_DATE_FORMAT,
    ISSUE_DATE_PATTERN,
    HistoricalTicket,
    issue_day_of,
)

PREFIX: Final = "T1"
"""The encoding and its version, the first field of every value."""

KNOWN_PREFIXES: Final[tuple[str, ...]] = (PREFIX,)
"""Prefixes a reader of ``nypd.tickets`` understands; a value with another one is quarantined."""

COLUMNS: Final[tuple[str, ...]] = tuple(HistoricalTicket.model_fields)
"""The ticket fields of a value, in order: the model's declaration order."""

DATE_TEXT_LENGTH: Final = len("YYYY-MM-DD")
FIELDS_OFFSET: Final = len(PREFIX) + 1 + DATE_TEXT_LENGTH + 1
"""Where the ticket fields start in a value (0-based; character 15 counting from 1)."""

EMITTED_AT_FORMAT: Final = "%Y-%m-%dT%H:%M:%S%.6fZ"
"""``emitted_at`` in a value (polars/chrono notation), as Spark's ``CSV_OPTIONS`` read it."""

_NEEDS_QUOTES: Final = re.compile(r'[,"\r\n]')
_NEEDS_QUOTES_POLARS: Final = r'[,"\r\n]'
_SMALLEST_PLAIN_FLOAT: Final = 1e-4
"""Below this magnitude Python's ``repr`` writes an exponent where polars writes decimals."""

_FLOAT_FIELDS: Final = frozenset(
    name
    for name, info in HistoricalTicket.model_fields.items()
    if info.annotation in (float, float | None)
)
"""Fields whose String column is their number's text, never quoted (see :func:`encode_frame`)."""


class TicketLineError(DeserializationError):
    """A value that is not a T1 ticket line (unknown prefix, bad field, or not a ticket)."""


# --- the issue-date rule -------------------------------------------------------------------


def issue_day_expr(issue_date: pl.Expr) -> pl.Expr:
    """The day an ``issue_date`` text column names, null when it does not (the rule, in polars)."""
    return (
        pl.when(issue_date.str.contains(ISSUE_DATE_PATTERN))
        .then(issue_date.str.strptime(pl.Date, ISSUE_DATE_FORMAT, strict=False))
        .otherwise(None)
    )


def event_date_of(ticket: HistoricalTicket) -> date:
    """A ticket's stored partition value: its issue day, else the UTC date of ``emitted_at``."""
    return issue_day_of(ticket.issue_date) or ticket.emitted_at.astimezone(UTC).date()


def event_date_expr(issue_date: pl.Expr, emitted_at: pl.Expr | datetime) -> pl.Expr:
    """:func:`event_date_of` in polars: a Date column (``emitted_at`` a column or one instant)."""
    if isinstance(emitted_at, datetime):
        fallback: pl.Expr = pl.lit(emitted_at.astimezone(UTC).date())
    else:
        fallback = emitted_at.dt.convert_time_zone("UTC").dt.date()
    return pl.coalesce(issue_day_expr(issue_date), fallback)


# --- the reference encoder -----------------------------------------------------------------


def encode_field(value: Any) -> str:
    """The text of one field value in a T1 line.

    Example:
        >>> [encode_field(v) for v in (None, "", "a,b", 'a"b', 7, 40.7, 1e-05)]
        ['', '""', '"a,b"', '"a""b"', '7', '40.7', '1e-05']
    """
    if value is None:
        return ""
    if isinstance(value, str):
        if value == "" or _NEEDS_QUOTES.search(value):
            return '"' + value.replace('"', '""') + '"'
        return value
    if isinstance(value, datetime):
        utc = value.astimezone(UTC).replace(tzinfo=None)
        return utc.isoformat(timespec="microseconds") + "Z"
    if isinstance(value, bool):
        raise TypeError("booleans have no T1 text")
    if isinstance(value, int | float):
        return repr(value)
    raise TypeError(f"no T1 text for {type(value).__name__}")


def encode_ticket_text(ticket: HistoricalTicket) -> str:
    """One ticket as a T1 value (text), field by field in pure Python: the reference encoder."""
    fields = ",".join(encode_field(getattr(ticket, name)) for name in COLUMNS)
    return f"{PREFIX},{event_date_of(ticket).isoformat()},{fields}"


def encode_ticket(ticket: HistoricalTicket) -> bytes:
    """One ticket as a T1 value (UTF-8 bytes): the reference encoder."""
    return encode_ticket_text(ticket).encode("utf-8")


# --- the vectorised encoder ----------------------------------------------------------------


def encode_frame(
    frame: pl.DataFrame,
    constants: Mapping[str, Any] | None = None,
    *,
    quoted: Collection[str] | None = None,
    source_text: pl.Series | None = None,
    source_columns: Sequence[str] = (),
) -> pl.Series:
    """T1 values (a String Series, one per row) of a frame of ticket columns, vectorised.

    Args:
        frame: one column per ticket field not in ``constants``, named as the model's fields:
            String for text, Int64 (or its canonical integer text, as the csv-ingestor holds
            it: the same characters) for integers, Float64 (or its ``repr`` text, e.g. looked
            up in a table of positions: the same characters) for floats, ``Datetime`` with a
            time zone for ``emitted_at``. Text is written as it is, never trimmed. The fields
            of ``source_columns`` other than ``issue_date`` may be left out when
            ``source_text`` has no null.
        constants: fields that have one value for every row (``schema_version``,
            ``emitted_at``, ``source_file``...), given as Python values: each is encoded once
            (:func:`encode_field`) and joined in as a literal.
        quoted: the text columns that may need quoting (``,``, ``"``, CR, LF or empty), when
            the caller knows (e.g. ``()``: text read from CSV without a single quote
            character, empty text already null); ``None``: look at every text column.
        source_text: per row, the T1 text of the fields ``source_columns`` (a run of
            consecutive :data:`COLUMNS`) joined by ``,``, or null. The csv-ingestor passes the
            source line of each record that has no quote character: such a line is already
            that text (no field holds ``,``, ``"``, CR or LF, an empty field is null, integer
            fields are checked canonical), so those fields cost nothing per row. Rows where it
            is null are encoded field by field.

    Gives exactly :func:`encode_ticket_text` of each row's ticket. Only the columns that need
    quoting in this frame pay for it; no Python work per row.
    """
    constants = dict(constants or {})
    run = tuple(source_columns) if source_text is not None else ()
    slow = source_text.is_null().arg_true() if source_text is not None else None
    optional = set(run) - {"issue_date"} if slow is not None and not slow.len() else set()
    present = set(frame.columns)
    missing = [
        name
        for name in COLUMNS
        if name not in constants and name not in present and name not in optional
    ]
    if missing:
        raise KeyError(f"encode_frame: no column or constant for {', '.join(missing)}")
    if source_text is None or slow is None:
        return _encode_rows(frame, constants, quoted, ())
    first = COLUMNS.index(run[0]) if run else 0
    if not run or COLUMNS[first : first + len(run)] != run:
        raise ValueError("encode_frame: source_columns must be consecutive ticket fields")
    with_text = frame.with_columns(source_text.alias(_SOURCE_TEXT))
    values = _encode_rows(with_text, constants, quoted, run)
    if slow.len():
        values = values.scatter(slow, _encode_rows(frame[slow], constants, quoted, ()))
    return values


_SOURCE_TEXT: Final = "__source_text"


def _encode_rows(
    frame: pl.DataFrame,
    constants: dict[str, Any],
    quoted: Collection[str] | None,
    run: tuple[str, ...],
) -> pl.Series:
    """:func:`encode_frame` of every row, the fields of ``run`` taken from ``_SOURCE_TEXT``."""
    if "emitted_at" in constants:
        emitted_at: pl.Expr | datetime = constants["emitted_at"]
    else:
        emitted_at = pl.col("emitted_at")
    issue_date = (
        pl.lit(constants["issue_date"], dtype=pl.String)
        if "issue_date" in constants
        else pl.col("issue_date")
    )
    event_date = event_date_expr(issue_date, emitted_at).dt.to_string("%Y-%m-%d")

    schema = frame.schema
    columns = [name for name in COLUMNS if name not in constants and name not in run]
    if quoted is None:
        quoted = _columns_needing_quotes(frame, schema, columns)
    small_floats = _columns_with_small_floats(frame, schema, columns)
    parts: list[pl.Expr] = [pl.lit(f"{PREFIX},"), event_date]
    text = ""
    for name in COLUMNS:
        if name in run[1:]:
            continue
        text += ","
        if name in run:
            parts.extend((pl.lit(text), pl.col(_SOURCE_TEXT)))
            text = ""
            continue
        if name in constants:
            text += encode_field(constants[name])
            continue
        parts.append(pl.lit(text))
        text = ""
        parts.append(_column_text(schema[name], name, name in quoted, name in small_floats))
    if text:
        parts.append(pl.lit(text))
    return frame.select(pl.concat_str(parts).alias("value")).to_series()


def _columns_needing_quotes(frame: pl.DataFrame, schema: pl.Schema, columns: list[str]) -> set[str]:
    text_columns = [
        name for name in columns if schema[name] == pl.String and name not in _FLOAT_FIELDS
    ]
    if not text_columns or not frame.height:
        return set()
    found = frame.select(
        (pl.col(name).str.contains(_NEEDS_QUOTES_POLARS) | (pl.col(name).str.len_bytes() == 0))
        .any()
        .alias(name)
        for name in text_columns
    ).row(0)
    return {name for name, any_found in zip(text_columns, found, strict=True) if any_found}


def _columns_with_small_floats(
    frame: pl.DataFrame, schema: pl.Schema, columns: list[str]
) -> set[str]:
    float_columns = [name for name in columns if schema[name] in (pl.Float64, pl.Float32)]
    if not float_columns or not frame.height:
        return set()
    found = frame.select(
        ((pl.col(name).abs() < _SMALLEST_PLAIN_FLOAT) & (pl.col(name) != 0)).any().alias(name)
        for name in float_columns
    ).row(0)
    return {name for name, any_found in zip(float_columns, found, strict=True) if any_found}


def _column_text(dtype: pl.DataType, name: str, needs_quotes: bool, small_floats: bool) -> pl.Expr:
    """The T1 text of one column, the empty string where it is null."""
    column = pl.col(name)
    if dtype == pl.Null:
        return pl.lit("")
    if dtype == pl.String:
        if needs_quotes:
            column = (
                pl.when(column.str.contains(_NEEDS_QUOTES_POLARS) | (column.str.len_bytes() == 0))
                .then(
                    pl.concat_str(
                        pl.lit('"'), column.str.replace_all('"', '""', literal=True), pl.lit('"')
                    )
                )  # fmt: skip
                .otherwise(column)
            )
        return column.fill_null("")
    if isinstance(dtype, pl.Datetime):
        return column.dt.convert_time_zone("UTC").dt.to_string(EMITTED_AT_FORMAT).fill_null("")
    if dtype in (pl.Float64, pl.Float32):
        text = column.cast(pl.String)
        if small_floats:
            # Rare (|x| < 1e-4): Python's repr writes these with an exponent; only the frames
            # holding one pay for a per-value repr.
            small = (column.abs() < _SMALLEST_PLAIN_FLOAT) & (column != 0)
            text = (
                pl.when(small)
                .then(column.map_elements(repr, return_dtype=pl.String))
                .otherwise(text)
            )
        return text.fill_null("")
    if dtype.is_integer():
        return column.cast(pl.String).fill_null("")
    raise TypeError(f"encode_frame: {name} has dtype {dtype}, which has no T1 text")


def polars_schema() -> dict[str, pl.DataType]:
    """The polars type of every ticket field, in :data:`COLUMNS` order (from the model)."""
    schema: dict[str, pl.DataType] = {}
    for name in COLUMNS:
        annotation = HistoricalTicket.model_fields[name].annotation
        if name == "emitted_at":
            schema[name] = pl.Datetime("us", "UTC")
        elif name == "schema_version" or annotation in (int, int | None):
            schema[name] = pl.Int64()
        elif annotation in (float, float | None):
            schema[name] = pl.Float64()
        else:
            schema[name] = pl.String()
    return schema


def frame_of(tickets: list[HistoricalTicket]) -> pl.DataFrame:
    """A typed frame of tickets (one column per field), the input :func:`encode_frame` takes."""
    rows = [ticket.model_dump() for ticket in tickets]
    return pl.DataFrame(rows, schema=polars_schema(), orient="row")


# --- the decoder ---------------------------------------------------------------------------


def split_fields(text: str) -> list[str | None]:
    """The fields of a T1 CSV text: ``None`` for an empty unquoted field, the text otherwise.

    Raises:
        TicketLineError: a quote that does not open or close a field.

    Example:
        >>> split_fields('a,,"","b,""c"",d"')
        ['a', None, '', 'b,"c",d']
    """
    fields: list[str | None] = []
    position, size = 0, len(text)
    while True:
        if position < size and text[position] == '"':
            end = position + 1
            pieces = []
            while True:
                close = text.find('"', end)
                if close < 0:
                    raise TicketLineError(f"unterminated quote at {position}", text.encode())
                pieces.append(text[end:close])
                if close + 1 < size and text[close + 1] == '"':
                    pieces.append('"')
                    end = close + 2
                    continue
                break
            fields.append("".join(pieces))
            position = close + 1
        else:
            comma = text.find(",", position)
            end = size if comma < 0 else comma
            value = text[position:end]
            if '"' in value or "\r" in value or "\n" in value:
                raise TicketLineError(
                    f"unquoted special character in {value[:40]!r}", text.encode()
                )
            fields.append(value or None)
            position = end
        if position == size:
            return fields
        if text[position] != ",":
            raise TicketLineError(f"expected ',' at {position}", text.encode())
        position += 1
        if position == size:
            fields.append(None)
            return fields


def prefix_of(value: bytes) -> str:
    """The encoding prefix of a value (the text before its first comma, at most 16 bytes)."""
    head = value[:16].split(b",", 1)[0]
    return head.decode("utf-8", "replace")


def decode_ticket(value: bytes | str) -> HistoricalTicket:
    """Read one T1 value back into the ticket it encodes (checks its ``event_date`` too).

    Raises:
        TicketLineError: an unknown prefix, a malformed line, a wrong field count, an
            ``event_date`` that is not the rule's, or fields the model rejects.
    """
    raw = value.encode("utf-8") if isinstance(value, str) else value
    text = raw.decode("utf-8") if isinstance(value, bytes) else value
    if prefix_of(raw) not in KNOWN_PREFIXES:
        raise TicketLineError(f"unknown ticket encoding prefix {prefix_of(raw)!r}", raw)
    event_date_text = text[len(PREFIX) + 1 : FIELDS_OFFSET - 1]
    fields = split_fields(text[FIELDS_OFFSET:])
    if len(fields) != len(COLUMNS):
        raise TicketLineError(f"{len(fields)} fields, expected {len(COLUMNS)}", raw)
    data: dict[str, Any] = {}
    for name, field_text in zip(COLUMNS, fields, strict=True):
        data[name] = None if field_text is None else _typed(name, field_text)
    try:
        ticket = HistoricalTicket.model_validate({k: v for k, v in data.items() if v is not None})
    except ValueError as error:
        raise TicketLineError(f"not a ticket: {str(error).splitlines()[0]}", raw) from error
    if event_date_text != event_date_of(ticket).isoformat():
        raise TicketLineError(
            f"event_date {event_date_text!r} is not the ticket's "
            f"({event_date_of(ticket).isoformat()})",
            raw,
        )
    return ticket


def _typed(name: str, text: str) -> Any:
    annotation = HistoricalTicket.model_fields[name].annotation
    try:
        if annotation in (int, int | None) or name == "schema_version":
            return int(text)
        if annotation in (float, float | None) or name in ("latitude", "longitude"):
            return float(text)
    except ValueError as error:
        raise TicketLineError(f"{name}: {text[:40]!r} is not a number", text.encode()) from error
    return text

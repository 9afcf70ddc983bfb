"""The tickets' partial, computed with Arrow: committed CSV files in, counts per key set out.

Where the time of a full run went (Spark's own metrics, ``make bench``): Spark's CSV reader
spent about 9 µs of CPU per stored ticket tokenising and typing the rows, and the
``GROUPING SETS`` aggregate expanded every row eight times before its map-side counts. Here each
Spark task (``mapInArrow``, :func:`prestacop_analytics.partials.tickets_partial`) reads its share
of the files with Arrow's CSV reader, which converts only :data:`~prestacop_analytics.inputs.
TICKET_COLUMNS`, types them (:func:`~prestacop_analytics.inputs.type_tickets`) and counts every
key set with Arrow's hash aggregation, chunk by chunk; Spark then writes the small result. An
increment small enough runs the same function on the driver (no Spark job to wait for).

The files are read as Spark reads them (``CSV_READ_OPTIONS``): columns by position, ``"`` quotes
with doubled ``""`` inside, line breaks inside quoted values, an unquoted empty field is null and
``""`` the empty string; the header line (files that carry one) is checked and skipped.
Several files are parsed as one chunk (bounded by :data:`CHUNK_BYTES`, a bigger file alone):
Spark's sink writes many small files, and a parser call per file would cost more than it reads.

Output (:data:`PARTIAL_SCHEMA`): for every key set of :data:`~prestacop_analytics.partials.
SUMMARY_KEYS`, its keys (the other keys null), ``set_id`` (Spark's ``grouping_id`` of the set, as
the merge expects) and ``tickets``; one task's rows are unique per (set, keys), and the merge sums
over tasks and runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from prestacop_analytics.exceptions import DatasetError
from prestacop_analytics.inputs import TICKET_COLUMNS, TYPED_COLUMNS, type_tickets
from prestacop_analytics.keys import SUMMARY_KEYS, SUMMONS, SUMMONS_KEY, key_columns, set_id

CHUNK_BYTES: Final = 32 * 1024 * 1024
"""Files are parsed together up to this many bytes (a bigger file is parsed alone)."""

COUNT = "tickets"
SET_ID = "set_id"

PARTIAL_SCHEMA: Final = pa.schema(
    [(name, TYPED_COLUMNS[name]) for name in key_columns(SUMMARY_KEYS)]
    + [(SET_ID, pa.int64()), (COUNT, pa.int64())]
)
"""The tickets' partial: every key column of every set, its set id and the count."""


def _chunks(files: Sequence[Path], header: str | None) -> Iterator[pa.Buffer]:
    """The files' rows in chunks of about :data:`CHUNK_BYTES`, header lines checked and cut.

    A file's bytes are not copied but to join several small files into one chunk.
    """
    expected = header.encode("utf-8") + b"\n" if header is not None else b""
    parts: list[memoryview] = []
    size = 0
    for file in files:
        data = memoryview(file.read_bytes())
        if expected and data:
            if len(data) <= len(expected) + 1 and bytes(data).rstrip(b"\n") == expected[:-1]:
                continue  # the header and no rows
            if data[: len(expected)] != expected:
                raise DatasetError(
                    f"{file}: its first line is not the stored tickets' header {header!r}"
                )
            data = data[len(expected) :]
        if not data:
            continue
        parts.append(data)
        if data[-1] != ord("\n"):
            parts.append(memoryview(b"\n"))
        size += len(data)
        if size >= CHUNK_BYTES:
            yield _joined(parts)
            parts, size = [], 0
    if parts:
        yield _joined(parts)


def _joined(parts: list[memoryview]) -> pa.Buffer:
    return pa.py_buffer(parts[0] if len(parts) == 1 else b"".join(parts))


def read_tickets(
    files: Sequence[Path],
    names: Sequence[str],
    types: dict[str, pa.DataType],
    *,
    header: str | None,
) -> Iterator[pa.Table]:
    """The :data:`TICKET_COLUMNS` of the rows of ``files``, chunk by chunk, typed as ``types``.

    ``names`` are the files' columns in order; ``header``: the line each file starts with, or
    ``None`` (headerless files).

    Raises:
        DatasetError: a file's header or a row does not fit the stored tickets' layout.
    """
    read_options = pcsv.ReadOptions(column_names=list(names), use_threads=False)
    parse_options = pcsv.ParseOptions(newlines_in_values=True)
    convert_options = pcsv.ConvertOptions(
        include_columns=list(TICKET_COLUMNS),
        column_types=types,
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    for chunk in _chunks(files, header):
        try:
            yield pcsv.read_csv(
                chunk,
                read_options=read_options,
                parse_options=parse_options,
                convert_options=convert_options,
            )
        except pa.ArrowInvalid as error:
            first, last = files[0], files[-1]
            raise DatasetError(f"stored tickets {first} .. {last}: {error}") from error


def _counts(typed: pa.Table, keys: Sequence[str], count: str) -> pa.Table:
    """Rows of ``typed`` per distinct ``keys`` (null a key of its own), as ``keys`` + ``count``."""
    grouped = typed.group_by(list(keys), use_threads=False).aggregate([([], "count_all")])
    return grouped.rename_columns([*keys, count]) if keys else grouped


def _summed(tables: Sequence[pa.Table], keys: Sequence[str]) -> pa.Table:
    combined = pa.concat_tables(tables)
    grouped = combined.group_by(list(keys), use_threads=False).aggregate([(COUNT, "sum")])
    return grouped.rename_columns([*keys, COUNT])


def _as_partial(counts: pa.Table, keys: Sequence[str]) -> pa.Table:
    """One key set's counts in :data:`PARTIAL_SCHEMA` (keys not in the set are null)."""
    rows = counts.num_rows
    columns = [
        counts[field.name] if field.name in keys else pa.nulls(rows, field.type)
        for field in PARTIAL_SCHEMA
        if field.name not in (SET_ID, COUNT)
    ]
    columns.append(pa.array([set_id(SUMMARY_KEYS, keys)] * rows, pa.int64()))
    columns.append(counts[COUNT])
    return pa.Table.from_arrays(columns, schema=PARTIAL_SCHEMA)


def count_tickets(chunks: Iterable[pa.Table], cell_deg: float) -> pa.Table:
    """The tickets' partial (:data:`PARTIAL_SCHEMA`) of the stored rows in ``chunks``.

    Each chunk is typed and counted by every key set; the chunks' counts are summed per set at
    the end, so memory holds one chunk and the counts. The summons numbers (nearly one count per
    ticket) are kept and counted once at the end, as one 8-byte column.
    """
    per_set: dict[tuple[str, ...], list[pa.Table]] = {keys: [] for keys in SUMMARY_KEYS}
    numbers: list[pa.ChunkedArray] = []
    for chunk in chunks:
        typed = type_tickets(chunk, cell_deg)
        for keys in SUMMARY_KEYS:
            if keys == SUMMONS:
                numbers.append(typed[SUMMONS_KEY])
            else:
                per_set[keys].append(_counts(typed, keys, COUNT))
    if numbers:
        per_set[SUMMONS] = [number_counts(pa.chunked_array(numbers))]
    return pa.concat_tables(
        _as_partial(tables[0] if len(tables) == 1 else _summed(tables, keys), keys)
        if tables
        else PARTIAL_SCHEMA.empty_table()
        for keys, tables in per_set.items()
    )


def number_counts(numbers: pa.ChunkedArray | pa.Array) -> pa.Table:
    """How many times each summons number occurs (``summons_number``, ``tickets``; null a key).

    By sorting (numpy): a hash aggregate over about one group per row costs five times more.
    """
    valid = pc.drop_null(numbers)
    values, counts = np.unique(valid.to_numpy(), return_counts=True)
    keys = pa.array(values, pa.int64())
    tickets = pa.array(counts, pa.int64())
    missing = len(numbers) - len(valid)
    if missing:
        keys = pa.concat_arrays([keys, pa.nulls(1, pa.int64())])
        tickets = pa.concat_arrays([tickets, pa.array([missing], pa.int64())])
    return pa.table({SUMMONS_KEY: keys, COUNT: tickets})

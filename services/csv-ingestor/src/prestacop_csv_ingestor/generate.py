"""Synthetic tickets files in the exact format of a real fiscal year, fast enough for 10M rows.

Columns are drawn with numpy from :func:`~prestacop_csv_ingestor.profile.load_profile` (real
value distributions), in chunks written by polars, so memory stays flat. FY2017 files use CRLF
and no final newline like the real file; earlier years use LF and 51 columns. ``bad_lines`` puts
every kind of bad line the ingestor must quarantine at known line numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl

from prestacop_csv_ingestor.profile import load_profile
from prestacop_shared.tickets import SOURCE_HEADER, TicketLayout

CHUNK_ROWS: Final = 100_000
BAD_KINDS: Final[tuple[str, ...]] = (
    "wrong column count", "not UTF-8", "unterminated quote", "line too long",
    "not an integer", "empty summons number",
)  # fmt: skip
"""Kinds of bad lines, named as the ingestor's quarantine reasons start."""
_ALPHANUMERIC = np.frombuffer(b"ABCDEFGHJKLMNPRSTUVWXYZ0123456789", dtype=np.uint8)


@dataclass
class GeneratedFile:
    """What was written: rows, and the line number and kind of every bad line."""

    path: Path
    year: int
    rows: int
    bad_lines: dict[int, str] = field(default_factory=dict)


def _weighted(rows: list[list[Any]]) -> tuple[list[list[Any]], npt.NDArray[np.float64]]:
    weights = np.array([row[-1] for row in rows], dtype=np.float64)
    return [row[:-1] for row in rows], weights / weights.sum()


def _draw(
    rng: np.random.Generator, rows: list[list[Any]], count: int
) -> tuple[list[list[Any]], npt.NDArray[np.int64]]:
    values, weights = _weighted(rows)
    return values, rng.choice(len(values), size=count, p=weights)


def _column(values: list[Any], position: int, picks: npt.NDArray[np.int64]) -> pl.Series:
    return pl.Series([value[position] for value in values], dtype=pl.String).gather(picks)


def _chunk(
    rng: np.random.Generator, year: int, layout: TicketLayout, first_summons: int, count: int
) -> pl.DataFrame:
    profile = load_profile()
    columns: dict[str, pl.Series] = {}
    step = rng.integers(1, 40, size=count, dtype=np.int64)
    summons = first_summons + np.cumsum(step)
    columns["summons_number"] = pl.Series(rng.permutation(summons)).cast(pl.String)
    letters = _ALPHANUMERIC[rng.integers(0, _ALPHANUMERIC.size, size=(count, 7))]
    columns["plate_id"] = pl.Series(
        letters.view(np.dtype("S7")).ravel().astype(str), dtype=pl.String
    )
    start = np.datetime64(f"{year - 1}-07-01")
    days = start + rng.integers(0, 365, size=count).astype("timedelta64[D]")
    columns["issue_date"] = pl.Series(days).dt.strftime("%m/%d/%Y")
    hours, hour_weights = _weighted(profile["violation_hours"])
    hour_picks = rng.choice(len(hours), size=count, p=hour_weights)
    minutes = pl.Series(rng.integers(0, 60, size=count)).cast(pl.String).str.zfill(2)
    hour_text = _column(hours, 0, hour_picks)
    columns["violation_time"] = hour_text.str.slice(0, 2) + minutes + hour_text.str.slice(2, 1)
    for group in profile["joint"].values():
        values, picks = _draw(rng, group["rows"], count)
        for position, name in enumerate(group["columns"]):
            columns[name] = _column(values, position, picks)
    overrides = profile["per_year"].get(str(year), {})
    for name, rows in profile["columns"].items():
        values, picks = _draw(rng, overrides.get(name, rows), count)
        columns[name] = _column(values, 0, picks)
    for name in layout.fields:
        columns.setdefault(name, pl.repeat("", count, dtype=pl.String, eager=True))
    frame = pl.DataFrame([columns[name].alias(name) for name in layout.fields])
    # Real files write an empty field as nothing at all; polars quotes empty strings, not nulls.
    return frame.with_columns(
        pl.when(pl.col(name).str.len_bytes() > 0).then(pl.col(name)).alias(name)
        for name in layout.fields
    )


def _bad_line(kind: str, good: bytes, rng: np.random.Generator) -> bytes:
    fields = good.split(b",")
    if kind == "wrong column count":
        return b",".join(fields[:-3])
    if kind == "not UTF-8":
        fields[24] = b"CAF\xe9 AVE"
        return b",".join(fields)
    if kind == "unterminated quote":
        fields[24] = b'"BROADWAY'
        return b",".join(fields)
    if kind == "line too long":
        fields[24] = b"X" * int(rng.integers(200_000, 400_000))
        return b",".join(fields)
    if kind == "not an integer":
        fields[5] = b"0033" if rng.random() < 0.5 else b"abc"
        return b",".join(fields)
    if kind == "empty summons number":
        fields[0] = b""
        return b",".join(fields)
    raise ValueError(f"unknown bad line kind {kind!r}")


def generate_file(
    out: Path, rows: int, year: int = 2017, seed: int = 0, bad_lines: int = 0
) -> GeneratedFile:
    """Write ``rows`` data lines (bad ones included) of fiscal year ``year`` to ``out``.

    Args:
        out: file to write (replaced).
        rows: data lines, header not counted.
        year: 2014-2017; picks the layout, the line ending and the date formats.
        seed: the same seed gives the same file.
        bad_lines: how many lines of *each* kind in :data:`BAD_KINDS` to put in.
    """
    if year not in (2014, 2015, 2016, 2017):
        raise ValueError(f"year must be 2014-2017 (a real layout), got {year}")
    rng = np.random.default_rng(seed)
    layout = TicketLayout.FY2017 if year == 2017 else TicketLayout.FY2014_2016
    newline = b"\r\n" if year == 2017 else b"\n"
    kinds = [kind for kind in BAD_KINDS for _ in range(bad_lines)]
    if len(kinds) > rows:
        raise ValueError(f"{len(kinds)} bad lines do not fit in {rows} rows")
    chosen = rng.choice(rows, size=len(kinds), replace=False) + 2
    result = GeneratedFile(out, year, rows, dict(zip(chosen.tolist(), kinds, strict=True)))
    out.parent.mkdir(parents=True, exist_ok=True)
    header = ",".join(SOURCE_HEADER[: layout.column_count]).encode()
    summons_base = int(rng.integers(1_000_000_000, 8_000_000_000))
    with out.open("wb") as handle:
        handle.write(header)
        line = 2
        for first in range(0, rows, CHUNK_ROWS):
            count = min(CHUNK_ROWS, rows - first)
            frame = _chunk(rng, year, layout, summons_base + first * 40, count)
            text = frame.write_csv(include_header=False, line_terminator="\n").encode()
            bad_here = {n: k for n, k in result.bad_lines.items() if line <= n < line + count}
            if bad_here:
                lines = text.rstrip(b"\n").split(b"\n")
                for number, kind in bad_here.items():
                    lines[number - line] = _bad_line(kind, lines[number - line], rng)
                text = b"\n".join(lines) + b"\n"
            handle.write(newline)
            body = text[:-1]
            handle.write(body.replace(b"\n", newline) if newline != b"\n" else body)
            line += count
        if year != 2017:
            handle.write(newline)
    return result

"""Damaged real rows: every physical line ends as exactly one ticket or one dead letter."""

from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from prestacop_csv_ingestor import enrich
from prestacop_csv_ingestor.batch import EncodedBatch, FileContext, encode_batch
from prestacop_csv_ingestor.blocks import BlockReader, Checkpoint
from prestacop_csv_ingestor.config import Settings
from prestacop_csv_ingestor.reader import open_tickets_file
from prestacop_csv_ingestor.records import split_records
from prestacop_csv_ingestor.summary import RepeatCounter
from prestacop_shared.events import DeadLetter
from prestacop_shared.ticket_lines import decode_ticket
from prestacop_shared.tickets import (
    HistoricalTicket,
    TicketFormatError,
    TicketLayout,
    ticket_from_source_row,
)
from tests.unit.csv_ingestor.fuzz_profiles import PROFILE

pytestmark = pytest.mark.unit

NYC = Path(__file__).parents[2] / "data" / "nyc"
FLEET = enrich.archive_fleet("nypd", 10)
STREET = 24  # column index of Street Name


def encode_all(data: bytes, layout: TicketLayout, block: int = 1 << 20) -> list[EncodedBatch]:
    """Cut and encode ``data`` (header first) as the block reader does, block by block."""
    context = FileContext(layout, "f.csv", "fp", FLEET)
    header_end = data.index(b"\n") + 1
    batches: list[EncodedBatch] = []
    begin, line, read = header_end, 2, header_end
    buffer = data[:read]
    while True:
        read = min(len(data), read + block)
        eof = read == len(data)
        buffer = data[:read]
        while begin < len(buffer):
            split = split_records(
                buffer, begin, line, eof=eof, expected_columns=layout.column_count,
                max_record_bytes=65536, max_record_lines=16,
            )  # fmt: skip
            assert not split.oversized
            if not len(split):
                break
            batches.append(encode_batch(context, buffer, split, datetime.now(UTC)))
            begin, line = split.consumed, split.next_line
        if eof:
            return batches


def test_two_stray_quotes_within_16_lines_lose_no_line() -> None:
    """Measured on the old main: polars ComputeError 'expected 168 rows, actual 170 rows'."""
    lines = (NYC / "fy2017_head_10212_rows.csv").read_bytes().split(b"\r\n")[:2001]
    for number in (10, 12):  # data lines 10 and 12 (file lines 11 and 13)
        fields = lines[number].split(b",")
        fields[STREET] = b'5" X'
        lines[number] = b",".join(fields)
    batches = encode_all(b"\r\n".join(lines), TicketLayout.FY2017)
    tickets = [decode_ticket(v) for b in batches for v in b.values]
    letters = [DeadLetter.model_validate_json(v) for b in batches for _, v, _ in b.dead_letters]
    assert not letters
    assert [t.source_line for t in tickets] == list(range(2, 2002))
    assert tickets[9].street_name == tickets[11].street_name == '5" X'


# --- Property: random files of real rows with random damage --------------------------------

SOURCES = {
    TicketLayout.FY2017: (NYC / "fy2017_head_10212_rows.csv").read_bytes().split(b"\r\n"),
    TicketLayout.FY2014_2016: (NYC / "fy2016_head_99_rows.csv").read_bytes().split(b"\n"),
}
HEADERS = {layout: lines[0] for layout, lines in SOURCES.items()}
ROWS = {  # the quoted rows first, so that shrinking goes to them
    layout: sorted({row for row in lines[1:600] if row} | {r for r in lines[1:] if b'"' in r},
                   key=lambda row: b'"' not in row)
    for layout, lines in SOURCES.items()
}  # fmt: skip
MAX_RECORD_BYTES = 1024
_FOLDER = tempfile.TemporaryDirectory(prefix="ingestor-damage-")
SETTINGS = Settings(max_record_bytes=MAX_RECORD_BYTES, max_record_lines=16)
DAMAGES = (
    "stray quote", "quote at field start", "split line", "truncated", "extra field",
    "missing field", "CR", "NUL", "not UTF-8", "long line",
)  # fmt: skip


def must_be_quarantined(line: Line) -> bool:
    """Whether the damage leaves a line without quotes that can only be a dead letter."""
    if b'"' in line.text or line.damage == "none":
        return False
    return line.damage in ("not UTF-8", "long line") or (
        line.damage in ("split line", "extra field", "missing field")
        and line.text.count(b",") != line.row.count(b",")
    )


@dataclass(frozen=True)
class Line:
    """One physical data line of a generated file and how it was made."""

    text: bytes
    damage: str
    row: bytes


@st.composite
def damaged_rows(draw: st.DrawFn, layout: TicketLayout) -> list[Line]:
    row = draw(st.sampled_from(ROWS[layout]))
    damage = draw(st.one_of(st.just("none"), st.sampled_from(DAMAGES)))
    fields = row.split(b",")
    where = draw(st.integers(0, len(row)))
    field = draw(st.integers(0, len(fields) - 1))
    if damage == "none":
        pieces = [row]
    elif damage == "stray quote":
        pieces = [row[:where] + b'"' + row[where:]]
    elif damage == "quote at field start":
        pieces = [b",".join([*fields[:field], b'"' + fields[field], *fields[field + 1 :]])]
    elif damage == "split line":
        where = max(1, min(where, len(row) - 1))
        pieces = [row[:where], row[where:]]
    elif damage == "truncated":
        pieces = [row[: min(where, len(row) - 1)]]
    elif damage == "extra field":
        pieces = [b",".join([*fields[:field], b"X", *fields[field:]])]
    elif damage == "missing field":
        pieces = [b",".join([*fields[:field], *fields[field + 1 :]])]
    elif damage in ("CR", "NUL", "not UTF-8"):
        byte = {"CR": b"\r", "NUL": b"\x00"}.get(damage) or draw(
            st.sampled_from([b"\xff", b"\xe9", b"\xc3", b"\x80"])
        )
        pieces = [row[:where] + byte + row[where:]]
    else:  # long line
        padding = b"X" * draw(st.integers(MAX_RECORD_BYTES, 3 * MAX_RECORD_BYTES))
        pieces = [b",".join([*fields[:field], fields[field] + padding, *fields[field + 1 :]])]
    return [Line(piece, damage, row) for piece in pieces]


@st.composite
def damaged_files(draw: st.DrawFn) -> tuple[TicketLayout, list[Line], bytes, int]:
    """(layout, data lines, the whole file, block size to read it with)."""
    layout = draw(st.sampled_from(list(TicketLayout)))
    groups = draw(st.lists(damaged_rows(layout), min_size=1, max_size=24))
    lines = [line for group in groups for line in group]
    ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    final_newline = draw(st.booleans()) or not lines[-1].text
    data = ending.join([HEADERS[layout], *(line.text for line in lines)])
    # Mostly one block (each block costs a few polars queries); sometimes lines cut across blocks.
    block = draw(st.sampled_from([1 << 20, 1 << 20, 1 << 20, 256, 1000, 4096]))
    return layout, lines, data + (ending if final_newline else b""), block


def reference_row(text: bytes) -> list[str] | None:
    """How Python's csv module reads one line (a lone CR kept as text, as polars keeps it).

    ``text`` is the physical line without its LF: one CR before it is the line ending.
    """
    if text.endswith(b"\r"):
        text = text[:-1]
    try:
        decoded = text.decode("utf-8")
        rows = list(csv.reader([decoded.replace("\r", "\x01")]))
    except (UnicodeDecodeError, csv.Error):
        return None
    return [value.replace("\x01", "\r") for value in rows[0]] if len(rows) == 1 else None


def reference_ticket(
    layout: TicketLayout, text: bytes, line: int, emitted_at: datetime
) -> HistoricalTicket | None:
    row = reference_row(text)
    if row is None:
        return None
    try:
        summons = int(row[0])
        county = row[21] or None
        precinct = int(row[14]) if row[14] else None
        drone, latitude, longitude = enrich.ticket_enrichment(summons, county, precinct, FLEET)
        return ticket_from_source_row(
            layout, row, drone_id=drone, latitude=latitude, longitude=longitude,
            source_file="f.csv", source_line=line, event_id=f"fp:{line}", emitted_at=emitted_at,
        )  # fmt: skip
    except (ValueError, IndexError, TicketFormatError, ValidationError):
        return None


def read_file(path: Path, layout: TicketLayout, block: int) -> list[EncodedBatch]:
    context = FileContext(layout, "f.csv", "fp", FLEET)
    header = open_tickets_file(path)
    reader = BlockReader(
        path, context, SETTINGS, RepeatCounter(10_000), offset=header.data_offset, line=2,
        end=header.size_bytes, block_bytes=block,
    )  # fmt: skip
    items = list(reader.items())
    last = items[-1]
    assert isinstance(last, Checkpoint) and last.done and last.offset == header.size_bytes
    return [item for item in items if isinstance(item, EncodedBatch)]


@given(damaged_files())
@settings(parent=PROFILE)
def test_every_physical_line_ends_as_one_ticket_or_one_dead_letter(
    generated: tuple[TicketLayout, list[Line], bytes, int],
) -> None:
    layout, lines, data, block = generated
    path = Path(_FOLDER.name) / "f.csv"  # one file rewritten per example: cheaper than a folder
    path.write_bytes(data)
    batches = read_file(path, layout, block)
    data_lines = set(range(2, len(lines) + 2))
    assert sum(batch.lines for batch in batches) == len(lines)
    covered: dict[int, str] = {}
    tickets: dict[int, HistoricalTicket] = {}
    spans: dict[int, int] = {}
    for batch in batches:
        assert len(batch.keys) == len(batch.values) == batch.summons.size
        for value in batch.values:
            ticket = decode_ticket(value)  # the T1 decoder, then the model's rules
            text = ticket.model_dump(include=set(layout.fields))
            span = 1 + sum(v.count("\n") for v in text.values() if isinstance(v, str))
            tickets[ticket.source_line] = ticket
            spans[ticket.source_line] = span
            for line in range(ticket.source_line, ticket.source_line + span):
                assert line not in covered, f"line {line} twice"
                covered[line] = "ticket"
        for key, letter, _ in batch.dead_letters:
            first = int(key.rsplit(":", 1)[1])
            dead = DeadLetter.model_validate_json(letter)
            assert dead.source == key
            span = 1 + dead.raw.count("\n")
            if span > 1:  # only an opening quote joins lines into one record
                assert '"' in dead.raw.split("\n", 1)[0], (first, dead.raw)
                spans[first] = span
            for line in range(first, first + span):  # a multi-line record
                assert line not in covered, f"line {line} twice"
                covered[line] = "dead letter"
    assert set(covered) == data_lines  # sent + quarantined == data lines
    # Lines inside a quoted multi-line record (a ticket, or a dead letter when the joined record
    # is bad as a whole, e.g. not UTF-8) are judged with their record, not one by one.
    in_multi_line = {
        line for start, span in spans.items() if span > 1 for line in range(start, start + span)
    }
    physical = data.split(b"\n")[1:]  # with the CR of a CRLF ending, as the cutter sees them
    assert len(physical) - (physical[-1] == b"") == len(lines)
    for number, line in enumerate(lines, start=2):
        if number in in_multi_line:
            continue
        if line.damage == "none":
            assert covered[number] == "ticket", (number, line)
        if must_be_quarantined(line):
            assert covered[number] == "dead letter", (number, line)
        if number in tickets:
            ticket = tickets[number]
            reference = reference_ticket(layout, physical[number - 2], number, ticket.emitted_at)
            assert ticket == reference, line
    for start, span in spans.items():
        if span > 1:
            assert b'"' in lines[start - 2].text

"""Damaged real rows: every physical line ends as exactly one ticket or one dead letter."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from prestacop_csv_ingestor import enrich
from prestacop_csv_ingestor.batch import EncodedBatch, FileContext, encode_batch
from prestacop_csv_ingestor.records import split_records
from prestacop_shared.events import DeadLetter
from prestacop_shared.serde import decode
from prestacop_shared.tickets import HistoricalTicket, TicketLayout

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
    tickets = [decode(HistoricalTicket, v.encode()) for b in batches for v in b.values]
    letters = [DeadLetter.model_validate_json(v) for b in batches for _, v, _ in b.dead_letters]
    assert not letters
    assert [t.source_line for t in tickets] == list(range(2, 2002))
    assert tickets[9].street_name == tickets[11].street_name == '5" X'

"""Encoded tickets are exactly the reference conversion of every real sample row."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from prestacop_csv_ingestor import enrich
from prestacop_csv_ingestor.batch import FileContext, encode_batch
from prestacop_csv_ingestor.reader import open_tickets_file
from prestacop_csv_ingestor.records import split_records
from prestacop_shared.events import DeadLetter
from prestacop_shared.fleet import COUNTY_TO_BOROUGH
from prestacop_shared.ticket_lines import decode_ticket
from prestacop_shared.tickets import (
    ticket_from_source_row,
    ticket_to_source_row,
)
from tests.support.geometry import borough_edges, boroughs_containing

pytestmark = pytest.mark.unit

FLEET = enrich.archive_fleet("nypd", 100)
SAMPLES = sorted((Path(__file__).parents[2] / "data" / "nyc").glob("fy*.csv"))


def encode_file(path: Path, data: bytes | None = None):
    tickets_file = open_tickets_file(path)
    data = path.read_bytes() if data is None else data
    context = FileContext(tickets_file.layout, path.name, "fp", FLEET)
    split = split_records(
        data, tickets_file.data_offset, 2, eof=True,
        expected_columns=tickets_file.layout.column_count,
        max_record_bytes=65536, max_record_lines=16,
    )  # fmt: skip
    return tickets_file.layout, encode_batch(context, data, split, datetime.now(UTC))


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_every_real_row_encodes_to_the_reference_ticket(path: Path) -> None:
    layout, batch = encode_file(path)
    rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))[1:]
    assert len(batch.values) == len(rows) and not batch.dead_letters
    for number, (value, row) in enumerate(zip(batch.values, rows, strict=True), start=2):
        ticket = decode_ticket(value)
        drone, latitude, longitude = enrich.ticket_enrichment(
            int(row[0]), ticket.violation_county, ticket.violation_precinct, FLEET
        )
        reference = ticket_from_source_row(
            layout, row, drone_id=drone, latitude=latitude, longitude=longitude,
            source_file=path.name, source_line=number, event_id=f"fp:{number}",
            emitted_at=ticket.emitted_at,
        )  # fmt: skip
        assert ticket == reference
        assert ticket_to_source_row(ticket, layout) == row


def test_positions_lie_in_the_tickets_borough_and_drones_are_stable() -> None:
    _, batch = encode_file(SAMPLES[-2])
    tickets = [decode_ticket(v) for v in batch.values]
    holders = boroughs_containing(
        borough_edges(), [t.latitude for t in tickets], [t.longitude for t in tickets]
    )
    for ticket, found in zip(tickets, holders, strict=True):
        borough = COUNTY_TO_BOROUGH.get(ticket.violation_county or "")
        assert found == [borough] if borough else len(found) == 1, ticket.summons_number
    _, again = encode_file(SAMPLES[-2])
    assert [decode_ticket(v).drone_id for v in again.values] == [t.drone_id for t in tickets]
    assert len({t.drone_id for t in tickets}) == len(FLEET)


def test_non_canonical_integers_and_empty_summons_are_dead_letters_naming_the_field(
    tmp_path: Path,
) -> None:
    lines = SAMPLES[0].read_bytes().split(b"\n")
    fields = lines[1].split(b",")
    padded = b",".join([*fields[:5], b"0033", *fields[6:]])
    letters = b",".join([*fields[:9], b"abc", *fields[10:]])
    no_summons = b",".join([b"", *fields[1:]])
    path = tmp_path / "f.csv"
    path.write_bytes(b"\n".join([lines[0], lines[1], padded, letters, no_summons, lines[2]]))
    _, batch = encode_file(path)
    assert len(batch.values) == 2
    dead = {DeadLetter.model_validate_json(v).source: DeadLetter.model_validate_json(v).reason
            for _, v, _ in batch.dead_letters}  # fmt: skip
    assert dead == {
        "f.csv:3": "not an integer: violation_code='0033'",
        "f.csv:4": "not an integer: street_code1='abc'",
        "f.csv:5": "empty summons number: summons_number is empty",
    }


def test_enrichment_is_a_pure_function_of_the_ticket() -> None:
    summons = np.array([1283294138, 8002531292], dtype=np.int64)
    assert (enrich.drone_indexes(summons, 100) == enrich.drone_indexes(summons, 100)).all()
    assert (
        enrich.ticket_enrichment(1283294138, None, 19, FLEET)[1:]
        == enrich.ticket_enrichment(1283294138, "NY", None, FLEET)[1:]
    )


def test_text_needing_quotes_or_escapes_round_trips(tmp_path: Path) -> None:
    lines = SAMPLES[0].read_bytes().split(b"\n")
    row = next(csv.reader([lines[1].decode()]))
    row[24] = 'He said "hi" \\ back\there'
    row[25] = "caf\u00e9 \u2013 ok"
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerow(row)
    path = tmp_path / "escapes.csv"
    path.write_bytes(lines[0] + b"\n" + text.getvalue().encode())
    _, batch = encode_file(path)
    ticket = decode_ticket(batch.values[0])
    assert (ticket.street_name, ticket.intersecting_street) == (row[24], row[25])


def test_non_utf8_line_is_quarantined_or_re_decoded_as_cp1252(tmp_path: Path) -> None:
    lines = SAMPLES[0].read_bytes().split(b"\n")
    fields = lines[1].split(b",")
    latin = b",".join([*fields[:24], b"CAF\xe9 AVE", *fields[25:]])
    path = tmp_path / "latin.csv"
    path.write_bytes(b"\n".join([lines[0], lines[2], latin, lines[3]]))
    _, strict = encode_file(path)
    assert len(strict.values) == 2
    letter = DeadLetter.model_validate_json(strict.dead_letters[0][1])
    assert (letter.source, letter.reason) == ("latin.csv:3", "not UTF-8: byte 0xE9 at position 125")
    assert "CAF\\xe9 AVE" in letter.raw

    tickets_file = open_tickets_file(path)
    data = path.read_bytes()
    context = FileContext(tickets_file.layout, path.name, "fp", FLEET, fallback_encoding="cp1252")
    split = split_records(
        data, tickets_file.data_offset, 2, eof=True, expected_columns=51,
        max_record_bytes=65536, max_record_lines=16,
    )  # fmt: skip
    batch = encode_batch(context, data, split, datetime.now(UTC))
    tickets = [decode_ticket(v) for v in batch.values]
    assert [t.source_line for t in tickets] == [2, 3, 4] and not batch.dead_letters
    assert tickets[1].street_name == "CAF\u00e9 AVE"


def test_quotes_inside_an_unquoted_field_still_give_a_valid_ticket_line(tmp_path: Path) -> None:
    lines = SAMPLES[0].read_bytes().split(b"\n")
    fields = lines[1].split(b",")
    odd = b",".join([*fields[:24], b'12 "A" ST', *fields[25:]])
    path = tmp_path / "odd.csv"
    path.write_bytes(b"\n".join([lines[0], odd]))
    layout, batch = encode_file(path)
    ticket = decode_ticket(batch.values[0])
    assert ticket.street_name == next(csv.reader([odd.decode()]))[24] == '12 "A" ST'


def test_a_lone_carriage_return_inside_a_field_gives_a_valid_ticket_line(tmp_path: Path) -> None:
    """On the old main the CR went raw into the JSON string, which storage then rejected."""
    lines = SAMPLES[0].read_bytes().split(b"\n")
    fields = lines[1].split(b",")
    path = tmp_path / "cr.csv"
    path.write_bytes(b"\n".join([lines[0], b",".join([*fields[:24], b"5 X\rAVE", *fields[25:]])]))
    _, batch = encode_file(path)
    (value,) = batch.values
    assert decode_ticket(value).street_name == "5 X\rAVE"


def test_a_negative_summons_number_is_a_dead_letter_not_a_ticket(tmp_path: Path) -> None:
    """On the old main ``-5`` passed the integer check and was sent; the model refuses it."""
    lines = SAMPLES[0].read_bytes().split(b"\n")
    fields = lines[1].split(b",")
    path = tmp_path / "negative.csv"
    path.write_bytes(b"\n".join([lines[0], b",".join([b"-5", *fields[1:]]), lines[2]]))
    _, batch = encode_file(path)
    assert [decode_ticket(v).source_line for v in batch.values] == [3]
    (letter,) = [DeadLetter.model_validate_json(v) for _, v, _ in batch.dead_letters]
    assert letter.source == "negative.csv:2"
    assert letter.reason == "out of range: summons_number=-5 (must be >= 0)"


def test_string_views_give_the_slices_of_the_buffer_short_long_and_null() -> None:
    from prestacop_csv_ingestor.batch import _string_views

    buffer = "x,twelve bytes,,thirteen byte,é long text beyond twelve bytes,z".encode()
    pieces = buffer.split(b",")
    starts = np.cumsum([0, *[len(p) + 1 for p in pieces[:-1]]]).astype(np.int64)
    lengths = np.array([len(p) for p in pieces], dtype=np.int64)
    valid = np.array([True, True, True, True, True, False])
    texts = _string_views(buffer, starts, lengths, valid).to_list()
    assert texts == [p.decode() for p in pieces[:-1]] + [None]

"""Historical tickets against the real NYC sample files."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from prestacop_shared.serde import decode, encode
from prestacop_shared.tickets import (
    INTEGER_FIELDS,
    SOURCE_FIELDS,
    SOURCE_HEADER,
    HistoricalTicket,
    TicketFormatError,
    TicketLayout,
    UnknownLayoutError,
    detect_layout,
    parse_source_value,
    ticket_from_source_row,
    ticket_to_source_row,
)

pytestmark = pytest.mark.unit

SAMPLES = {
    "fy2014_head_99_rows.csv": (TicketLayout.FY2014_2016, 99),
    "fy2015_head_99_rows.csv": (TicketLayout.FY2014_2016, 99),
    "fy2016_head_99_rows.csv": (TicketLayout.FY2014_2016, 99),
    "fy2017_head_99_rows.csv": (TicketLayout.FY2017, 99),
    "fy2017_head_10212_rows.csv": (TicketLayout.FY2017, 10_212),
}


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, list(reader)


def test_the_model_has_every_source_column_plus_enrichment() -> None:
    assert len(SOURCE_HEADER) == 51
    assert len(set(SOURCE_FIELDS)) == 51
    assert set(SOURCE_FIELDS) <= set(HistoricalTicket.model_fields)
    for extra in ("drone_id", "latitude", "longitude", "source_file", "source_line"):
        assert extra in HistoricalTicket.model_fields
    assert SOURCE_HEADER[30] == "Days Parking In Effect    "
    assert SOURCE_HEADER[46] == "Community Council "


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_real_row_becomes_a_ticket_and_round_trips(nyc_data: Path, name: str) -> None:
    layout, expected_rows = SAMPLES[name]
    header, rows = read_rows(nyc_data / name)
    assert detect_layout(header) is layout
    assert len(rows) == expected_rows
    tickets = []
    for line, row in enumerate(rows, start=2):
        ticket = ticket_from_source_row(
            layout,
            row,
            drone_id="nypd-archive-0007",
            latitude=40.7,
            longitude=-73.9,
            source_file=name,
            source_line=line,
            event_id=f"{name}:{line}",
        )
        wire = decode(HistoricalTicket, encode(ticket))
        assert wire == ticket
        assert ticket_to_source_row(wire, layout) == row
        tickets.append(wire)
    assert len(tickets) == expected_rows
    if layout is TicketLayout.FY2017:
        assert all(t.community_council is None and t.nta is None for t in tickets)


def test_quirky_real_values_are_kept_as_written(nyc_data: Path) -> None:
    _, rows = read_rows(nyc_data / "fy2015_head_99_rows.csv")
    expirations = {row[12] for row in rows}
    assert "01/01/20150111 12:00:00 PM" in expirations
    _, rows_2017 = read_rows(nyc_data / "fy2017_head_99_rows.csv")
    times = {row[19] for row in rows_2017}
    assert "0143A" in times


def test_duplicate_rows_of_fy2015_stay_distinct_lines(nyc_data: Path) -> None:
    _, rows = read_rows(nyc_data / "fy2015_head_99_rows.csv")
    summons = [row[0] for row in rows]
    assert len(summons) - len(set(summons)) == 6


def test_a_header_that_is_not_a_tickets_file_is_refused() -> None:
    with pytest.raises(UnknownLayoutError, match="not a parking-violations header"):
        detect_layout(["id", "name", "price"])
    with pytest.raises(UnknownLayoutError):
        detect_layout(SOURCE_HEADER[:42])


def test_header_names_match_whatever_their_trailing_spaces() -> None:
    stripped = [name.strip() for name in SOURCE_HEADER]
    assert detect_layout(stripped) is TicketLayout.FY2014_2016


@pytest.mark.parametrize("text", ["0033", "3.0", "abc", " 7", "1e3"])
def test_integer_fields_accept_only_canonical_integers(text: str) -> None:
    assert "violation_code" in INTEGER_FIELDS
    with pytest.raises(TicketFormatError, match="violation_code"):
        parse_source_value("violation_code", text)


def test_text_fields_keep_raw_text_and_empty_is_none() -> None:
    assert parse_source_value("violation_location", "0014") == "0014"
    assert parse_source_value("vehicle_expiration_date", "20160288") == "20160288"
    assert parse_source_value("plate_id", "") is None
    assert parse_source_value("vehicle_year", "0") == 0


def test_wrong_column_count_is_a_format_error() -> None:
    with pytest.raises(TicketFormatError, match="expected 43 columns"):
        ticket_from_source_row(
            TicketLayout.FY2017,
            ["1"] * 42,
            drone_id="d",
            latitude=40.7,
            longitude=-73.9,
            source_file="f.csv",
            source_line=2,
            event_id="f:2",
        )

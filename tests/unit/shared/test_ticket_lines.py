"""The T1 ticket-line encoding: the polars encoder is the reference encoder, real rows round-trip."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prestacop_shared import ticket_lines
from prestacop_shared.ticket_lines import (
    COLUMNS,
    FIELDS_OFFSET,
    PREFIX,
    TicketLineError,
    decode_ticket,
    encode_field,
    encode_frame,
    encode_ticket,
    encode_ticket_text,
    event_date_expr,
    event_date_of,
    frame_of,
    split_fields,
)
from prestacop_shared.tickets import (
    SOURCE_FIELDS,
    HistoricalTicket,
    TicketLayout,
    detect_layout,
    issue_day_of,
    ticket_from_source_row,
    ticket_to_source_row,
)

pytestmark = pytest.mark.unit

SAMPLES = (
    "fy2014_head_99_rows.csv",
    "fy2015_head_99_rows.csv",
    "fy2016_head_99_rows.csv",
    "fy2017_head_99_rows.csv",
    "fy2017_head_10212_rows.csv",
)
EMITTED_AT = datetime(2026, 12, 1, 13, 0, 0, 123456, tzinfo=UTC)

# Text with every character class the quoting rule cares about, and some it must leave alone.
special_text = st.text(
    alphabet=st.sampled_from(list(",\"\r\n \t\\'aZ09/-é中😀\x00\x1f\u2028")), max_size=12
)
any_text = st.one_of(special_text, st.text(max_size=12))
optional_text = st.one_of(st.none(), st.just(""), any_text)
issue_dates = st.one_of(
    st.none(),
    st.just(""),
    st.dates(min_value=date(900, 1, 1), max_value=date(3100, 12, 31)).map(
        lambda d: f"{d.month:02d}/{d.day:02d}/{d.year:04d}"
    ),
    st.from_regex(r"\A[0-9]{1,2}/[0-9]{1,3}/[0-9]{3,5}\Z"),
    optional_text,
)
coordinates = st.one_of(
    st.floats(min_value=-90, max_value=90, allow_nan=False),
    st.sampled_from([0.0, -0.0, 5e-324, 1e-5, -1.5e-7, 1e-4, 9.999999e-5, 89.99999999999999]),
)
longitudes = st.one_of(
    st.floats(min_value=-180, max_value=180, allow_nan=False),
    st.sampled_from([-180.0, 180.0, 2.2250738585072014e-308, 1.2345e-10]),
)
ints = st.one_of(st.none(), st.integers(min_value=-(2**63), max_value=2**63 - 1))
NAIVE_BOUNDS = (datetime(1970, 1, 1), datetime(2100, 1, 1))  # noqa: DTZ001 (hypothesis wants naive)
emitted = st.datetimes(*NAIVE_BOUNDS, timezones=st.just(UTC))


def _field_strategy(name: str) -> st.SearchStrategy[Any]:
    annotation = HistoricalTicket.model_fields[name].annotation
    if name == "issue_date":
        return issue_dates
    if annotation == int | None:
        return ints
    return optional_text


@st.composite
def tickets(draw: st.DrawFn) -> HistoricalTicket:
    fields = {
        name: draw(_field_strategy(name)) for name in SOURCE_FIELDS if name != "summons_number"
    }
    return HistoricalTicket(
        event_id=draw(st.text(min_size=1, max_size=20)),
        drone_id=draw(st.text(min_size=1, max_size=20)),
        emitted_at=draw(emitted),
        latitude=draw(coordinates),
        longitude=draw(longitudes),
        summons_number=draw(st.integers(min_value=0, max_value=2**63 - 1)),
        source_file=draw(st.text(min_size=1, max_size=20)),
        source_line=draw(st.integers(min_value=2, max_value=2**40)),
        **fields,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(tickets(), min_size=1, max_size=6))
def test_the_polars_encoder_writes_what_the_reference_encoder_writes(
    batch: list[HistoricalTicket],
) -> None:
    expected = [encode_ticket(ticket) for ticket in batch]
    assert [v.encode() for v in encode_frame(frame_of(batch)).to_list()] == expected
    for ticket, value in zip(batch, expected, strict=True):
        assert decode_ticket(value) == ticket


@settings(max_examples=60, deadline=None)
@given(st.lists(tickets(), min_size=1, max_size=4))
def test_constant_fields_give_the_same_values_as_columns(batch: list[HistoricalTicket]) -> None:
    first = batch[0]
    same = [
        t.model_copy(update={"emitted_at": first.emitted_at, "source_file": first.source_file})
        for t in batch
    ]
    constants = {"schema_version": 1, "emitted_at": first.emitted_at,
                 "source_file": first.source_file}  # fmt: skip
    frame = frame_of(same).drop(*constants)
    assert encode_frame(frame, constants).to_list() == [encode_ticket_text(t) for t in same]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(tickets(), st.booleans()), min_size=1, max_size=6),
    st.sampled_from(list(TicketLayout)),
)
def test_source_text_given_for_some_rows_gives_the_reference_values(
    rows: list[tuple[HistoricalTicket, bool]], layout: TicketLayout
) -> None:
    batch = [ticket for ticket, _ in rows]
    texts = [
        ",".join(encode_field(getattr(ticket, name)) for name in layout.fields) if given else None
        for ticket, given in rows
    ]
    values = encode_frame(
        frame_of(batch), source_text=pl.Series(texts, dtype=pl.String),
        source_columns=layout.fields,
    )  # fmt: skip
    assert values.to_list() == [encode_ticket_text(ticket) for ticket in batch]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(tickets(), min_size=1, max_size=6), st.sampled_from(list(TicketLayout)))
def test_floats_as_their_repr_and_source_text_for_every_row_give_the_reference_values(
    batch: list[HistoricalTicket], layout: TicketLayout
) -> None:
    texts = [",".join(encode_field(getattr(t, name)) for name in layout.fields) for t in batch]
    frame = frame_of(batch).with_columns(
        pl.Series(name, [repr(getattr(t, name)) for t in batch], pl.String)
        for name in ("latitude", "longitude")
    )
    without_source = frame.drop(*(name for name in layout.fields if name != "issue_date"))
    values = encode_frame(
        without_source, source_text=pl.Series(texts, dtype=pl.String), source_columns=layout.fields
    )
    assert values.to_list() == [encode_ticket_text(ticket) for ticket in batch]
    with pytest.raises(KeyError, match="plate_id"):
        encode_frame(without_source)


def test_source_columns_must_be_consecutive_fields() -> None:
    ticket = HistoricalTicket(drone_id="d", latitude=1, longitude=1, summons_number=1,
                              source_file="f", source_line=2)  # fmt: skip
    with pytest.raises(ValueError, match="consecutive"):
        encode_frame(frame_of([ticket]), source_text=pl.Series(["1,x"]),
                     source_columns=("summons_number", "issue_date"))  # fmt: skip


def test_integer_fields_may_come_as_their_canonical_text() -> None:
    ticket = HistoricalTicket(drone_id="d", latitude=40.7, longitude=-73.9, summons_number=42,
                              violation_code=-7, source_file="f.csv", source_line=2)  # fmt: skip
    frame = frame_of([ticket]).with_columns(
        pl.col("summons_number", "violation_code").cast(pl.String)
    )
    assert encode_frame(frame).to_list() == [encode_ticket_text(ticket)]


def test_a_value_is_prefix_event_date_then_the_model_fields_in_order() -> None:
    ticket = HistoricalTicket(
        event_id="abc:2", drone_id="nypd-archive-0001", emitted_at=EMITTED_AT, latitude=40.7,
        longitude=-73.95, summons_number=1, plate_id="", street_name='5 AVE, "N"\r\n',
        issue_date="02/29/2016", source_file="f.csv", source_line=2,
    )  # fmt: skip
    text = encode_ticket_text(ticket)
    assert text.startswith("T1,2016-02-29,1,abc:2,nypd-archive-0001,2026-12-01T13:00:00.123456Z,")
    assert text[FIELDS_OFFSET - 1 :].startswith(",1,abc:2,")
    assert FIELDS_OFFSET == 14
    fields = split_fields(text[FIELDS_OFFSET:])
    assert len(fields) == len(COLUMNS) == len(HistoricalTicket.model_fields)
    assert fields[COLUMNS.index("plate_id")] == ""
    assert fields[COLUMNS.index("registration_state")] is None
    assert fields[COLUMNS.index("street_name")] == '5 AVE, "N"\r\n'
    assert ',"",,' in text and '"5 AVE, ""N""\r\n"' in text
    assert COLUMNS[:7] == ("schema_version", "event_id", "drone_id", "emitted_at", "latitude",
                           "longitude", "summons_number")  # fmt: skip


@pytest.mark.parametrize(
    ("issue_date", "expected"),
    [
        ("02/29/2016", date(2016, 2, 29)),
        ("02/29/2017", None),
        ("02/30/2016", None),
        ("13/01/2016", None),
        ("00/10/2016", None),
        ("2/1/2016", None),
        ("01/01/0999", None),
        ("01/01/1000", date(1000, 1, 1)),
        ("12/31/2999", date(2999, 12, 31)),
        ("01/01/3000", None),
        ("01/02/2016\n", None),
        (" 01/02/2016", None),
        ("", None),
        (None, None),
    ],
)
def test_the_issue_date_rule(issue_date: str | None, expected: date | None) -> None:
    assert issue_day_of(issue_date) == expected
    frame = pl.DataFrame({"issue_date": [issue_date]}, schema={"issue_date": pl.String})
    got = frame.select(event_date_expr(pl.col("issue_date"), EMITTED_AT)).item()
    assert got == (expected or EMITTED_AT.date())


def test_the_fallback_is_the_utc_date_of_emitted_at() -> None:
    late = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    in_new_york = late.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    ticket = HistoricalTicket(drone_id="d", latitude=1, longitude=1, summons_number=1,
                              emitted_at=in_new_york + timedelta(hours=1), source_file="f",
                              source_line=2)  # fmt: skip
    assert event_date_of(ticket) == date(2026, 12, 2)
    assert encode_ticket_text(ticket).startswith("T1,2026-12-02,")
    assert encode_frame(frame_of([ticket])).item().startswith("T1,2026-12-02,")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"T2,2016-01-01,1", "unknown ticket encoding prefix 'T2'"),
        (b'{"schema_version":1}', "unknown ticket encoding prefix"),
        (b"T1,2016-01-01,1,a", "fields, expected"),
        (b"T1,2016-01-01," + b"," * 59, "fields, expected"),
    ],
)
def test_values_that_are_not_t1_tickets_are_refused(value: bytes, reason: str) -> None:
    with pytest.raises(TicketLineError, match=reason):
        decode_ticket(value)


def test_a_wrong_event_date_is_refused() -> None:
    ticket = HistoricalTicket(drone_id="d", latitude=1, longitude=1, summons_number=1,
                              issue_date="01/02/2016", source_file="f", source_line=2)  # fmt: skip
    text = encode_ticket_text(ticket).replace("T1,2016-01-02,", "T1,2016-01-03,")
    with pytest.raises(TicketLineError, match="event_date"):
        decode_ticket(text)


def test_prefix_constant() -> None:
    assert PREFIX == "T1"
    assert ticket_lines.KNOWN_PREFIXES == ("T1",)


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, list(reader)


@pytest.mark.parametrize("name", SAMPLES)
def test_every_real_row_round_trips_to_its_exact_source_fields(nyc_data: Path, name: str) -> None:
    header, rows = _read_rows(nyc_data / name)
    layout = detect_layout(header)
    batch = [
        ticket_from_source_row(
            layout,
            row,
            drone_id="nypd-archive-0007",
            latitude=40.712345,
            longitude=-73.98765,
            source_file=name,
            source_line=line,
            event_id=f"f:{line}",
            emitted_at=EMITTED_AT,
        )  # fmt: skip
        for line, row in enumerate(rows, start=2)
    ]
    values = encode_frame(frame_of(batch)).to_list()
    assert len(values) == len(rows) > 0
    for row, ticket, value in zip(rows, batch, values, strict=True):
        assert value.encode() == encode_ticket(ticket)
        decoded = decode_ticket(value.encode())
        assert decoded == ticket
        assert ticket_to_source_row(decoded, layout) == row
    if layout is TicketLayout.FY2017:
        assert all(split_fields(v[FIELDS_OFFSET:])[COLUMNS.index("nta")] is None for v in values)

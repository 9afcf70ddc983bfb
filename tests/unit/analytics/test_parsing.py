"""The documented parsing rules, on the real formats' edge cases, through the Arrow typing."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from prestacop_analytics.inputs import TICKET_COLUMNS, type_tickets

pytestmark = pytest.mark.unit

SCHEMA = pa.schema(
    [
        ("summons_number", pa.int64()), ("drone_id", pa.string()), ("latitude", pa.float64()),
        ("longitude", pa.float64()), ("violation_code", pa.int64()),
        ("registration_state", pa.string()), ("vehicle_make", pa.string()),
        ("vehicle_body_type", pa.string()), ("violation_county", pa.string()),
        ("violation_precinct", pa.int64()), ("violation_time", pa.string()),
        ("issue_date", pa.string()), ("source_file", pa.string()),
    ]
)  # fmt: skip


def _project(**fields: object) -> dict[str, object]:
    row = dict.fromkeys(TICKET_COLUMNS) | {"summons_number": 1, "drone_id": "d"} | fields
    table = pa.Table.from_pylist([row], schema=SCHEMA)
    typed: dict[str, object] = type_tickets(table, 0.01).to_pylist()[0]
    return typed


@pytest.mark.parametrize(
    ("time_text", "hour"),
    [
        ("0143A", 1), ("1206P", 12), ("1200A", 0), ("0000A", 0), ("0012P", 12), ("1159P", 23),
        ("0730A", 7), ("1520P", None), ("0160A", None), ("09", None), ("", None), (None, None),
    ],
)  # fmt: skip
def test_violation_time(time_text: str | None, hour: int | None) -> None:
    assert _project(violation_time=time_text)["hour"] == hour


@pytest.mark.parametrize(
    ("date_text", "day", "in_range"),
    [
        ("07/10/2016", dt.date(2016, 7, 10), True),
        ("02/29/2016", dt.date(2016, 2, 29), True),
        ("07/01/2014", dt.date(2014, 7, 1), False),
        ("07/01/2015", dt.date(2015, 7, 1), True),
        ("06/30/2018", dt.date(2018, 6, 30), True),
        ("07/01/2018", dt.date(2018, 7, 1), False),
        ("12/31/2069", dt.date(2069, 12, 31), False),
        ("02/30/2016", None, None),
        ("1/5/2016", None, None),
        ("01/01/20150111 12:00:00 PM", None, None),
        ("", None, None),
    ],
)
def test_issue_date_against_fiscal_year_2017(
    date_text: str, day: dt.date | None, in_range: bool | None
) -> None:
    projected = _project(issue_date=date_text, source_file="fy2017_head_99_rows.csv")
    assert projected["fiscal_year"] == 2017
    assert projected["issue_day"] == day
    assert projected["issue_day_in_range"] is in_range


def test_weekday_is_iso_and_month_is_calendar() -> None:
    sunday = _project(issue_date="07/10/2016")
    assert (sunday["weekday"], sunday["month"]) == (7, 7)
    assert _project(issue_date="07/11/2016")["weekday"] == 1


@pytest.mark.parametrize(
    ("precinct", "zone"),
    [(1, "manhattan_96th_and_below"), (14, "manhattan_96th_and_below"),
     (22, "manhattan_96th_and_below"), (23, "elsewhere"), (0, "elsewhere"), (None, "elsewhere")],
)  # fmt: skip
def test_fine_zone_by_precinct(precinct: int | None, zone: str) -> None:
    assert _project(violation_precinct=precinct)["fine_zone"] == zone


@pytest.mark.parametrize(
    ("county", "borough"),
    [("NY", "MANHATTAN"), ("K", "BROOKLYN"), ("BK", "BROOKLYN"), ("ST", "STATEN ISLAND"),
     ("QN", "QUEENS"), ("BX", "BRONX"), ("", None), (None, None), ("ZZ", None)],
)  # fmt: skip
def test_borough_of_county(county: str | None, borough: str | None) -> None:
    assert _project(violation_county=county)["borough"] == borough

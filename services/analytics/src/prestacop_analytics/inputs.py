"""The typed tickets: the few stored columns the report uses, parsed by documented rules.

The stored files are read by :mod:`prestacop_analytics.ticket_counts` (given committed files
only); this module types what it reads, with Arrow. A rule that reads a text column (a time, a
date, a county, a file name) is applied once per distinct value, in Python, and the results are
taken back by the values' dictionary indices: those columns hold a few thousand distinct values at
most, so the Python rule costs nothing per row and each rule stays readable, in one function.

Parsing rules (documented because the report's numbers depend on them):

* ``violation_time`` ``HHMM`` + ``A``/``P``: hours ``00``-``12`` (``12A`` and ``00A`` are hour 0,
  ``12P`` and ``00P`` hour 12), minutes ``00``-``59``; anything else (``1520P``, empty, a trailing
  line break) is unparseable and its ticket is counted under a null hour.
* ``issue_date``: :func:`prestacop_shared.tickets.issue_day_of` (``MM/DD/YYYY``, year 1000-2999, a
  real calendar date, the rule stream-storage partitions by); anything else is unparseable
  (null date, weekday and month).
* ``borough``: :func:`prestacop_shared.fleet.borough_of_county` of ``violation_county`` (trimmed,
  upper-cased, looked up in :data:`~prestacop_shared.fleet.COUNTY_TO_BOROUGH`: the rule the
  csv-ingestor places tickets by).
* The fiscal year of a ticket is the first ``20YY`` in its source file name (``fy2017_...``,
  ``..._Fiscal_Year_2017.csv``). FY N runs from 1 July N-1 to 30 June N; an issue date is out of
  range when it falls outside FY N ± 1 (1 July N-2 to 30 June N+1).
* Fine zone: DOF charges the higher fine in Manhattan at or below 96th Street. The tickets carry
  no street number we can trust, so the rule is by precinct: precincts 1-20 (all south of 96th
  Street) and 22 (Central Park) are ``manhattan_96th_and_below``; every other precinct, including
  0 (unknown) and the 23rd/24th (which straddle 96th Street), is ``elsewhere``.
* Map cell: ``floor(latitude / cell_deg)``, ``floor(longitude / cell_deg)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from prestacop_shared.fleet import borough_of_county
from prestacop_shared.tickets import issue_day_of

MANHATTAN_96TH_AND_BELOW_PRECINCTS: tuple[int, ...] = (*range(1, 21), 22)
"""Precincts charged the Manhattan-at-or-below-96th-Street fine (see the module docstring)."""

FINE_ZONE_MANHATTAN = "manhattan_96th_and_below"
FINE_ZONE_ELSEWHERE = "elsewhere"

TICKET_COLUMNS = (
    "summons_number",
    "drone_id",
    "latitude",
    "longitude",
    "violation_code",
    "registration_state",
    "vehicle_make",
    "vehicle_body_type",
    "violation_county",
    "violation_precinct",
    "violation_time",
    "issue_date",
    "source_file",
)
"""The only stored ticket columns the report reads (the CSV reader converts no other)."""

TYPED_COLUMNS: Final[dict[str, pa.DataType]] = {
    "summons_number": pa.int64(),
    "drone_id": pa.string(),
    "violation_code": pa.int64(),
    "registration_state": pa.string(),
    "vehicle_make": pa.string(),
    "vehicle_body_type": pa.string(),
    "violation_county": pa.string(),
    "borough": pa.string(),
    "violation_precinct": pa.int64(),
    "fine_zone": pa.string(),
    "hour": pa.int32(),
    "issue_day": pa.date32(),
    "weekday": pa.int32(),
    "month": pa.int32(),
    "fiscal_year": pa.int32(),
    "issue_day_in_range": pa.bool_(),
    "lat_cell": pa.int64(),
    "lon_cell": pa.int64(),
}
"""The typed tickets' columns (:func:`type_tickets`) and their Arrow types."""

_TIME = re.compile(r"[0-9]{4}[AP]")
_FISCAL_YEAR = re.compile(r"20[0-9]{2}")


def hour_of(violation_time: str) -> int | None:
    """The hour (0-23) of a ``violation_time`` text, ``None`` when it is not ``HHMM`` + A/P.

    Example:
        >>> hour_of("0143A"), hour_of("1206P"), hour_of("1200A"), hour_of("1520P")
        (1, 12, 0, None)
    """
    if _TIME.fullmatch(violation_time) is None:
        return None
    hours, minutes = int(violation_time[:2]), int(violation_time[2:4])
    if hours > 12 or minutes > 59:
        return None
    return hours % 12 + (12 if violation_time[4] == "P" else 0)


def fiscal_year_of(source_file: str) -> int | None:
    """The fiscal year of a source file: the first ``20YY`` in its name, ``None`` without one.

    Example:
        >>> fiscal_year_of("Parking_Violations_Issued_-_Fiscal_Year_2017.csv"), fiscal_year_of("x")
        (2017, None)
    """
    found = _FISCAL_YEAR.search(source_file)
    return int(found.group()) if found else None


def _range_start(source_file: str) -> date | None:
    year = fiscal_year_of(source_file)
    return date(year - 2, 7, 1) if year is not None else None


def _range_end(source_file: str) -> date | None:
    year = fiscal_year_of(source_file)
    return date(year + 1, 6, 30) if year is not None else None


def distinct(column: pa.Array | pa.ChunkedArray) -> pa.DictionaryArray:
    """``column`` as its distinct values and one index per row (for :func:`per_value`)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded: pa.DictionaryArray = pc.dictionary_encode(column)
    return encoded


def per_value(
    column: pa.DictionaryArray, rule: Callable[[Any], Any], result: pa.DataType
) -> pa.Array:
    """``rule`` applied to every row of ``column`` (:func:`distinct`), once per distinct value
    (null stays null)."""
    values = pa.array([rule(value) for value in column.dictionary.to_pylist()], result)
    return values.take(column.indices)


def _cell(degrees: pa.ChunkedArray, cell_deg: float) -> pa.Array:
    return pc.cast(pc.floor(pc.divide(degrees, cell_deg)), pa.int64())


def type_tickets(tickets: pa.Table, cell_deg: float) -> pa.Table:
    """Type the stored tickets (:data:`TICKET_COLUMNS`) into the columns the tables group by.

    Output: :data:`TYPED_COLUMNS`, in that order (``weekday`` 1=Monday..7=Sunday, ``hour``
    0-23 or null, ``issue_day_in_range`` null when the date or the fiscal year is unknown).
    """
    issue_day = per_value(distinct(tickets["issue_date"]), issue_day_of, pa.date32())
    source_file = distinct(tickets["source_file"])
    precinct = tickets["violation_precinct"]
    in_range = pc.and_kleene(
        pc.greater_equal(issue_day, per_value(source_file, _range_start, pa.date32())),
        pc.less_equal(issue_day, per_value(source_file, _range_end, pa.date32())),
    )
    in_zone = pc.is_in(precinct, value_set=pa.array(MANHATTAN_96TH_AND_BELOW_PRECINCTS, pa.int64()))
    columns = {
        "summons_number": tickets["summons_number"],
        "drone_id": tickets["drone_id"],
        "violation_code": tickets["violation_code"],
        "registration_state": tickets["registration_state"],
        "vehicle_make": tickets["vehicle_make"],
        "vehicle_body_type": tickets["vehicle_body_type"],
        "violation_county": tickets["violation_county"],
        "borough": per_value(distinct(tickets["violation_county"]), borough_of_county, pa.string()),
        "violation_precinct": precinct,
        "fine_zone": pc.if_else(in_zone, FINE_ZONE_MANHATTAN, FINE_ZONE_ELSEWHERE),
        "hour": per_value(distinct(tickets["violation_time"]), hour_of, pa.int32()),
        "issue_day": issue_day,
        "weekday": pc.cast(pc.day_of_week(issue_day, count_from_zero=False), pa.int32()),
        "month": pc.cast(pc.month(issue_day), pa.int32()),
        "fiscal_year": per_value(source_file, fiscal_year_of, pa.int32()),
        "issue_day_in_range": in_range,
        "lat_cell": _cell(tickets["latitude"], cell_deg),
        "lon_cell": _cell(tickets["longitude"], cell_deg),
    }
    return pa.table(columns, schema=pa.schema(TYPED_COLUMNS.items()))

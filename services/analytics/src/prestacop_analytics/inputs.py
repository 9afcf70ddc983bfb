"""The typed tickets: the few stored columns the report uses, parsed by documented rules.

The stored files are read by :mod:`prestacop_analytics.partials` (given committed files only,
through :func:`prestacop_shared.spark.read_dataset`); this module types what it reads.

Parsing rules (documented because the report's numbers depend on them):

* ``violation_time`` ``HHMM`` + ``A``/``P``: hours ``00``-``12`` (``12A`` and ``00A`` are hour 0,
  ``12P`` and ``00P`` hour 12), minutes ``00``-``59``; anything else (``1520P``, empty) is
  unparseable and its ticket is counted under a null hour.
* ``issue_date``: :func:`prestacop_shared.spark.issue_day` (``MM/DD/YYYY``, year 1000-2999, a
  real calendar date, the rule stream-storage partitions by); anything else is unparseable
  (null date, weekday and month).
* ``borough``: :func:`prestacop_shared.spark.borough` of ``violation_county``.
* The fiscal year of a ticket is the first ``20YY`` in its source file name (``fy2017_...``,
  ``..._Fiscal_Year_2017.csv``). FY N runs from 1 July N-1 to 30 June N; an issue date is out of
  range when it falls outside FY N ± 1 (1 July N-2 to 30 June N+1).
* Fine zone: DOF charges the higher fine in Manhattan at or below 96th Street. The tickets carry
  no street number we can trust, so the rule is by precinct: precincts 1-20 (all south of 96th
  Street) and 22 (Central Park) are ``manhattan_96th_and_below``; every other precinct, including
  0 (unknown) and the 23rd/24th (which straddle 96th Street), is ``elsewhere``.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from prestacop_shared.spark import borough, issue_day

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
"""The only stored ticket columns the report reads (the CSV reader prunes the others)."""


def _hour(time_text: Column) -> Column:
    hours = F.substring(time_text, 1, 2).cast("int")
    minutes = F.substring(time_text, 3, 2).cast("int")
    valid = time_text.rlike("^[0-9]{4}[AP]$") & (hours <= 12) & (minutes <= 59)
    afternoon = F.when(F.substring(time_text, 5, 1) == "P", 12).otherwise(0)
    return F.when(valid, hours % 12 + afternoon).cast("int")


def project_tickets(tickets: DataFrame) -> DataFrame:
    """Type the stored tickets into the columns every ticket table groups by.

    Output columns: summons_number, drone_id, latitude, longitude, violation_code,
    registration_state, vehicle_make, vehicle_body_type, violation_county, borough,
    violation_precinct, fine_zone, hour (0-23 or null), issue_day (date or null),
    weekday (1=Monday..7=Sunday), month (1-12), fiscal_year (or null), issue_day_in_range.
    """
    fiscal_text = F.regexp_extract(F.col("source_file"), "(20[0-9]{2})", 1)
    fiscal_year = F.when(fiscal_text != "", fiscal_text.cast("int"))
    projected = tickets.select(*TICKET_COLUMNS).select(
        "summons_number",
        "drone_id",
        "latitude",
        "longitude",
        "violation_code",
        "registration_state",
        "vehicle_make",
        "vehicle_body_type",
        "violation_county",
        borough(F.col("violation_county")).alias("borough"),
        "violation_precinct",
        F.when(
            F.col("violation_precinct").isin(*MANHATTAN_96TH_AND_BELOW_PRECINCTS),
            F.lit(FINE_ZONE_MANHATTAN),
        )
        .otherwise(F.lit(FINE_ZONE_ELSEWHERE))
        .alias("fine_zone"),
        _hour(F.col("violation_time")).alias("hour"),
        issue_day(F.col("issue_date")).alias("issue_day"),
        fiscal_year.alias("fiscal_year"),
    )
    return projected.select(
        "*",
        (F.weekday("issue_day") + 1).alias("weekday"),
        F.month("issue_day").alias("month"),
        F.col("issue_day")
        .between(
            F.make_date(F.col("fiscal_year") - 2, F.lit(7), F.lit(1)),
            F.make_date(F.col("fiscal_year") + 1, F.lit(6), F.lit(30)),
        )
        .alias("issue_day_in_range"),
    )

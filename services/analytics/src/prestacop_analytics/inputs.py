"""The report's inputs: stored datasets read through their sink log, and the typed tickets.

Every dataset is read with :func:`prestacop_shared.spark.read_dataset`, which honours the file
sink's ``_spark_metadata`` log. A dataset that does not exist yet (no drone data stored, no
quarantine) is an empty table with the right schema, not an error.

The tickets are projected once to the few columns the report uses, parsed and typed here, and
cached: every ticket table is an aggregate over that one cached scan.

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

import logging
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from prestacop_analytics.config import AnalyticsSettings
from prestacop_analytics.exceptions import DatasetError
from prestacop_shared import datasets
from prestacop_shared.exceptions import PrestacopError
from prestacop_shared.spark import (
    QUARANTINE_SCHEMA,
    borough,
    issue_day,
    read_dataset,
    read_quarantine,
    stored_schema,
)

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class ReportInputs:
    """The DataFrames a report is computed from; ``tickets`` is typed and cached."""

    tickets: DataFrame
    statuses: DataFrame
    violations: DataFrame
    alerts: DataFrame
    resolutions: DataFrame
    quarantine: DataFrame

    def unpersist(self) -> None:
        """Release the cached DataFrames."""
        for frame in (self.tickets, self.statuses, self.violations, self.alerts, self.resolutions):
            frame.unpersist()


def _is_empty_folder(root: Path) -> bool:
    return not root.exists() or (root.is_dir() and not any(root.iterdir()))


def load_dataset(spark: SparkSession, root: Path, model: type[BaseModel]) -> DataFrame:
    """Read one stored dataset of ``model`` through its sink log (``read_dataset``).

    A folder not written yet gives an empty table.

    Raises:
        DatasetError: the folder holds files but no sink log (refusing to glob part files).
    """
    if _is_empty_folder(root):
        log.info("dataset not stored yet: empty table", extra={"path": str(root)})
        return spark.createDataFrame([], stored_schema(model))
    try:
        return read_dataset(spark, root, model)
    except PrestacopError as error:
        raise DatasetError(str(error)) from error


def _load_stored(
    spark: SparkSession, settings: AnalyticsSettings, dataset: datasets.Dataset
) -> DataFrame:
    return load_dataset(spark, settings.dataset_dir(dataset), dataset.model)


def load_quarantine(spark: SparkSession, root: Path) -> DataFrame:
    """Read the quarantine: ``root`` itself is a sink, or each of its sub-folders is one.

    Empty if nothing was quarantined yet.

    Raises:
        DatasetError: the folder holds files but no sink log.
    """
    if _is_empty_folder(root):
        return spark.createDataFrame([], QUARANTINE_SCHEMA)
    try:
        return read_quarantine(spark, root)
    except PrestacopError as error:
        raise DatasetError(str(error)) from error


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


def load_inputs(spark: SparkSession, settings: AnalyticsSettings) -> ReportInputs:
    """Read every stored dataset; project and cache the tickets (materialised by the caller).

    The drone datasets are cached too: the fleet table reads each of them several times.

    Raises:
        DatasetError: a dataset folder is not a stream-storage output folder.
    """
    # A sink holds many small files (one per task and date); caching them as a few partitions
    # makes every later aggregate a handful of tasks instead of one per file.
    partitions = max(2, spark.sparkContext.defaultParallelism)
    stored = load_dataset(spark, settings.tickets_dir, datasets.TICKETS.model)
    tickets = project_tickets(stored).coalesce(partitions).cache()
    return ReportInputs(
        tickets=tickets,
        statuses=_load_stored(spark, settings, datasets.STATUS).cache(),
        violations=_load_stored(spark, settings, datasets.VIOLATIONS).cache(),
        alerts=_load_stored(spark, settings, datasets.ALERTS).cache(),
        resolutions=_load_stored(spark, settings, datasets.ALERT_RESOLUTIONS).cache(),
        quarantine=load_quarantine(spark, settings.quarantine_dir),
    )

"""The issue-date rule is one rule: polars (the producer's event_date) and Spark agree."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from prestacop_shared.spark import issue_day
from prestacop_shared.ticket_lines import issue_day_expr
from prestacop_shared.tickets import issue_day_of

pytestmark = pytest.mark.integration

EDGES = [
    "02/29/2016", "02/29/2017", "02/30/2016", "13/01/2016", "00/10/2016", "01/00/2016",
    "2/1/2016", "01/01/0999", "01/01/1000", "12/31/2999", "01/01/3000", "01/02/2016\n",
    "01/02/2016\r\n", " 01/02/2016", "01/02/2016 ", "01-02-2016", "+1/02/2016", "", "0",
    "20160288", "１２/01/2016", "12/٠1/2016",
]  # fmt: skip

date_like = st.one_of(
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(
        lambda d: f"{d.month:02d}/{d.day:02d}/{d.year:04d}"
    ),
    st.from_regex(r"\A[0-9]{2}/[0-9]{2}/[0-9]{4}\Z"),
    st.from_regex(r"\A[0-9]{1,3}/[0-9]{1,3}/[0-9]{1,5}\s?\Z"),
    st.text(alphabet="0123456789/\n ", max_size=12),
    st.text(max_size=12),
)


def _spark_days(spark: SparkSession, texts: list[str | None]) -> list[date | None]:
    frame = spark.createDataFrame([(i, t) for i, t in enumerate(texts)], "i int, issue_date string")
    rows = frame.select("i", issue_day(F.col("issue_date")).alias("day")).orderBy("i").collect()
    return [row["day"] for row in rows]


def _polars_days(texts: list[str | None]) -> list[date | None]:
    frame = pl.DataFrame({"issue_date": texts}, schema={"issue_date": pl.String})
    days: list[date | None] = (
        frame.select(issue_day_expr(pl.col("issue_date"))).to_series().to_list()
    )
    return days


def _real_issue_dates(nyc_data: Path) -> list[str]:
    texts: set[str] = set()
    for path in sorted(nyc_data.glob("fy20*_rows.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            column = next(reader).index("Issue Date")
            texts.update(row[column] for row in reader)
    return sorted(texts)


def test_polars_and_spark_agree_on_edge_cases_and_every_real_issue_date(
    spark: SparkSession, nyc_data: Path
) -> None:
    real = _real_issue_dates(nyc_data)
    assert len(real) > 50
    texts: list[str | None] = [*EDGES, *real, None]
    spark_days = _spark_days(spark, texts)
    assert _polars_days(texts) == spark_days
    assert [issue_day_of(t) for t in texts] == spark_days
    assert sum(day is not None for day in spark_days) >= len(real)


@settings(max_examples=25, deadline=None)
@given(st.lists(date_like, min_size=1, max_size=40))
def test_polars_and_spark_agree_on_generated_texts(spark: SparkSession, texts: list[str]) -> None:
    spark_days = _spark_days(spark, list(texts))
    assert _polars_days(list(texts)) == spark_days
    assert [issue_day_of(t) for t in texts] == spark_days

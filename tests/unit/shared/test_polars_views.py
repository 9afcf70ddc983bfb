"""The polars county lookup is the county table's, with the same trimming and upper-casing."""

from __future__ import annotations

import polars as pl
import pytest

from prestacop_shared.fleet import BOROUGH_BOUNDS, COUNTY_TO_BOROUGH, borough_of_county
from prestacop_shared.polars_views import borough, borough_index

pytestmark = pytest.mark.unit


def test_borough_agrees_with_borough_of_county() -> None:
    counties = [*COUNTY_TO_BOROUGH, " k ", "bx", "Qns", "", "XX", None, "NY\t"]
    frame = pl.DataFrame({"county": counties}, schema={"county": pl.String})
    names = list(BOROUGH_BOUNDS)
    got = frame.select(
        borough(pl.col("county")).alias("name"),
        borough_index(pl.col("county"), names).alias("index"),
    )
    expected = [borough_of_county(county) for county in counties]
    assert got["name"].to_list() == expected
    assert got["index"].to_list() == [-1 if b is None else names.index(b) for b in expected]
    assert expected.count(None) == 3  # "", "XX", None

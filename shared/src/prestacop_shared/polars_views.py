"""Polars views of shared facts (needs polars: the csv-ingestor's dependency).

The polars twin of :func:`prestacop_shared.fleet.borough_of_county`: the same table
(:data:`~prestacop_shared.fleet.COUNTY_TO_BOROUGH`), the same trimming and upper-casing.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from prestacop_shared.fleet import COUNTY_TO_BOROUGH


def county_code(county: pl.Expr) -> pl.Expr:
    """A ``Violation County`` text as it is looked up: trimmed and upper-cased."""
    return county.str.strip_chars().str.to_uppercase()


def borough(county: pl.Expr) -> pl.Expr:
    """The borough name of a ``Violation County`` column, null when empty or unknown."""
    return county_code(county).replace_strict(
        COUNTY_TO_BOROUGH, default=None, return_dtype=pl.String
    )


def borough_index(county: pl.Expr, boroughs: Sequence[str]) -> pl.Expr:
    """The position in ``boroughs`` of a ``Violation County`` column's borough, -1 if unknown.

    One lookup (no intermediate borough names), for vectorised enrichment.
    """
    mapping = {code: boroughs.index(name) for code, name in COUNTY_TO_BOROUGH.items()}
    return (
        county_code(county).replace_strict(mapping, default=-1, return_dtype=pl.Int64).fill_null(-1)
    )

"""The shipped borough boundaries: five boroughs named as the county table names them."""

from __future__ import annotations

import pytest

from prestacop_shared.boroughs import geojson_text, load_boroughs
from prestacop_shared.fleet import BOROUGH_BOUNDS, COUNTY_TO_BOROUGH

pytestmark = pytest.mark.unit


def test_the_five_boroughs_match_the_county_table() -> None:
    boroughs = load_boroughs()
    assert [b.code for b in boroughs] == [1, 2, 3, 4, 5]
    assert {b.name for b in boroughs} == set(COUNTY_TO_BOROUGH.values()) == set(BOROUGH_BOUNDS)
    for borough in boroughs:
        for polygon in borough.polygons:
            for ring in polygon:
                assert len(ring) >= 4 and ring[0] == ring[-1]


def test_the_shipped_file_is_the_published_simplification() -> None:
    """8,510 vertices inside lon -74.2556..-73.7000, lat 40.4961..40.9155 (the data README)."""
    points = [
        point
        for borough in load_boroughs()
        for polygon in borough.polygons
        for ring in polygon
        for point in ring
    ]
    assert len(points) == 8510
    longitudes, latitudes = [p[0] for p in points], [p[1] for p in points]
    bounds = (min(longitudes), max(longitudes), min(latitudes), max(latitudes))
    assert tuple(round(b, 4) for b in bounds) == (-74.2556, -73.7000, 40.4961, 40.9155)
    assert '"BoroName"' in geojson_text()

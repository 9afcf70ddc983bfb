"""The table of points inside each borough: inside their own borough only, the same everywhere."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from prestacop_shared.borough_points import (
    POINTS_PER_BOROUGH,
    borough_named,
    borough_points,
    contains,
)
from prestacop_shared.boroughs import load_boroughs
from tests.support.geometry import borough_edges, boroughs_containing

pytestmark = pytest.mark.unit

TABLE_DIGEST_CODE = (
    "import hashlib, json; from prestacop_shared.borough_points import borough_points; "
    "print(hashlib.sha256(json.dumps(borough_points()).encode()).hexdigest())"
)


def test_every_point_lies_inside_its_own_borough_and_no_other() -> None:
    table = borough_points()
    edges = borough_edges()
    assert list(table) == [b.name for b in load_boroughs()]
    for name, points in table.items():
        assert len(points) == POINTS_PER_BOROUGH
        holders = boroughs_containing(edges, [p[0] for p in points], [p[1] for p in points])
        assert all(found == [name] for found in holders), name
        assert len(set(points)) > 0.99 * POINTS_PER_BOROUGH, name


def test_points_spread_over_the_whole_borough() -> None:
    """The points reach close to each edge of the borough's extent: not one corner of it."""
    for name, points in borough_points().items():
        xs = [x for polygon in borough_named(name).polygons for x, _ in polygon[0]]
        ys = [y for polygon in borough_named(name).polygons for _, y in polygon[0]]
        lats, lons = [p[0] for p in points], [p[1] for p in points]
        height, width = max(ys) - min(ys), max(xs) - min(xs)
        assert min(lats) - min(ys) < 0.05 * height and max(ys) - max(lats) < 0.05 * height, name
        assert min(lons) - min(xs) < 0.05 * width and max(xs) - max(lons) < 0.05 * width, name


@pytest.mark.parametrize(
    ("latitude", "longitude", "borough"),
    [
        (40.7829, -73.9654, "MANHATTAN"),  # Central Park
        (40.6602, -73.9690, "BROOKLYN"),  # Prospect Park
        (40.8296, -73.9262, "BRONX"),  # Yankee Stadium
        (40.7498, -73.8408, "QUEENS"),  # Flushing Meadows
        (40.5795, -74.1502, "STATEN ISLAND"),  # Staten Island Mall area
        (40.6600, -74.0500, None),  # Upper New York Bay: water
        (40.7700, -74.0300, None),  # Hoboken, New Jersey
    ],
)
def test_contains_knows_landmarks_and_water(
    latitude: float, longitude: float, borough: str | None
) -> None:
    holders = [b.name for b in load_boroughs() if contains(b, latitude, longitude)]
    assert holders == ([borough] if borough else [])


def test_every_process_builds_the_same_table() -> None:
    """Fixed seeds, ``random.Random``'s reproducible sequence: a fresh interpreter agrees."""
    here = hashlib.sha256(json.dumps(borough_points()).encode()).hexdigest()
    fresh = subprocess.run(
        [sys.executable, "-c", TABLE_DIGEST_CODE], check=True, capture_output=True, text=True
    )
    assert fresh.stdout.strip() == here
    assert borough_points()["MANHATTAN"][0] == (40.734169, -74.009697)

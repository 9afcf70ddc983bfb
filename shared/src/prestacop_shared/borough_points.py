"""A fixed table of points inside each borough, for placing things where New York really is.

Historical tickets carry a borough (their ``Violation County``) but no position; the csv-ingestor
gives each one a point of this table, picked by a hash of its summons number. Every point lies
inside its borough's shipped boundary (:func:`prestacop_shared.boroughs.load_boroughs`), so a map
of tickets draws the five boroughs' shapes, water and parks-free rectangles excluded.

The table is computed on first use (about half a second, pure Python) by rejection sampling in each
borough's bounding box with a fixed seed: :class:`random.Random`'s ``random()`` sequence is
reproducible across Python versions, so every process and every machine builds the same table.
Points are rounded to :data:`POSITION_DECIMALS` *before* the inside test, so the stored values
are the tested ones.

Example:
    >>> table = borough_points()
    >>> len(table["MANHATTAN"]) == POINTS_PER_BOROUGH
    True
    >>> latitude, longitude = table["MANHATTAN"][0]
    >>> contains(borough_named("MANHATTAN"), latitude, longitude)
    True
"""

from __future__ import annotations

import random
from functools import cache
from typing import Final

from prestacop_shared.boroughs import Borough, load_boroughs

POINTS_PER_BOROUGH: Final = 8192
"""Points per borough: a full year's tickets (≈ 10.8 M) share a few hundred per point."""

POSITION_DECIMALS: Final = 6
"""Decimals of the table's coordinates (≈ 0.1 m), as tickets carry them."""

SEED: Final = 14
"""The sampler's seed; changing it moves every historical ticket."""

_BANDS: Final = 256

Point = tuple[float, float]
"""``(latitude, longitude)``."""

_Edge = tuple[float, float, float, float]
"""``(lon1, lat1, lon2, lat2)`` of one ring segment."""


def borough_named(name: str) -> Borough:
    """The borough called ``name`` (upper case, as :data:`~prestacop_shared.fleet.COUNTY_TO_BOROUGH`)."""
    for borough in load_boroughs():
        if borough.name == name:
            return borough
    raise KeyError(f"no borough named {name!r}")


def _edges(borough: Borough) -> list[_Edge]:
    return [
        (x1, y1, x2, y2)
        for polygon in borough.polygons
        for ring in polygon
        for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False)
        if y1 != y2
    ]


def _crosses(edges: list[_Edge], latitude: float, longitude: float) -> bool:
    """Even-odd rule: whether a ray from the point towards +longitude crosses an odd count."""
    inside = False
    for x1, y1, x2, y2 in edges:
        if (y1 > latitude) != (y2 > latitude):
            x_at = x1 + (latitude - y1) * (x2 - x1) / (y2 - y1)
            if longitude < x_at:
                inside = not inside
    return inside


class _BandedBorough:
    """A borough's edges grouped by latitude band, so an inside test looks at few of them."""

    def __init__(self, borough: Borough) -> None:
        edges = _edges(borough)
        self.south = min(min(e[1], e[3]) for e in edges)
        self.north = max(max(e[1], e[3]) for e in edges)
        self.west = min(min(e[0], e[2]) for e in edges)
        self.east = max(max(e[0], e[2]) for e in edges)
        self.band_height = (self.north - self.south) / _BANDS
        self.bands: list[list[_Edge]] = [[] for _ in range(_BANDS)]
        for edge in edges:
            for band in range(
                self._band(min(edge[1], edge[3])), self._band(max(edge[1], edge[3])) + 1
            ):
                self.bands[band].append(edge)

    def _band(self, latitude: float) -> int:
        return min(max(int((latitude - self.south) / self.band_height), 0), _BANDS - 1)

    def contains(self, latitude: float, longitude: float) -> bool:
        if not (self.south <= latitude <= self.north and self.west <= longitude <= self.east):
            return False
        return _crosses(self.bands[self._band(latitude)], latitude, longitude)


@cache
def _banded(name: str) -> _BandedBorough:
    return _BandedBorough(borough_named(name))


def contains(borough: Borough, latitude: float, longitude: float) -> bool:
    """Whether the point lies inside the borough's boundary (even-odd rule, holes excluded)."""
    return _banded(borough.name).contains(latitude, longitude)


def _sample(borough: Borough, count: int, rng: random.Random) -> tuple[Point, ...]:
    shape = _banded(borough.name)
    points: list[Point] = []
    while len(points) < count:
        latitude = round(
            shape.south + rng.random() * (shape.north - shape.south), POSITION_DECIMALS
        )
        longitude = round(shape.west + rng.random() * (shape.east - shape.west), POSITION_DECIMALS)
        if shape.contains(latitude, longitude):
            points.append((latitude, longitude))
    return tuple(points)


@cache
def borough_points() -> dict[str, tuple[Point, ...]]:
    """:data:`POINTS_PER_BOROUGH` ``(latitude, longitude)`` points inside each borough, by name.

    Boroughs come in code order (Manhattan, Bronx, Brooklyn, Queens, Staten Island); each has
    its own seeded sampler, so one borough's table never depends on another's.
    """
    return {
        borough.name: _sample(borough, POINTS_PER_BOROUGH, random.Random(SEED * 10 + borough.code))  # noqa: S311 - a fixed, reproducible layout, not a secret
        for borough in load_boroughs()
    }

"""What Prestacop adds to a historical ticket: an archive drone and a plausible position.

Both are pure functions of the ticket (summons number, county, precinct), so a rerun or a resumed
run assigns exactly the same values. They work on whole numpy arrays; the scalar helpers call the
same code with one-element arrays, so there is a single definition.

Position: the borough comes from ``Violation County`` (``COUNTY_TO_BOROUGH``), or, when the county
is empty or unknown, from the precinct number (NYPD numbers its precincts by borough: 1-34
Manhattan, 40-52 Bronx, 60-94 Brooklyn, 100-115 Queens, 120-123 Staten Island); a point is then
picked from :func:`prestacop_shared.borough_points.borough_points` (points inside that borough's
real boundary) by a hash of the summons number. Tickets with neither a known county nor a known
precinct (1 of the 10,608 real sample rows: county empty, precinct ``0``) get a point of any borough,
picked the same way from the five tables together, so they still fall on land inside the city.
We have no precinct-centroid table we could vouch for, so positions are borough-accurate, not
precinct-accurate.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from prestacop_shared.borough_points import borough_points
from prestacop_shared.fleet import (
    ARCHIVE_HOST,
    BOROUGH_BOUNDS,
    COUNTY_TO_BOROUGH,
    borough_of_county,
    drone_id,
)

BOROUGHS: Final[tuple[str, ...]] = tuple(BOROUGH_BOUNDS)
UNKNOWN_BOROUGH: Final = len(BOROUGHS)
COUNTY_TO_BOROUGH_INDEX: Final[dict[str, int]] = {
    county: BOROUGHS.index(borough) for county, borough in COUNTY_TO_BOROUGH.items()
}
_PRECINCT_RANGES: Final[tuple[tuple[int, int, str], ...]] = (
    (1, 34, "MANHATTAN"),
    (40, 52, "BRONX"),
    (60, 94, "BROOKLYN"),
    (100, 115, "QUEENS"),
    (120, 123, "STATEN ISLAND"),
)
_MIX_1: Final = np.uint64(0x9E3779B97F4A7C15)
_MIX_2: Final = np.uint64(0xBF58476D1CE4E5B9)
_MIX_3: Final = np.uint64(0x94D049BB133111EB)


def mix(values: npt.NDArray[np.int64], salt: int = 0) -> npt.NDArray[np.uint64]:
    """A stable 64-bit hash of integers (splitmix64 finaliser), vectorised."""
    with np.errstate(over="ignore"):
        x = values.astype(np.uint64) + np.uint64(salt) * _MIX_1 + _MIX_1
        x = (x ^ (x >> np.uint64(30))) * _MIX_2
        x = (x ^ (x >> np.uint64(27))) * _MIX_3
        return x ^ (x >> np.uint64(31))


def archive_fleet(fleet: str, fleet_size: int) -> list[str]:
    """The ids of the archive drones, by index."""
    return [drone_id(fleet, ARCHIVE_HOST, index) for index in range(fleet_size)]


def drone_indexes(summons: npt.NDArray[np.int64], fleet_size: int) -> npt.NDArray[np.int64]:
    """Archive drone index of each ticket: a stable hash of the summons number mod fleet size."""
    return (mix(summons) % np.uint64(fleet_size)).astype(np.int64)


def borough_indexes(
    counties: npt.NDArray[np.int64], precincts: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Borough index per ticket: the county's (index, or -1), else the precinct's, else unknown."""
    result = np.full(counties.shape, UNKNOWN_BOROUGH, dtype=np.int64)
    for low, high, borough in _PRECINCT_RANGES:
        result[(precincts >= low) & (precincts <= high)] = BOROUGHS.index(borough)
    known = counties >= 0
    result[known] = counties[known]
    return result


_TABLE_LOCK: Final = threading.Lock()


def _point_table() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """All boroughs' points in one ``(n, 2)`` array, and per borough index its first row and count.

    Borough ``b`` owns rows ``first[b] .. first[b] + count[b]``; the unknown borough owns them all.
    Built once per process (about a second of pure Python), by whichever thread asks first.
    """
    with _TABLE_LOCK:
        return _built_point_table()


def prepare_positions() -> None:
    """Build the point table now, in a background thread, so that it is ready (or nearly) when
    the first batch needs it: the ingestor starts it while it waits for Kafka."""
    threading.Thread(target=_position_texts, name="point-table", daemon=True).start()


@cache
def _built_point_table() -> tuple[
    npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64]
]:
    tables = borough_points()
    points = np.array([point for name in BOROUGHS for point in tables[name]], dtype=np.float64)
    counts = [len(tables[name]) for name in BOROUGHS]
    first = np.array([*np.cumsum([0, *counts[:-1]]), 0], dtype=np.int64)
    return points, first, np.array([*counts, len(points)], dtype=np.int64)


def position_indexes(
    summons: npt.NDArray[np.int64], boroughs: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Row of each ticket's position in the point table: a hash of its summons number picks
    one of its borough's points (of any borough's if unknown)."""
    _, first, counts = _point_table()
    offsets = (mix(summons, 1) % counts[boroughs].astype(np.uint64)).astype(np.int64)
    chosen: npt.NDArray[np.int64] = first[boroughs] + offsets
    return chosen


def positions(
    summons: npt.NDArray[np.int64], boroughs: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Deterministic (latitude, longitude) inside each ticket's borough (anywhere if unknown)."""
    chosen = _point_table()[0][position_indexes(summons, boroughs)]
    return chosen[:, 0].copy(), chosen[:, 1].copy()


def _position_texts() -> tuple[pl.Series, pl.Series]:
    with _TABLE_LOCK:
        return _built_position_texts()


@cache
def _built_position_texts() -> tuple[pl.Series, pl.Series]:
    points = _built_point_table()[0]
    return (
        pl.Series("latitude", [repr(value) for value in points[:, 0].tolist()], pl.String),
        pl.Series("longitude", [repr(value) for value in points[:, 1].tolist()], pl.String),
    )


def position_texts(indexes: npt.NDArray[np.int64]) -> tuple[pl.Series, pl.Series]:
    """The (latitude, longitude) of :func:`position_indexes` as their ``repr`` text, the T1
    text of a float: each of the table's points is formatted once, not once per ticket."""
    latitude, longitude = _position_texts()
    return latitude.gather(indexes), longitude.gather(indexes)


def county_index(county: str | None) -> int:
    """Borough index of a ``Violation County`` code (:func:`borough_of_county`), -1 if unknown."""
    borough = borough_of_county(county)
    return -1 if borough is None else BOROUGHS.index(borough)


def ticket_enrichment(
    summons_number: int, county: str | None, precinct: int | None, fleet: list[str]
) -> tuple[str, float, float]:
    """``(drone_id, latitude, longitude)`` of one ticket (same code as the vectorised path)."""
    summons = np.array([summons_number], dtype=np.int64)
    drone = fleet[int(drone_indexes(summons, len(fleet))[0])]
    boroughs = borough_indexes(
        np.array([county_index(county)], dtype=np.int64),
        np.array([-1 if precinct is None else precinct], dtype=np.int64),
    )
    latitude, longitude = positions(summons, boroughs)
    return drone, float(latitude[0]), float(longitude[0])

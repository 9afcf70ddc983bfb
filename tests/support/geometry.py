"""An independent point-in-polygon check for tests: numpy, every edge, straight from the GeoJSON.

It shares nothing with :mod:`prestacop_shared.borough_points` but the shipped file: it parses
the document itself, tests every ring of every polygon (no latitude bands, no bounding box) and
works on whole arrays of points.
"""

from __future__ import annotations

import json

import numpy as np
import numpy.typing as npt

from prestacop_shared.boroughs import geojson_text


def borough_edges() -> dict[str, npt.NDArray[np.float64]]:
    """Per upper-case borough name, its ring segments as an ``(n, 4)`` array lon1, lat1, lon2, lat2."""
    edges = {}
    for feature in json.loads(geojson_text())["features"]:
        segments = [
            (*ring[i], *ring[i + 1])
            for polygon in feature["geometry"]["coordinates"]
            for ring in polygon
            for i in range(len(ring) - 1)
        ]
        edges[feature["properties"]["BoroName"].upper()] = np.array(segments, dtype=np.float64)
    return edges


def inside(
    edges: npt.NDArray[np.float64], latitudes: npt.ArrayLike, longitudes: npt.ArrayLike
) -> npt.NDArray[np.bool_]:
    """Even-odd ray casting of every point against every edge."""
    lat = np.asarray(latitudes, dtype=np.float64)[:, None]
    lon = np.asarray(longitudes, dtype=np.float64)[:, None]
    x1, y1, x2, y2 = (edges[:, k][None, :] for k in range(4))
    spans = (y1 > lat) != (y2 > lat)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
    crossings: npt.NDArray[np.int64] = (spans & (lon < x_at)).sum(axis=1)
    odd: npt.NDArray[np.bool_] = crossings % 2 == 1
    return odd


def boroughs_containing(
    edges: dict[str, npt.NDArray[np.float64]], latitudes: npt.ArrayLike, longitudes: npt.ArrayLike
) -> list[list[str]]:
    """For each point, the names of the boroughs whose boundary holds it (in chunks of 500)."""
    lat = np.asarray(latitudes, dtype=np.float64)
    lon = np.asarray(longitudes, dtype=np.float64)
    found: list[list[str]] = [[] for _ in range(len(lat))]
    for start in range(0, len(lat), 500):
        chunk = slice(start, start + 500)
        for name, borough in edges.items():
            for offset in np.flatnonzero(inside(borough, lat[chunk], lon[chunk])):
                found[start + int(offset)].append(name)
    return found

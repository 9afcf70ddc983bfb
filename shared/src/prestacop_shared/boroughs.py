"""NYC's five borough boundaries, shipped as package data (``data/nyc_boroughs.geojson``).

Public data of the NYC Department of City Planning (the shoreline-clipped "nybb" boundaries),
simplified to about 10 m: WGS84 longitude/latitude, one MultiPolygon per borough, outer rings
clockwise. Maps (the operator console, the dashboard) and the placing of historical tickets
inside their borough all read it from here. Borough names are upper case, as the values of
:data:`prestacop_shared.fleet.COUNTY_TO_BOROUGH`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Final

GEOJSON_RESOURCE: Final = "nyc_boroughs.geojson"
"""The file's name under the package's ``data`` folder."""

Ring = tuple[tuple[float, float], ...]
"""A closed ring of (longitude, latitude) points."""

Polygon = tuple[Ring, ...]
"""An outer ring followed by its holes."""


@dataclass(frozen=True)
class Borough:
    """One borough: its DCP code (1 Manhattan .. 5 Staten Island), name and polygons."""

    code: int
    name: str
    polygons: tuple[Polygon, ...]


def geojson_text() -> str:
    """The GeoJSON document as shipped (for services that hand it to a browser as is)."""
    return (
        resources.files("prestacop_shared")
        .joinpath("data", GEOJSON_RESOURCE)
        .read_text(encoding="utf-8")
    )


@cache
def load_boroughs() -> tuple[Borough, ...]:
    """The five boroughs, ordered by code."""
    document = json.loads(geojson_text())
    boroughs = []
    for feature in document["features"]:
        properties, geometry = feature["properties"], feature["geometry"]
        polygons = tuple(
            tuple(tuple((float(x), float(y)) for x, y in ring) for ring in polygon)
            for polygon in geometry["coordinates"]
        )
        boroughs.append(
            Borough(int(properties["BoroCode"]), str(properties["BoroName"]).upper(), polygons)
        )
    return tuple(sorted(boroughs, key=lambda b: b.code))

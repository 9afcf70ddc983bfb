"""Drone identities and New York City geography, shared by every service that names drones.

A drone id is ``<fleet>-<host>-<index>``: the drone service uses its host name (so each replica
of ``docker compose up --scale drone=10`` has its own ids without per-replica configuration), and
the csv-ingestor assigns historical tickets to the fixed ``archive`` fleet in the same scheme.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

ARCHIVE_HOST: Final = "archive"
"""Host part of the fixed fleet that historical tickets are assigned to."""


def drone_id(fleet: str, host: str, index: int) -> str:
    """Return the stable id of drone ``index`` of ``fleet`` running on ``host``.

    Example:
        >>> drone_id("nypd", "drone-7f3a", 12)
        'nypd-drone-7f3a-0012'
    """
    if index < 0:
        raise ValueError(f"drone index must be >= 0, got {index}")
    clean_host = re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-") or "host"
    return f"{fleet}-{clean_host}-{index:04d}"


class BoundingBox(NamedTuple):
    """A latitude/longitude rectangle."""

    south: float
    west: float
    north: float
    east: float

    def contains(self, latitude: float, longitude: float) -> bool:
        """Whether the point lies inside the box (edges included)."""
        return self.south <= latitude <= self.north and self.west <= longitude <= self.east


NYC_BOUNDS: Final = BoundingBox(south=40.4774, west=-74.2591, north=40.9176, east=-73.7004)
"""The five boroughs' bounding box."""

BOROUGH_BOUNDS: Final[dict[str, BoundingBox]] = {
    "MANHATTAN": BoundingBox(40.7000, -74.0200, 40.8780, -73.9070),
    "BRONX": BoundingBox(40.7855, -73.9339, 40.9176, -73.7654),
    "BROOKLYN": BoundingBox(40.5707, -74.0421, 40.7395, -73.8334),
    "QUEENS": BoundingBox(40.5417, -73.9626, 40.8007, -73.7004),
    "STATEN ISLAND": BoundingBox(40.4774, -74.2591, 40.6514, -74.0522),
}
"""Rough per-borough boxes (inside :data:`NYC_BOUNDS`)."""

COUNTY_TO_BOROUGH: Final[dict[str, str]] = {
    "NY": "MANHATTAN", "MN": "MANHATTAN", "MAN": "MANHATTAN",
    "BX": "BRONX", "BRONX": "BRONX",
    "K": "BROOKLYN", "BK": "BROOKLYN", "KINGS": "BROOKLYN",
    "Q": "QUEENS", "QN": "QUEENS", "QNS": "QUEENS",
    "R": "STATEN ISLAND", "ST": "STATEN ISLAND", "RICH": "STATEN ISLAND",
}  # fmt: skip
"""The ``Violation County`` codes of the real files, mapped to boroughs."""


def borough_of_county(county: str | None) -> str | None:
    """Return the borough of a ``Violation County`` code, or ``None`` if unknown/empty.

    Example:
        >>> borough_of_county("BK"), borough_of_county("K"), borough_of_county("")
        ('BROOKLYN', 'BROOKLYN', None)
    """
    if not county:
        return None
    return COUNTY_TO_BOROUGH.get(county.strip().upper())

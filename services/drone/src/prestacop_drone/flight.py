"""How one drone flies: a random-walk patrol inside its borough, battery drain, return to base, recharge.

Positions use an equirectangular approximation (metres per degree of latitude is constant,
metres per degree of longitude shrinks with ``cos(latitude)``): at city scale the error is far
below a GPS's. Headings are degrees clockwise from north, in ``[0, 360)``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from prestacop_shared.events import DroneState
from prestacop_shared.fleet import BoundingBox

METRES_PER_DEGREE_LATITUDE = 111_320.0
PATROL_TURN_STDDEV_DEG = 25.0
"""How much a patrolling drone's heading wanders between two statuses."""
BATTERY_RESERVE_PCT = 10.0
"""Battery a drone keeps on top of what the flight home needs."""
RETURN_SAFETY_FACTOR = 1.25
ARRIVAL_DISTANCE_M = 1.0


@dataclass(frozen=True, slots=True)
class BatteryModel:
    """How fast batteries drain in flight and charge at the base, in percent per second."""

    drain_pct_per_s: float = 0.05
    charge_pct_per_s: float = 0.2


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Approximate ground distance in metres between two nearby points."""
    mean_lat = math.radians((lat1 + lat2) / 2)
    north_m = (lat2 - lat1) * METRES_PER_DEGREE_LATITUDE
    east_m = (lon2 - lon1) * METRES_PER_DEGREE_LATITUDE * math.cos(mean_lat)
    return math.hypot(north_m, east_m)


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Heading from the first point to the second, degrees clockwise from north."""
    mean_lat = math.radians((lat1 + lat2) / 2)
    north_m = lat2 - lat1
    east_m = (lon2 - lon1) * math.cos(mean_lat)
    return normalise_heading(math.degrees(math.atan2(east_m, north_m)))


def normalise_heading(heading: float) -> float:
    """Bring a heading into ``[0, 360)`` (``-1e-15 % 360`` is 360.0, hence the guard)."""
    heading %= 360.0
    return 0.0 if heading >= 360.0 else heading


def move(latitude: float, longitude: float, heading: float, metres: float) -> tuple[float, float]:
    """Return the point ``metres`` away along ``heading``."""
    rad = math.radians(heading)
    d_lat = metres * math.cos(rad) / METRES_PER_DEGREE_LATITUDE
    d_lon = metres * math.sin(rad) / (METRES_PER_DEGREE_LATITUDE * math.cos(math.radians(latitude)))
    return latitude + d_lat, longitude + d_lon


def reflect_into(
    area: BoundingBox, latitude: float, longitude: float, heading: float
) -> tuple[float, float, float]:
    """Bounce a point that left ``area`` back inside it, mirroring its heading like a billiard ball."""
    if latitude > area.north:
        latitude, heading = 2 * area.north - latitude, 180.0 - heading
    elif latitude < area.south:
        latitude, heading = 2 * area.south - latitude, 180.0 - heading
    if longitude > area.east:
        longitude, heading = 2 * area.east - longitude, -heading
    elif longitude < area.west:
        longitude, heading = 2 * area.west - longitude, -heading
    latitude = min(max(latitude, area.south), area.north)
    longitude = min(max(longitude, area.west), area.east)
    return latitude, longitude, normalise_heading(heading)


def random_point(area: BoundingBox, rng: random.Random, margin: float = 0.0) -> tuple[float, float]:
    """A uniform point of ``area``, keeping ``margin`` (a fraction of each side) from its edges."""
    lat_span = area.north - area.south
    lon_span = area.east - area.west
    latitude = rng.uniform(area.south + margin * lat_span, area.north - margin * lat_span)
    longitude = rng.uniform(area.west + margin * lon_span, area.east - margin * lon_span)
    return latitude, longitude


@dataclass(slots=True)
class Drone:
    """One simulated drone: identity, patrol area, base, position, battery and state.

    A drone patrols (random walk inside ``area``) until its battery only just covers the flight
    home plus a reserve, flies straight back to ``base``, charges to 100 % and takes off again.
    """

    drone_id: str
    rng: random.Random
    area: BoundingBox
    base_latitude: float
    base_longitude: float
    latitude: float
    longitude: float
    cruise_speed_mps: float
    battery_pct: float = 100.0
    state: DroneState = DroneState.PATROLLING
    heading_deg: float = 0.0
    speed_mps: float = 0.0

    def distance_to_base_m(self) -> float:
        """How far the base is, in metres."""
        return distance_m(self.latitude, self.longitude, self.base_latitude, self.base_longitude)

    def battery_needed_to_return_pct(self, battery: BatteryModel) -> float:
        """Battery the flight home costs, with a safety factor, plus the reserve."""
        flight_s = self.distance_to_base_m() / self.cruise_speed_mps
        return BATTERY_RESERVE_PCT + RETURN_SAFETY_FACTOR * flight_s * battery.drain_pct_per_s

    def advance(self, elapsed_s: float, battery: BatteryModel) -> None:
        """Fly (or charge) for ``elapsed_s`` seconds, changing state when the battery says so."""
        if self.state is DroneState.CHARGING:
            self._charge(elapsed_s, battery)
        elif self.state is DroneState.RETURNING:
            self._return(elapsed_s, battery)
        else:
            self._patrol(elapsed_s, battery)

    def _patrol(self, elapsed_s: float, battery: BatteryModel) -> None:
        heading = self.heading_deg + self.rng.gauss(0.0, PATROL_TURN_STDDEV_DEG)
        latitude, longitude = move(
            self.latitude, self.longitude, heading, self.cruise_speed_mps * elapsed_s
        )
        self.latitude, self.longitude, self.heading_deg = reflect_into(
            self.area, latitude, longitude, heading
        )
        self.speed_mps = self.cruise_speed_mps
        self._drain(elapsed_s, battery)
        if self.battery_pct <= self.battery_needed_to_return_pct(battery):
            self.state = DroneState.RETURNING

    def _return(self, elapsed_s: float, battery: BatteryModel) -> None:
        remaining_m = self.distance_to_base_m()
        step_m = min(self.cruise_speed_mps * elapsed_s, remaining_m)
        self.heading_deg = bearing_deg(
            self.latitude, self.longitude, self.base_latitude, self.base_longitude
        )
        if remaining_m - step_m <= ARRIVAL_DISTANCE_M:
            self.latitude, self.longitude = self.base_latitude, self.base_longitude
            self.state = DroneState.CHARGING
            self.speed_mps = 0.0
        else:
            self.latitude, self.longitude = move(
                self.latitude, self.longitude, self.heading_deg, step_m
            )
            self.speed_mps = self.cruise_speed_mps
        self._drain(step_m / self.cruise_speed_mps, battery)

    def _charge(self, elapsed_s: float, battery: BatteryModel) -> None:
        self.speed_mps = 0.0
        self.battery_pct = min(100.0, self.battery_pct + battery.charge_pct_per_s * elapsed_s)
        if self.battery_pct >= 100.0:
            self.state = DroneState.PATROLLING

    def _drain(self, flight_s: float, battery: BatteryModel) -> None:
        self.battery_pct = max(0.0, self.battery_pct - battery.drain_pct_per_s * flight_s)

"""Many drones in one loop: who reports when, and what each report contains.

A :class:`Fleet` keeps its drones in a heap ordered by their next report time, measured in
seconds since the fleet started. Report times come from the schedule, never from the wall
clock, so a seeded fleet produces the same events in the same order however fast it runs.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import cycle

from prestacop_drone.flight import (
    METRES_PER_DEGREE_LATITUDE,
    BatteryModel,
    Drone,
    random_point,
)
from prestacop_drone.offences import (
    ViolationCodeSampler,
    alert_reason_and_detail,
    image_id,
    plate_id,
    random_hex_id,
)
from prestacop_shared.events import (
    Alert,
    AlertReason,
    DroneState,
    DroneStatus,
    Event,
    Violation,
    ViolationSource,
    utc_now,
)
from prestacop_shared.fleet import BOROUGH_BOUNDS, BoundingBox

PATROL_HALF_SIDE_M = 2_000.0
"""A drone patrols a square of about 4 km around its base (clipped to its borough)."""
CRUISE_SPEED_RANGE_MPS = (8.0, 15.0)
START_BATTERY_RANGE_PCT = (40.0, 100.0)
OFFENCE_OFFSET_M = 30.0
"""How far from the drone a car it reports can be."""


@dataclass(frozen=True, slots=True)
class FleetBehaviour:
    """Probabilities and physics shared by every drone of a fleet."""

    interval_s: float = 1.0
    violation_probability: float = 0.05
    alert_probability: float = 0.01
    battery: BatteryModel = BatteryModel()


def drone_rng(seed: int | None, drone_id: str) -> random.Random:
    """The drone's own random generator: seeded from ``(seed, drone_id)``, or from the OS."""
    if seed is None:
        return random.Random()  # noqa: S311 - a simulation, not cryptography
    return random.Random(f"{seed}/{drone_id}")  # noqa: S311 - a simulation, not cryptography


def patrol_area(borough: BoundingBox, latitude: float, longitude: float) -> BoundingBox:
    """The square of :data:`PATROL_HALF_SIDE_M` around a base, clipped to its borough."""
    d_lat = PATROL_HALF_SIDE_M / METRES_PER_DEGREE_LATITUDE
    d_lon = d_lat / math.cos(math.radians(latitude))
    return BoundingBox(
        south=max(borough.south, latitude - d_lat),
        west=max(borough.west, longitude - d_lon),
        north=min(borough.north, latitude + d_lat),
        east=min(borough.east, longitude + d_lon),
    )


def launch_drones(ids: Sequence[str], seed: int | None) -> list[Drone]:
    """Put each drone at its base in a borough (boroughs in turn), with a partly charged battery."""
    drones = []
    boroughs = cycle(BOROUGH_BOUNDS.values())
    for drone_id, borough in zip(ids, boroughs, strict=False):
        rng = drone_rng(seed, drone_id)
        base_latitude, base_longitude = random_point(borough, rng, margin=0.1)
        area = patrol_area(borough, base_latitude, base_longitude)
        drones.append(
            Drone(
                drone_id=drone_id,
                rng=rng,
                area=area,
                base_latitude=base_latitude,
                base_longitude=base_longitude,
                latitude=base_latitude,
                longitude=base_longitude,
                cruise_speed_mps=rng.uniform(*CRUISE_SPEED_RANGE_MPS),
                battery_pct=rng.uniform(*START_BATTERY_RANGE_PCT),
                heading_deg=rng.uniform(0.0, 360.0),
            )
        )
    return drones


class Fleet:
    """Drones that each report every ``interval_s``, their first reports spread over one interval.

    Example:
        >>> fleet = Fleet(launch_drones(["d-1", "d-2"], seed=7), FleetBehaviour(), seed=7)
        >>> [event.drone_id for event in fleet.due(1.0)]  # doctest: +SKIP
        ['d-2', 'd-1']
    """

    def __init__(
        self,
        drones: Sequence[Drone],
        behaviour: FleetBehaviour,
        *,
        seed: int | None = None,
        sampler: ViolationCodeSampler | None = None,
    ) -> None:
        if not drones:
            raise ValueError("a fleet needs at least one drone")
        self.drones = list(drones)
        self.behaviour = behaviour
        self._sampler = sampler or ViolationCodeSampler.from_package_data()
        phase_rng = random.Random(seed)  # noqa: S311 - a simulation, not cryptography
        self._schedule: list[tuple[float, int]] = [
            (phase_rng.uniform(0.0, behaviour.interval_s), index)
            for index in range(len(self.drones))
        ]
        heapq.heapify(self._schedule)

    @property
    def next_due_s(self) -> float:
        """When the next report is due, in seconds since the fleet started."""
        return self._schedule[0][0]

    def state_counts(self) -> Counter[DroneState]:
        """How many drones patrol, return and charge right now."""
        return Counter(drone.state for drone in self.drones)

    def due(self, elapsed_s: float) -> Iterator[Event]:
        """Yield the events of every report due by ``elapsed_s`` (seconds since start), in order.

        Each report is a :class:`DroneStatus`, sometimes followed by a :class:`Violation` or,
        when the drone could not classify the offence, an :class:`Alert`.
        """
        schedule = self._schedule
        interval_s = self.behaviour.interval_s
        while schedule[0][0] <= elapsed_s:
            due_s, index = schedule[0]
            heapq.heapreplace(schedule, (due_s + interval_s, index))
            yield from self.report(self.drones[index])

    def report(self, drone: Drone) -> Iterator[Event]:
        """Fly one interval, then describe it: a status, and maybe an offence."""
        behaviour = self.behaviour
        drone.advance(behaviour.interval_s, behaviour.battery)
        rng = drone.rng
        emitted_at = utc_now()
        yield DroneStatus(
            event_id=random_hex_id(rng),
            drone_id=drone.drone_id,
            emitted_at=emitted_at,
            latitude=drone.latitude,
            longitude=drone.longitude,
            battery_pct=drone.battery_pct,
            state=drone.state,
            speed_mps=drone.speed_mps,
            heading_deg=drone.heading_deg,
        )
        if drone.state is not DroneState.PATROLLING:
            return
        if rng.random() >= behaviour.violation_probability:
            return
        latitude, longitude = self._near(drone)
        if rng.random() < behaviour.alert_probability:
            reason, detail = alert_reason_and_detail(rng)
            readable = reason in (AlertReason.OFFENCE_UNCLASSIFIED, AlertReason.LOW_CONFIDENCE)
            yield Alert(
                event_id=random_hex_id(rng),
                drone_id=drone.drone_id,
                emitted_at=emitted_at,
                latitude=latitude,
                longitude=longitude,
                image_id=image_id(rng),
                reason=reason,
                detail=detail,
                plate_id=plate_id(rng) if readable else None,
            )
            return
        yield Violation(
            event_id=random_hex_id(rng),
            drone_id=drone.drone_id,
            emitted_at=emitted_at,
            latitude=latitude,
            longitude=longitude,
            violation_code=self._sampler.draw(rng),
            plate_id=plate_id(rng),
            image_id=image_id(rng),
            source=ViolationSource.DRONE,
        )

    @staticmethod
    def _near(drone: Drone) -> tuple[float, float]:
        """A point a few metres from the drone (the offending car), inside its patrol area."""
        rng = drone.rng
        d_lat = rng.uniform(-OFFENCE_OFFSET_M, OFFENCE_OFFSET_M) / METRES_PER_DEGREE_LATITUDE
        d_lon = rng.uniform(-OFFENCE_OFFSET_M, OFFENCE_OFFSET_M) / METRES_PER_DEGREE_LATITUDE
        area = drone.area
        return (
            min(max(drone.latitude + d_lat, area.south), area.north),
            min(max(drone.longitude + d_lon, area.west), area.east),
        )

"""A drone stays over New York, drains its battery on patrol, flies home and recharges."""

from __future__ import annotations

import pytest

from prestacop_drone.fleet import launch_drones
from prestacop_drone.flight import BatteryModel, Drone, normalise_heading
from prestacop_shared.events import DroneState
from prestacop_shared.fleet import NYC_BOUNDS

pytestmark = pytest.mark.unit


def fly(drone: Drone, steps: int, battery: BatteryModel, dt_s: float = 1.0) -> list[DroneState]:
    states = []
    for _ in range(steps):
        drone.advance(dt_s, battery)
        states.append(drone.state)
    return states


def test_drones_never_leave_new_york_nor_their_patrol_area() -> None:
    drones = launch_drones([f"d-{i}" for i in range(50)], seed=11)
    battery = BatteryModel(drain_pct_per_s=0.5, charge_pct_per_s=5.0)
    for drone in drones:
        for _ in range(2_000):
            drone.advance(5.0, battery)
            assert NYC_BOUNDS.contains(drone.latitude, drone.longitude), drone
            assert drone.area.contains(drone.latitude, drone.longitude), drone
            assert 0.0 <= drone.heading_deg < 360.0


def test_battery_drains_on_patrol_then_drone_returns_charges_and_takes_off_again() -> None:
    (drone,) = launch_drones(["d-cycle"], seed=3)
    drone.battery_pct = 100.0
    battery = BatteryModel(drain_pct_per_s=0.1, charge_pct_per_s=1.0)

    drone.advance(10.0, battery)
    assert drone.state is DroneState.PATROLLING
    assert drone.battery_pct == pytest.approx(99.0)

    states = fly(drone, 500, battery, dt_s=5.0)
    assert DroneState.RETURNING in states
    assert DroneState.CHARGING in states
    first_charge = states.index(DroneState.CHARGING)
    assert states.index(DroneState.RETURNING) < first_charge
    assert DroneState.PATROLLING in states[first_charge:], "never took off again after charging"


def test_a_returning_drone_lands_at_its_base_with_battery_left() -> None:
    drones = launch_drones([f"d-{i}" for i in range(20)], seed=5)
    battery = BatteryModel(drain_pct_per_s=0.2, charge_pct_per_s=1.0)
    for drone in drones:
        for _ in range(3_000):
            drone.advance(1.0, battery)
            if drone.state is DroneState.CHARGING:
                break
        assert drone.state is DroneState.CHARGING, "never came back to charge"
        assert (drone.latitude, drone.longitude) == (drone.base_latitude, drone.base_longitude)
        assert drone.battery_pct > 0.0
        assert drone.speed_mps == 0.0


def test_charging_drone_does_not_move_and_gains_battery() -> None:
    (drone,) = launch_drones(["d-charge"], seed=1)
    drone.state = DroneState.CHARGING
    drone.battery_pct = 20.0
    position = (drone.latitude, drone.longitude)
    drone.advance(10.0, BatteryModel(drain_pct_per_s=1.0, charge_pct_per_s=2.0))
    assert drone.battery_pct == pytest.approx(40.0)
    assert (drone.latitude, drone.longitude) == position
    assert drone.state is DroneState.CHARGING


@pytest.mark.parametrize("heading", [-1e-15, 360.0, 720.5, -90.0])
def test_headings_are_normalised_into_0_360(heading: float) -> None:
    assert 0.0 <= normalise_heading(heading) < 360.0

"""Drone ids per host and fleet; bad settings are refused with the variable's name."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from prestacop_drone.__main__ import app
from prestacop_drone.config import DroneSettings
from prestacop_shared.config import load_settings
from prestacop_shared.exceptions import ConfigError

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DRONE_COUNT", "DRONE_HOST", "DRONE_FLEET", "DRONE_IDS", "DRONE_INTERVAL_S"):
        monkeypatch.delenv(name, raising=False)


def test_ids_are_fleet_host_index() -> None:
    settings = DroneSettings(count=3, fleet="nypd", host="Drone_7F3A")
    assert settings.drone_ids() == [
        "nypd-drone-7f3a-0000",
        "nypd-drone-7f3a-0001",
        "nypd-drone-7f3a-0002",
    ]


def test_replicas_with_different_host_names_have_disjoint_ids(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DRONE_COUNT", "100")
    monkeypatch.setenv("DRONE_HOST", "drone-a1")
    first = set(load_settings(DroneSettings).drone_ids())
    monkeypatch.setenv("DRONE_HOST", "drone-b2")
    second = set(load_settings(DroneSettings).drone_ids())
    assert len(first) == len(second) == 100
    assert not first & second


def test_host_defaults_to_the_machine_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("socket.gethostname", lambda: "replica-42")
    assert DroneSettings(count=1).drone_ids() == ["nypd-replica-42-0000"]


def test_explicit_ids_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRONE_IDS", "alpha, bravo,charlie")
    assert load_settings(DroneSettings).drone_ids() == ["alpha", "bravo", "charlie"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DRONE_COUNT", "many"),
        ("DRONE_COUNT", "0"),
        ("DRONE_INTERVAL_S", "0"),
        ("DRONE_VIOLATION_PROBABILITY", "1.5"),
        ("DRONE_IDS", "a,b,a"),
        ("DRONE_FLEET", "NYPD Fleet"),
        ("DRONE_HTTP_PORT", "70000"),
        ("DRONE_LOG_LEVEL", "chatty"),
    ],
)
def test_bad_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load_settings(DroneSettings)


def test_cli_refuses_bad_flag_values_naming_the_variable() -> None:
    result = CliRunner().invoke(app, ["--drones", "0"])
    assert result.exit_code == 2
    assert "DRONE_COUNT" in result.output

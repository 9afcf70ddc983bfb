"""The demo's fleet winds down in order, with real processes under honcho standing in for the
services: the drones stop first while everything else runs on, the run waits for the last
alerts' emails with the alert-mailer still up, then stream-storage stops alone, then the rest.

A demo whose mailer was stopped with the drones ended with one alert fewer emailed than sent.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from prestacop_devkit.demo_fleet import FleetPlan, run_fleet

pytestmark = pytest.mark.integration

SERVICES = ("smtp", "drones", "alert-mailer", "csv-ingestor", "stream-storage", "analytics")


class _Notes:
    """The view's side the fleet uses: notes, and no status."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, message: str, *, key: str | None = None) -> None:
        self.notes.append(message if key is None else f"{key}: {message}")

    def latest(self) -> None:
        return None


def _service(name: str, stopped: Path) -> list[str]:
    """A process that runs until SIGTERM, then appends its name to ``stopped``."""
    script = (
        f"trap 'echo {name} >> {shlex.quote(str(stopped))}; exit 0' TERM; "
        "while :; do sleep 0.1; done"
    )
    return ["sh", "-c", script]


def _plan(tmp_path: Path, stopped: Path, every_alert_mailed: Callable[[], bool]) -> FleetPlan:
    return FleetPlan(
        commands={name: _service(name, stopped) for name in SERVICES},
        env={"PATH": "/usr/bin:/bin"},
        logs_dir=tmp_path / "logs",
        duration_s=1,
        keep_running=False,
        mailer_url="http://127.0.0.1:9",  # no operator API: no alert resolved, the run goes on
        token="unused",  # noqa: S106 - nothing checks it
        every_alert_mailed=every_alert_mailed,
    )


def test_the_drones_stop_first_and_the_mailer_runs_until_every_alert_is_mailed(
    tmp_path: Path,
) -> None:
    stopped = tmp_path / "stopped"
    stopped.touch()
    seen_at_probe: list[list[str]] = []

    def every_alert_mailed() -> bool:
        seen_at_probe.append(stopped.read_text().split())
        return len(seen_at_probe) >= 3  # "not yet" twice: the run must wait, not move on

    notes = _Notes()
    plan = _plan(tmp_path, stopped, every_alert_mailed)

    assert run_fleet(plan, notes) == 0  # type: ignore[arg-type]

    order = stopped.read_text().split()
    assert seen_at_probe == [["drones"]] * 3, seen_at_probe
    assert order[:2] == ["drones", "stream-storage"], order
    assert sorted(order) == sorted(SERVICES), order
    wind_down = [note for note in notes.notes if note.startswith("wind-down: ")]
    assert [note.rsplit(" ", 2)[-2:] for note in wind_down] == [
        ["drones", "…"], ["alerts", "…"], ["services", "…"],
    ], wind_down  # fmt: skip
    assert "some alerts" not in wind_down[-1]


def test_a_mailer_that_never_catches_up_delays_the_end_and_says_so(tmp_path: Path) -> None:
    stopped = tmp_path / "stopped"
    stopped.touch()
    notes = _Notes()
    plan = _plan(tmp_path, stopped, lambda: False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("prestacop_devkit.demo_fleet.DELIVERY_TIMEOUT_S", 3.0)
        assert run_fleet(plan, notes) == 0  # type: ignore[arg-type]

    assert sorted(stopped.read_text().split()) == sorted(SERVICES)
    assert "some alerts still have no email after 3 s" in notes.notes[-1], notes.notes
    assert notes.notes[-1].startswith("wind-down: ") and notes.notes[-1].endswith("services …")

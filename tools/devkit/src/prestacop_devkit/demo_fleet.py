"""The demo's fleet: every service under honcho, each logging to its own file, until the run ends.

The run ends when ``duration_s`` is up, after the demo has played the operator on a few alerts
through the operator API; with ``keep_running`` it goes on until the user's first Ctrl-C (a
second one stops at once). Either way the run winds down in order: the drones stop first, the
alert-mailer gets time to email the last alerts they sent, then stream-storage stops alone (so
Spark ends its micro-batch), then honcho stops the rest. A service that exits on its own stops
the run, and the error names its log file and shows its last lines.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import honcho.manager
import honcho.printer
import httpx

from prestacop_devkit.demo_view import ViewThread

log = logging.getLogger(__name__)

STORAGE_STOP_TIMEOUT_S = 120.0
DRONES_STOP_TIMEOUT_S = 30.0
DELIVERY_TIMEOUT_S = 60.0
"""How long the run waits, once the drones have stopped, for the email of every alert they sent."""
DRONES = "drones"
WIND_DOWN = "wind-down"
"""The key of the live view's one note line for the steps that end the run."""


@dataclass(frozen=True)
class FleetPlan:
    """What to run and how the run ends."""

    commands: Mapping[str, list[str]]
    env: Mapping[str, str]
    logs_dir: Path
    duration_s: float
    keep_running: bool
    mailer_url: str
    token: str
    first_report: Sequence[str] = ()
    """With ``keep_running``: the command that writes a report once ``duration_s`` is up, so the
    dashboard has one while everything keeps running (its stderr goes to
    ``<logs_dir>/analytics-first-report.log``)."""
    every_alert_mailed: Callable[[], bool] | None = None
    """Once the drones have stopped: whether each alert they sent has its email. The run waits
    for it (up to ``DELIVERY_TIMEOUT_S``) before it stops the alert-mailer."""


class FleetStopped(Exception):
    """The fleet did not run its full time: a service died, or the user pressed Ctrl-C."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _resolve_some_alerts(mailer_url: str, token: str, count: int = 3) -> int:
    """Play the operator: resolve a few open alerts through the API; return how many."""
    base = mailer_url
    headers = {"Authorization": f"Bearer {token}"}
    resolved = 0
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            open_alerts = client.get("/alerts", params={"status": "open"}, headers=headers).json()
            items = (
                open_alerts.get("alerts", open_alerts)
                if isinstance(open_alerts, dict)
                else open_alerts
            )
            for alert in items[:count]:
                answer = client.post(
                    f"/alerts/{alert['alert_id']}/resolve",
                    json={"violation_code": 21, "operator": "demo-operator", "plate_id": "DEMO123"},
                    headers=headers,
                )
                resolved += answer.status_code == 201
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
        log.warning(
            "could not resolve alerts through the operator API", extra={"error": str(error)}
        )
    return resolved


def _stop_alone(manager: _Manager, name: str, timeout_s: float) -> bool:
    """SIGTERM one process, the others running on; return whether it exited within ``timeout_s``."""
    manager.retired.add(name)
    pid = manager._processes.get(name, {}).get("pid")
    if pid is None:
        return True
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if "returncode" in manager._processes[name]:
            return True
        time.sleep(0.5)
    return False


def _wait_until(condition: Callable[[], bool], timeout_s: float) -> bool:
    """Poll ``condition`` each second until it holds (true) or ``timeout_s`` is up (false)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if condition():
                return True
        except Exception as error:  # noqa: BLE001 - a probe that fails is a "not yet"
            log.warning("probe failed", extra={"error": str(error)})
        if time.monotonic() >= deadline:
            return False
        time.sleep(1.0)


def _stop_storage_first(manager: honcho.manager.Manager) -> None:
    """SIGTERM stream-storage alone so it ends its batch and stops Spark cleanly.

    honcho stops a process group, which would also hit the Spark JVM mid-batch; once
    stream-storage has exited, honcho stops the other services as usual.
    """
    pid = manager._processes.get("stream-storage", {}).get("pid")
    if pid is None:
        manager.terminate()
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STORAGE_STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        if "returncode" in manager._processes["stream-storage"]:
            return
        time.sleep(0.5)
    manager.terminate()


SYSTEM_LOG = "demo"
"""The log file (``<logs>/demo.log``) of honcho's own lines: started, stopped, signals sent."""


class LogFiles:
    """honcho's printer for the demo: each process's output into ``<logs_dir>/<name>.log``.

    Service lines are written as they came (JSON lines); honcho's own lines get a time prefix.
    Called from honcho's loop only (one thread).
    """

    def __init__(self, logs_dir: Path) -> None:
        """Write under ``logs_dir`` (created)."""
        logs_dir.mkdir(parents=True, exist_ok=True)
        self.logs_dir = logs_dir
        self.width = 0
        self._printers: dict[str, honcho.printer.Printer] = {}
        self._files: list[TextIO] = []

    def path(self, name: str) -> Path:
        """The log file of process ``name``."""
        return self.logs_dir / f"{name}.log"

    def write(self, message: honcho.printer.Message) -> None:
        """Append ``message`` to its process's file."""
        system = message.name == honcho.manager.SYSTEM_PRINTER_NAME
        name = SYSTEM_LOG if system else str(message.name)
        printer = self._printers.get(name)
        if printer is None:
            output = self.path(name).open("a", encoding="utf-8")
            self._files.append(output)
            printer = honcho.printer.Printer(output, colour=False, prefix=system)
            self._printers[name] = printer
        printer.write(message)

    def tail(self, name: str, lines: int = 8) -> str:
        """The last ``lines`` lines of process ``name``'s log."""
        path = self.path(name)
        if not path.is_file():
            return ""
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def close(self) -> None:
        """Close every file."""
        for output in self._files:
            output.close()


class _Manager(honcho.manager.Manager):  # type: ignore[misc]
    """honcho's manager, whose Ctrl-C (SIGINT) can be the demo's own ``on_interrupt``.

    honcho installs its handlers at the start of ``loop()``, just before ``_start()``; the
    demo's replace them there, in the main thread, as ``signal`` requires. A closed terminal
    (SIGHUP) stops everything as SIGTERM does, instead of leaving the services running.
    """

    def __init__(self, printer: LogFiles, on_interrupt: Callable[[], None] | None) -> None:
        super().__init__(printer=printer)
        self._on_interrupt = on_interrupt
        self.retired: set[str] = set()
        """Processes the demo stops one by one while the rest run on (honcho would stop all)."""

    def _any_stopped(self) -> bool:
        return any(
            process.get("returncode") is not None
            for name, process in self._processes.items()
            if name not in self.retired
        )

    def _hang_up(self, _signum: int, _frame: object) -> None:
        self._system_print("SIGHUP received\n")
        self.returncode = 129
        self.terminate()

    def _start(self) -> None:
        super()._start()
        signal.signal(signal.SIGHUP, self._hang_up)
        if self._on_interrupt is not None:
            on_interrupt = self._on_interrupt
            signal.signal(signal.SIGINT, lambda _signum, _frame: on_interrupt())


class _Run:
    """When the fleet's run ends: the timer, or (``keep_running``) the user's first Ctrl-C."""

    def __init__(self, plan: FleetPlan, view: ViewThread) -> None:
        self.plan = plan
        self.view = view
        self.finish = threading.Event()
        self.fleet_over = threading.Event()
        self.resolved: int | None = None
        self.ended_by_demo = False
        self.manager: _Manager | None = None

    def interrupt(self) -> None:
        """Ctrl-C with ``keep_running``: the first ends the run, a second stops at once."""
        if self.finish.is_set() and self.manager is not None:
            self.manager.returncode = 130
            self.manager.terminate()
            return
        self.view.note("demo: Ctrl-C: ending the run (Ctrl-C again to stop at once) …")
        self.finish.set()

    def end_when_due(self) -> None:
        """Resolve a few alerts after ``duration_s``; end the run then, or on Ctrl-C."""
        self.finish.wait(self.plan.duration_s)
        if self.fleet_over.is_set():
            return
        self.resolved = _resolve_some_alerts(self.plan.mailer_url, self.plan.token)
        played = f"{self.resolved} alerts resolved through the operator API"
        if self.plan.keep_running and not self.finish.is_set():
            kept = (
                f"demo: {self.plan.duration_s:.0f} s are up ({played}); everything keeps "
                "running: press Ctrl-C to end the run with the report and summary"
            )
            if self.plan.first_report:
                self.view.note(
                    f"{kept}. The dashboard's first report follows storage's first batch …",
                    key="first report",
                )
                if self._storage_has_stored():
                    self.view.note(
                        f"{kept}. Writing a first report for the dashboard …", key="first report"
                    )
                    self.view.note(f"{kept}. {self._write_first_report()}", key="first report")
            else:
                self.view.note(kept)
            self.finish.wait()
            if self.fleet_over.is_set():
                return
        self.ended_by_demo = True
        assert self.manager is not None  # noqa: S101 - set before the timer starts
        # One line for the whole wind-down, each step replacing the last: the live view shows
        # only its last few notes, and the user's Ctrl-C note must stay among them.
        step = WIND_DOWN
        self.view.note(f"demo: ending the run ({played}), stopping the drones …", key=step)
        problems = []
        if not _stop_alone(self.manager, DRONES, DRONES_STOP_TIMEOUT_S):
            problems.append(f"the drones did not stop within {DRONES_STOP_TIMEOUT_S:.0f} s")
        if self.plan.every_alert_mailed is not None:
            self.view.note(
                f"demo: ending the run ({played}), waiting for the alert-mailer to email the "
                "last alerts …",
                key=step,
            )
            if not _wait_until(self.plan.every_alert_mailed, DELIVERY_TIMEOUT_S):
                problems.append(
                    f"some alerts still have no email after {DELIVERY_TIMEOUT_S:.0f} s (the "
                    "alert-mailer sends them when it next starts)"
                )
        self.view.note(
            f"demo: ending the run ({played}){''.join(f'; {p}' for p in problems)}; "
            "stopping the services …",
            key=step,
        )
        _stop_storage_first(self.manager)

    def _storage_has_stored(self) -> bool:
        """Wait until stream-storage has stored rows (true) or the run ends (false)."""
        while not self.finish.wait(1.0):
            status = self.view.latest()
            if status is not None and status.figure("stream-storage", "rows") > 0:
                return True
        return False

    def _write_first_report(self) -> str:
        """Run ``first_report``; say where its result is, or that it failed and where to look."""
        log_file = self.plan.logs_dir / "analytics-first-report.log"
        with log_file.open("a", encoding="utf-8") as log_output:
            result = subprocess.run(  # noqa: S603 - our own console script
                list(self.plan.first_report),
                env=dict(self.plan.env),
                stdout=subprocess.DEVNULL,
                stderr=log_output,
                check=False,
            )
        if result.returncode != 0 and self.finish.is_set():
            return "The first report was cut short by Ctrl-C"
        if result.returncode != 0:
            return f"The first report failed (exit {result.returncode}): see {log_file}"
        return "The dashboard shows a first report"


def run_fleet(plan: FleetPlan, view: ViewThread) -> int:
    """Run every service under honcho until the run ends; return how many alerts were resolved.

    Raises:
        FleetStopped: a service exited on its own (exit 1) or the user pressed Ctrl-C (130).
    """
    honcho.manager.KILL_WAIT = 60  # Spark finishes its batch before it exits on SIGTERM
    logs = LogFiles(plan.logs_dir)
    run = _Run(plan, view)
    manager = _Manager(logs, run.interrupt if plan.keep_running else None)
    run.manager = manager
    for name, command in plan.commands.items():
        logs.path(name).touch()  # a quiet process (aiosmtpd) still has its file to look in
        manager.add_process(name, "exec " + shlex.join(command), env=plan.env)
    timer = threading.Thread(target=run.end_when_due, name="demo-timer", daemon=True)
    timer.start()
    try:
        manager.loop()
    finally:
        run.fleet_over.set()
        run.finish.set()
        logs.close()
    if run.ended_by_demo:
        return run.resolved or 0
    if manager.returncode in (129, 130, 143):
        raise FleetStopped("demo: interrupted, everything stopped", 130)
    failed = [
        name
        for name, process in manager._processes.items()
        if process.get("returncode") not in (None, 0, -15, 143)
    ]
    details = "".join(
        f"\n--- last lines of {logs.path(name)}:\n{logs.tail(name)}" for name in failed
    )
    raise FleetStopped(
        f"demo: {', '.join(failed) or 'a service'} stopped on its own; its log is in "
        f"{logs.logs_dir}{details}",
        1,
    )

"""``make demo``'s view while the fleet runs: a live table on a terminal, status lines otherwise.

On a terminal (rich's ``Console.is_terminal``), :class:`LiveView` redraws one row per service
twice a second under the addresses a newcomer needs (the operator console, the dashboard, the
log folder). Without one (CI, a pipe), :class:`PlainView` prints the same figures as one status
line every few seconds. Both take their figures from :class:`~prestacop_devkit.demo_status.
StatusReader`, on a thread of their own (:class:`ViewThread`), so the services' own logs never
reach the screen: they are in the log files.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from prestacop_devkit.demo_status import DemoStatus, StatusReader, fmt_count

NOTES_SHOWN = 3
"""Notes the live view keeps under its table."""

PLAIN_EVERY_S = 5.0
"""Seconds between two status lines without a terminal."""


@dataclass(frozen=True)
class DemoAddresses:
    """What the view tells a newcomer to open or read."""

    console_url: str
    dashboard_url: str
    api_docs_url: str
    token_file: str
    logs_dir: str
    duration_s: float
    keep_running: bool


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


def _state(status: DemoStatus, name: str) -> Text:
    service = status.service(name)
    if not service.reachable:
        return Text("stopped" if service.seen else "starting", style="yellow")
    if service.healthy is False:
        return Text("unhealthy", style="red")
    return Text("up", style="green")


def _lag(status: DemoStatus) -> str:
    last = (
        "no batch yet"
        if status.storage_lag_s is None
        else f"last batch {status.storage_lag_s:.0f} s ago"
    )
    return f"lag: {last}, ≈ {fmt_count(status.rows_behind)} rows behind"


def figures_line(status: DemoStatus, name: str) -> str:
    """One service's figures in words (the live view's cell, the plain line's part)."""
    f = status.figure
    if name == "drones":
        return (
            f"messages sent: status {fmt_count(f(name, 'status'))} · "
            f"violations {fmt_count(f(name, 'violation'))} · alerts {fmt_count(f(name, 'alert'))}"
        )
    if name == "alert-mailer":
        return (
            f"emails delivered {fmt_count(f(name, 'emails'))} · open alerts "
            f"{fmt_count(f(name, 'open'))} · resolved {fmt_count(f(name, 'resolved'))}"
        )
    if name == "csv-ingestor":
        rows = f(name, "rows")
        rate = f"{fmt_count(status.rows_per_s)} rows/s"
        average = status.ingest_average_rows_per_s
        if status.rows_per_s == 0 and rows > 0 and average is not None:
            rate = f"idle, averaged {fmt_count(average)} rows/s"
        return f"rows ingested {fmt_count(rows)} / {fmt_count(status.rows_expected)} · {rate}"
    if name == "stream-storage":
        return f"rows stored {fmt_count(f(name, 'rows'))} · {_lag(status)}"
    return "dashboard served" if status.service(name).reachable else "dashboard not up yet"


def _heading(status: DemoStatus, addresses: DemoAddresses) -> str:
    if addresses.keep_running:
        plan = "running until Ctrl-C, then the report"
    else:
        plan = f"of {_clock(addresses.duration_s)}, then the report"
    return f"Prestacop demo — {_clock(status.elapsed_s)} {plan}"


def render(status: DemoStatus, addresses: DemoAddresses, notes: Sequence[str]) -> RenderableType:
    """The live view: one row per service, the addresses below (words wrap, URLs stay whole)."""
    table = Table(title=_heading(status, addresses), title_justify="left", expand=False)
    table.add_column("service", style="bold")
    table.add_column("state")
    table.add_column("figures")
    for service in status.services:
        cell: RenderableType = figures_line(status, service.name)
        if service.name == "csv-ingestor":
            done = status.figure(service.name, "rows")
            bar = Table.grid(padding=(0, 1))
            bar.add_row(
                ProgressBar(total=max(status.rows_expected, 1), completed=done, width=30),
                f"{100 * done / max(status.rows_expected, 1):.0f} %",
            )
            cell = Group(bar, cell)
        table.add_row(service.name, _state(status, service.name), cell)
    when = (
        f"a first report after {addresses.duration_s:.0f} s (once rows are stored), the last after Ctrl-C"
        if addresses.keep_running
        else "report at the end of the run"
    )
    where = Text()
    for label, address, comment in (
        ("operator console", addresses.console_url, f"token in {addresses.token_file}"),
        ("dashboard", addresses.dashboard_url, when),
        ("operator API", addresses.api_docs_url, ""),
        ("service logs", f"{addresses.logs_dir}/<service>.log", ""),
    ):
        where.append(f"{label:<18}", style="bold")
        where.append(address, style="cyan")
        where.append(f"  {comment}\n" if comment else "\n")
    parts: list[RenderableType] = [table, where]
    parts.extend(Text(note, style="italic") for note in notes)
    return Group(*parts)


def plain_line(status: DemoStatus) -> str:
    """The status line printed without a terminal."""
    names = ("drones", "alert-mailer", "csv-ingestor", "stream-storage")
    parts = [f"{name}: {figures_line(status, name)}" for name in names]
    return f"demo {_clock(status.elapsed_s)} | " + " | ".join(parts)


class View(Protocol):
    """Something that shows the demo's status while it runs."""

    def start(self) -> None:
        """Begin showing."""

    def show(self, status: DemoStatus) -> None:
        """Show a new status."""

    def note(self, message: str, *, key: str | None = None) -> None:
        """Say something that happened; a later note of the same ``key`` may replace it."""

    def stop(self) -> None:
        """Stop showing; the last status stays on screen."""


class LiveView:
    """A rich ``Live`` table, redrawn in place."""

    def __init__(self, console: Console, addresses: DemoAddresses) -> None:
        """Draw on ``console``."""
        self._console = console
        self._addresses = addresses
        self._notes: list[tuple[str | None, str]] = []
        self._status: DemoStatus | None = None
        self._live = Live(console=console, refresh_per_second=2, transient=False)

    def start(self) -> None:
        """Begin drawing (the table appears with the first status)."""
        self._live.start()

    def show(self, status: DemoStatus) -> None:
        """Redraw with ``status``."""
        self._status = status
        self._live.update(
            render(status, self._addresses, [note for _, note in self._notes]), refresh=True
        )

    def note(self, message: str, *, key: str | None = None) -> None:
        """Show ``message`` under the table, below the last few; or in place of the note of ``key``."""
        for index, (earlier, _) in enumerate(self._notes):
            if key is not None and earlier == key:
                self._notes[index] = (key, message)
                break
        else:
            self._notes = [*self._notes, (key, message)][-NOTES_SHOWN:]
        if self._status is not None:
            self.show(self._status)

    def stop(self) -> None:
        """Leave the last table on screen."""
        self._live.stop()


class PlainView:
    """One status line every :data:`PLAIN_EVERY_S` seconds, notes as they come."""

    def __init__(self, output: TextIO, every_s: float = PLAIN_EVERY_S) -> None:
        """Write to ``output``."""
        self._output = output
        self._every_s = every_s
        self._last = 0.0

    def start(self) -> None:
        """Nothing to draw yet."""

    def show(self, status: DemoStatus) -> None:
        """Print a status line if the last one is :data:`PLAIN_EVERY_S` old."""
        if status.at - self._last >= self._every_s:
            self._last = status.at
            self._write(plain_line(status))

    def note(self, message: str, *, key: str | None = None) -> None:  # noqa: ARG002
        """Print ``message`` (a printed line cannot be replaced)."""
        self._write(message)

    def stop(self) -> None:
        """Nothing to leave behind."""

    def _write(self, line: str) -> None:
        self._output.write(line + "\n")
        self._output.flush()


class ViewThread:
    """Reads the status every ``interval_s`` and shows it, until :meth:`stop`."""

    def __init__(self, reader: StatusReader, view: View, interval_s: float = 1.0) -> None:
        """Show ``reader``'s figures in ``view``."""
        self._reader = reader
        self._view = view
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="demo-view", daemon=True)
        self._latest: DemoStatus | None = None

    def start(self) -> ViewThread:
        """Start showing; returns ``self``."""
        self._view.start()
        self._thread.start()
        return self

    def note(self, message: str, *, key: str | None = None) -> None:
        """Pass ``message`` to the view."""
        with self._lock:
            self._view.note(message, key=key)

    def _run(self) -> None:
        while True:
            started = time.monotonic()
            status = self._reader.read()
            with self._lock:
                self._latest = status
                self._view.show(status)
            if self._stop.wait(max(self._interval_s - (time.monotonic() - started), 0.05)):
                return

    def latest(self) -> DemoStatus | None:
        """The last status read, if any."""
        with self._lock:
            return self._latest

    def stop(self) -> None:
        """Show one last status, then stop."""
        self._stop.set()
        self._thread.join(timeout=30)
        with self._lock:
            self._view.stop()


def choose_view(console: Console, addresses: DemoAddresses, output: TextIO) -> View:
    """A :class:`LiveView` on a terminal, else a :class:`PlainView` on ``output``."""
    if console.is_terminal:
        return LiveView(console, addresses)
    return PlainView(output)

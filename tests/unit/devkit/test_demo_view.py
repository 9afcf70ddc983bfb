"""The demo's live view and its plain-text fallback, drawn from one status."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import honcho.printer
import pytest
from rich.console import Console

from prestacop_devkit.demo_fleet import LogFiles
from prestacop_devkit.demo_status import DemoStatus, ServiceFigures
from prestacop_devkit.demo_view import (
    DemoAddresses,
    LiveView,
    PlainView,
    choose_view,
    plain_line,
    render,
)

pytestmark = pytest.mark.unit

ADDRESSES = DemoAddresses(
    console_url="http://127.0.0.1:8080/console",
    dashboard_url="http://127.0.0.1:8090/",
    api_docs_url="http://127.0.0.1:8080/docs",
    token_file="demo-run/operator-token",  # noqa: S106 - a path, not a secret
    logs_dir="demo-run/logs",
    duration_s=120,
    keep_running=False,
)


def status(at: float = 100.0, ingested: float = 12_500, rate: float = 4_321) -> DemoStatus:
    up = {"reachable": True, "healthy": True, "seen": True}
    return DemoStatus(
        at=at,
        elapsed_s=75,
        services=(
            ServiceFigures("drones", figures={"status": 1500, "violation": 300, "alert": 61}, **up),
            ServiceFigures("alert-mailer", figures={"emails": 61, "open": 58, "resolved": 3}, **up),
            ServiceFigures("csv-ingestor", figures={"rows": ingested}, **up),
            ServiceFigures("stream-storage", figures={"rows": 9_000}, **up),
            ServiceFigures("analytics", reachable=False, healthy=None, seen=False),
        ),
        rows_expected=25_000,
        rows_per_s=rate,
        ingest_average_rows_per_s=5_000,
        storage_lag_s=7.4,
        rows_behind=4_864,
    )


def screen(renderable: object, width: int = 140) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text()


def test_the_live_view_shows_every_service_the_progress_and_the_addresses() -> None:
    text = screen(render(status(), ADDRESSES, ["demo: 120 s are up"]))
    assert "Prestacop demo — 1:15 of 2:00, then the report" in text
    for expected in (
        "messages sent: status 1,500 · violations 300 · alerts 61",
        "emails delivered 61 · open alerts 58 · resolved 3",
        "rows ingested 12,500 / 25,000 · 4,321 rows/s",
        "50 %",
        "rows stored 9,000 · lag: last batch 7 s ago, ≈ 4,864 rows behind",
        "http://127.0.0.1:8080/console",
        "http://127.0.0.1:8090/",
        "demo-run/operator-token",
        "demo-run/logs",
        "demo: 120 s are up",
    ):
        assert expected in text, f"{expected!r} not in\n{text}"
    analytics = next(line for line in text.splitlines() if "analytics" in line)
    assert "starting" in analytics and "dashboard not up yet" in analytics


def test_on_an_80_column_terminal_the_rows_wrap_and_the_addresses_stay_whole() -> None:
    text = screen(render(status(), ADDRESSES, []), width=80)
    assert max(len(line) for line in text.splitlines()) <= 80
    for address in ("http://127.0.0.1:8080/console", "http://127.0.0.1:8090/", "demo-run/logs"):
        assert address in text, text


def test_an_idle_ingestor_shows_its_average_rate_and_keep_running_says_ctrl_c() -> None:
    keep = DemoAddresses(**{**ADDRESSES.__dict__, "keep_running": True})
    text = screen(render(status(ingested=25_000, rate=0), keep, []))
    assert "rows ingested 25,000 / 25,000 · idle, averaged 5,000 rows/s" in text
    assert "100 %" in text
    assert "running until Ctrl-C" in text
    assert "a first report after 120 s (once rows are stored), the last after Ctrl-C" in text


def test_the_plain_line_holds_the_same_figures_and_is_printed_every_few_seconds() -> None:
    line = plain_line(status())
    assert line.startswith("demo 1:15 | drones: messages sent: status 1,500")
    assert "csv-ingestor: rows ingested 12,500 / 25,000 · 4,321 rows/s" in line
    assert "stream-storage: rows stored 9,000" in line
    output = io.StringIO()
    view = PlainView(output, every_s=5)
    for at in (100.0, 101.0, 104.9, 105.0, 106.0):
        view.show(status(at=at))
    view.note("demo: ending the run")
    lines = output.getvalue().splitlines()
    assert len(lines) == 3 and lines[-1] == "demo: ending the run"


def test_a_keyed_note_replaces_its_own_line_only() -> None:
    console = Console(width=140, record=True, file=io.StringIO(), color_system=None)
    view = LiveView(console, ADDRESSES)
    view.note("time is up. Writing a first report …", key="first report")
    view.note("demo: Ctrl-C: ending the run")
    view.note("time is up. The first report was cut short by Ctrl-C", key="first report")
    view.show(status())
    text = screen(render(status(), ADDRESSES, [note for _, note in view._notes]))
    assert "demo: Ctrl-C: ending the run" in text
    assert "cut short by Ctrl-C" in text and "Writing a first report" not in text
    assert text.index("cut short") < text.index("demo: Ctrl-C: ending the run")


def test_a_terminal_gets_the_live_view_and_a_pipe_the_plain_one() -> None:
    terminal = Console(file=io.StringIO(), force_terminal=True)
    pipe = Console(file=io.StringIO(), force_terminal=False)
    assert isinstance(choose_view(terminal, ADDRESSES, io.StringIO()), LiveView)
    assert isinstance(choose_view(pipe, ADDRESSES, io.StringIO()), PlainView)


def test_each_process_logs_to_its_own_file(tmp_path: Path) -> None:
    logs = LogFiles(tmp_path / "logs")
    now = datetime(2026, 1, 1, 12, 0, 0)  # noqa: DTZ001 - honcho's clock is naive local time
    for name, data in (
        ("drones", b'{"event": "sent"}\n'),
        ("alert-mailer", '{"event": "mailed"}\n'),
        ("system", "drones started (pid=12)\n"),
        ("drones", b'{"event": "stopped"}\n'),
    ):
        logs.write(honcho.printer.Message("line", data, now, name, None))
    logs.close()
    assert logs.path("drones").read_text() == '{"event": "sent"}\n{"event": "stopped"}\n'
    assert logs.path("alert-mailer").read_text() == '{"event": "mailed"}\n'
    assert logs.path("demo").read_text() == "12:00:00 system | drones started (pid=12)\n"
    assert logs.tail("drones", 1) == '{"event": "stopped"}'

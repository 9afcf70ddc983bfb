"""``make demo`` on a terminal: the live view, ``--keep-running`` until Ctrl-C, then the summary.

The demo runs in a tmux session of its own server (a private socket, killed at the end), as a
newcomer would see it in a terminal 160 columns wide; the test reads the screen with
``capture-pane``. Where tmux is missing it runs the demo on a pseudo-terminal instead and reads
the frames rich draws there, escape sequences removed.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
import uuid
from pathlib import Path

import psutil
import pytest

from tests.e2e.demo.test_demo import (
    SUMMARY_COUNTS,
    assert_every_service_logged,
    assert_nothing_left_running,
    summary_counts,
)

pytestmark = pytest.mark.e2e

COLUMNS, ROWS = 160, 50
DURATION_S = 30
LIVE_ROWS = {
    "drones": r"drones\s+│ up\s+│ messages sent: status [1-9][\d,]* · violations [1-9][\d,]* · alerts [1-9]",
    "alert-mailer": r"alert-mailer\s+│ up\s+│ emails delivered [1-9][\d,]* · open alerts \d[\d,]* · resolved [1-9]",
    "csv-ingestor": r"rows ingested [1-9][\d,]* / [1-9][\d,]* · ",
    "stream-storage": r"stream-storage\s+│ up\s+│ rows stored [1-9][\d,]* · lag: last batch \d+ s ago",
    "analytics": r"analytics\s+│ up\s+│ dashboard served",
    "console": r"operator console\s+http://127\.0\.0\.1:\d+/console",
    "dashboard": r"dashboard\s+http://127\.0\.0\.1:\d+/",
    "logs": r"service logs\s+\S+/logs/<service>\.log",
    "kept running": r"everything keeps running: press Ctrl-C",
}
"""What one frame of the live view must show, once every service has done some work."""
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


class TmuxScreen:
    """The demo in a detached tmux session of a private tmux server."""

    def __init__(self, command: list[str]) -> None:
        self.socket = f"prestacop-test-{uuid.uuid4().hex[:8]}"
        # pytest exports COLUMNS=80 and LINES=24, which rich would believe over the pane's size.
        shell = f"unset COLUMNS LINES; {shlex.join(command)}; echo DEMO-EXIT=$?; sleep 3600"
        self._tmux("new-session", "-d", "-s", "demo", "-x", str(COLUMNS), "-y", str(ROWS), shell)

    def _tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], check=True, capture_output=True, text=True
        ).stdout

    def frame(self) -> str:
        """The visible screen."""
        return self._tmux("capture-pane", "-p", "-t", "demo")

    def history(self) -> str:
        """Everything the session printed, scrollback included, wrapped lines joined."""
        return self._tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "demo")

    def interrupt(self) -> None:
        """Ctrl-C, as typed."""
        self._tmux("send-keys", "-t", "demo", "C-c")

    def exit_code(self) -> int | None:
        found = re.search(r"DEMO-EXIT=(\d+)", self.history())
        return None if found is None else int(found.group(1))

    def close(self) -> None:
        """Stop the tmux server and wait until the pane's shell is gone.

        The shell's command line names the demo's folder, and ``kill-server`` returns before
        the shell has died: without the wait, the check for processes left behind found it.
        """
        panes = subprocess.run(
            ["tmux", "-L", self.socket, "list-panes", "-a", "-F", "#{pane_pid}"],
            check=False, capture_output=True, text=True,
        ).stdout.split()  # fmt: skip
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], check=False)
        shells = []
        for pid in panes:
            try:
                shells.append(psutil.Process(int(pid)))
            except psutil.NoSuchProcess:
                continue
        _, alive = psutil.wait_procs(shells, timeout=10)
        for shell in alive:
            shell.kill()
        psutil.wait_procs(alive, timeout=10)


class PtyScreen:
    """The demo on a pseudo-terminal; a frame is the text since rich's last heading."""

    def __init__(self, command: list[str]) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        self._process = subprocess.Popen(  # noqa: S603
            command, stdin=slave, stdout=slave, stderr=slave, start_new_session=True, env=env
        )
        os.close(slave)
        self._master = master
        self._output: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self._master, 65536)
            except OSError:
                return
            if not data:
                return
            self._output.append(data.decode("utf-8", "replace"))

    def history(self) -> str:
        return ANSI.sub("", "".join(self._output))

    def frame(self) -> str:
        text = self.history()
        start = text.rfind("Prestacop demo —")
        return text[start:] if start >= 0 else text[-20_000:]

    def interrupt(self) -> None:
        self._process.send_signal(signal.SIGINT)

    def exit_code(self) -> int | None:
        return self._process.poll()

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._reader.join(timeout=10)
        os.close(self._master)


def _missing(frame: str) -> list[str]:
    return [name for name, shape in LIVE_ROWS.items() if not re.search(shape, frame)]


def test_the_live_view_shows_every_service_working_keeps_running_and_ends_with_the_summary(
    tmp_path: Path,
) -> None:
    workdir = tmp_path / "demo-run"
    devkit = Path(sys.executable).with_name("prestacop-devkit")
    command = [
        str(devkit), "demo", "--duration-s", str(DURATION_S), "--rows", "20000",
        "--keep-running", "--workdir", str(workdir),
    ]  # fmt: skip
    screen = TmuxScreen(command) if shutil.which("tmux") else PtyScreen(command)
    try:
        deadline = time.monotonic() + 600
        frame = ""
        while time.monotonic() < deadline and screen.exit_code() is None:
            frame = screen.frame()
            if not _missing(frame):
                break
            time.sleep(2)
        assert not _missing(frame), f"missing {_missing(frame)} in:\n{frame}"
        assert "running until Ctrl-C" in frame
        (test_artifacts := Path("test-artifacts")).mkdir(exist_ok=True)
        (test_artifacts / "demo-live-view.txt").write_text(frame, encoding="utf-8")

        screen.interrupt()
        while time.monotonic() < deadline and screen.exit_code() is None:
            time.sleep(2)
        history = screen.history()
        assert screen.exit_code() == 0, history[-6000:]
    finally:
        screen.close()
    assert "demo: Ctrl-C: ending the run" in history
    summary = (workdir / "summary.txt").read_text(encoding="utf-8")
    assert summary.strip() in re.sub(r"[ \t]+\n", "\n", history)
    counts = summary_counts(summary)
    assert set(counts) == set(SUMMARY_COUNTS), summary
    assert all(n > 0 for numbers in counts.values() for n in numbers), summary
    assert_every_service_logged(workdir)
    assert_nothing_left_running(workdir)

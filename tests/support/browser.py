"""A real headless Chromium driven over the DevTools protocol, for tests of the web pages.

Debian's ``chromium`` with ``--remote-debugging-port=0`` (it writes the port it took into
``DevToolsActivePort`` in its profile folder); each :class:`Page` is one tab over its own
WebSocket (the ``websockets`` package, already installed with uvicorn). Just enough of the
protocol for tests: navigate, evaluate JavaScript, wait for a condition, click at a point, type,
take a screenshot. No network but what the page asks for (the app under test on the loopback).
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium")


def find_chromium() -> str | None:
    """The path of a Chromium binary, or ``None``."""
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


class BrowserError(RuntimeError):
    """The browser or the page failed (a JavaScript exception, a protocol error, a timeout)."""


class Page:
    """One tab: a DevTools session over its WebSocket."""

    def __init__(self, websocket_url: str) -> None:
        self._stack = ExitStack()
        self._socket: ClientConnection = self._stack.enter_context(
            connect(websocket_url, max_size=64 * 2**20)
        )
        self._ids = itertools.count(1)
        self.call("Runtime.enable")
        self.call("Page.enable")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command and return its result (events in between are dropped)."""
        message_id = next(self._ids)
        self._socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self._socket.recv(timeout=60))
            if reply.get("id") != message_id:
                continue
            if "error" in reply:
                raise BrowserError(f"{method}: {reply['error']}")
            result: dict[str, Any] = reply.get("result", {})
            return result

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises awaited), as JSON."""
        result = self.call(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise BrowserError(f"{expression!r}: {details.get('exception', details)}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float = 10.0) -> Any:
        """Evaluate ``expression`` until it is truthy; return its value.

        Raises:
            BrowserError: still falsy after ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"not true after {timeout_s} s: {expression}")
            time.sleep(0.05)

    def navigate(self, url: str) -> None:
        """Load ``url`` and wait for its document to be complete."""
        self.call("Page.navigate", url=url)
        self.wait_for(
            f"location.href === {json.dumps(url)} && document.readyState === 'complete'", 60
        )

    def click_at(self, x: float, y: float) -> None:
        """A real left click at viewport coordinates (press and release)."""
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def click(self, selector: str) -> None:
        """Scroll the element into view and click its centre like a user."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " if (!e) return null; e.scrollIntoView({block: 'center'});"
            " const r = e.getBoundingClientRect();"
            " return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()"
        )
        if box is None:
            raise BrowserError(f"nothing matches {selector}")
        self.click_at(box["x"], box["y"])

    def type_into(self, selector: str, text: str) -> None:
        """Focus a field, clear it and type ``text`` into it like a keyboard would."""
        self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.focus(); e.select && e.select(); })()"
        )
        self.call("Input.insertText", text=text)

    def screenshot(self, path: Path) -> Path:
        """Save the whole page as a PNG."""
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data["data"]))
        return path

    def close(self) -> None:
        """Close the session's WebSocket."""
        self._stack.close()


class Browser:
    """One headless Chromium process with its own throwaway profile."""

    def __init__(self, profile_dir: Path, *, width: int = 1400, height: int = 1000) -> None:
        chromium = find_chromium()
        if chromium is None:
            raise BrowserError("no Chromium binary found (install Debian's chromium)")
        profile_dir.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [
                chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--remote-debugging-port=0", "--remote-allow-origins=*",
                f"--user-data-dir={profile_dir}", f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self._pages: list[Page] = []
        port_file = profile_dir / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise BrowserError("Chromium did not open its DevTools port")
            time.sleep(0.1)
        self.endpoint = f"http://127.0.0.1:{port_file.read_text().split()[0]}"

    def new_page(self, url: str = "about:blank") -> Page:
        """Open a tab on ``url`` (waits until its document is complete)."""
        target = httpx.put(f"{self.endpoint}/json/new?about:blank", timeout=30).json()
        page = Page(target["webSocketDebuggerUrl"])
        self._pages.append(page)
        if url != "about:blank":
            page.navigate(url)
        return page

    def close(self) -> None:
        """Close every tab's session and stop the browser."""
        for page in self._pages:
            page.close()
        self._process.terminate()
        try:
            self._process.wait(20)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(20)

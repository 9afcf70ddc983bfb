"""The operator console at ``/console``: a page over the operator API, live through SSE.

The page (``console/`` static files, plain JS + SVG) keeps the operator's bearer token in the
tab's ``sessionStorage`` and sends it as an ``Authorization`` header to the API. ``EventSource``
cannot send headers, so the live stream is opened with a cookie instead: ``POST
/console/session`` with the bearer token (operator or read-only) sets an opaque random session id
(``HttpOnly``, ``SameSite=Strict``, path ``/console``, ``Secure`` behind https) that is valid for
``MAILER_CONSOLE_SESSION_S`` and names no token. ``GET /console/events`` streams, for that long,
one ``alert`` event (the alert's API view) per new or resolved alert and ``resync`` when the page
should reload its list (first thing on every connection). The page opens a new session when the
stream ends. No token or session id is ever in a URL or a log line.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import Cookie, Depends, FastAPI, HTTPException, Response, status
from fastapi.responses import FileResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from prestacop_alert_mailer.auth import BearerTokens
from prestacop_alert_mailer.live import RESYNC, LiveFeed
from prestacop_alert_mailer.store import AlertStore, StoredAlert
from prestacop_shared.violation_codes import load_violation_codes

CONSOLE_DIR = Path(str(resources.files("prestacop_alert_mailer").joinpath("console")))
SESSION_COOKIE: Final = "prestacop_console"
KEEPALIVE_S: Final = 15.0
RECONNECT_MS: Final = 1000


class ConsoleSessions:
    """Opaque, expiring ids of console sessions, in memory (thread-safe).

    Example:
        >>> sessions = ConsoleSessions(ttl_s=60)
        >>> session = sessions.open()
        >>> sessions.remaining_s(session) > 0, sessions.remaining_s("forged")
        (True, 0.0)
    """

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = {}

    def open(self) -> str:
        """A new session id (and forget the expired ones)."""
        now = self._clock()
        session = secrets.token_urlsafe(32)
        with self._lock:
            self._expiry = {key: end for key, end in self._expiry.items() if end > now}
            self._expiry[session] = now + self.ttl_s
        return session

    def remaining_s(self, session: str | None) -> float:
        """Seconds the session is still valid for (0 when unknown or expired)."""
        if not session:
            return 0.0
        with self._lock:
            end = self._expiry.get(session, 0.0)
        return max(0.0, end - self._clock())

    def close(self, session: str | None) -> None:
        """End a session now."""
        with self._lock:
            self._expiry.pop(session or "", None)


class ViolationCodeView(BaseModel):
    """One DOF code as the console's picker shows it."""

    code: int
    definition: str
    long_definition: str | None
    fine_manhattan_usd: int
    fine_elsewhere_usd: int


class SessionView(BaseModel):
    """The console session just opened (its id is only in the cookie)."""

    expires_in_s: float


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def add_console(
    app: FastAPI,
    *,
    store: AlertStore,
    feed: LiveFeed,
    sessions: ConsoleSessions,
    require_reader: BearerTokens,
    view: Callable[[StoredAlert], BaseModel],
    secure_cookie: bool,
) -> None:
    """Add the console's page, static files, code table, session and event stream to ``app``."""

    @app.get("/console", include_in_schema=False)
    def console_page() -> FileResponse:
        return FileResponse(
            CONSOLE_DIR / "console.html",
            media_type="text/html",
            headers={"Cache-Control": "no-store"},
        )

    app.mount("/console/static", StaticFiles(directory=CONSOLE_DIR), name="console-static")

    @app.get("/console/violation-codes", response_model=list[ViolationCodeView], tags=["console"])
    def violation_codes() -> list[ViolationCodeView]:
        """The DOF violation-code table (public data): codes, definitions, fines."""
        return [ViolationCodeView(**code.model_dump()) for code in load_violation_codes().values()]

    @app.post(
        "/console/session",
        response_model=SessionView,
        dependencies=[Depends(require_reader)],
        responses={401: {"description": "missing or invalid bearer token"}},
        tags=["console"],
    )
    def open_session(response: Response) -> SessionView:
        """Open a console session for the event stream: sets its cookie, returns its lifetime."""
        response.set_cookie(
            SESSION_COOKIE,
            sessions.open(),
            max_age=int(sessions.ttl_s),
            path="/console",
            secure=secure_cookie,
            httponly=True,
            samesite="strict",
        )
        return SessionView(expires_in_s=sessions.ttl_s)

    @app.delete("/console/session", status_code=status.HTTP_204_NO_CONTENT, tags=["console"])
    def close_session(
        session: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None,
    ) -> Response:
        """Sign out: the session ends and its cookie is cleared."""
        sessions.close(session)
        response = Response(status_code=status.HTTP_204_NO_CONTENT)
        response.delete_cookie(SESSION_COOKIE, path="/console", secure=secure_cookie, httponly=True)
        return response

    @app.get(
        "/console/events",
        responses={401: {"description": "no valid console session (POST /console/session)"}},
        tags=["console"],
    )
    async def events(
        session: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None,
    ) -> StreamingResponse:
        """Server-Sent Events: ``resync``, then one ``alert`` per new or resolved alert."""
        remaining_s = sessions.remaining_s(session)
        if remaining_s <= 0:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "no valid console session")
        return StreamingResponse(
            _stream(store, feed, view, time.monotonic() + remaining_s),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )


async def _stream(
    store: AlertStore,
    feed: LiveFeed,
    view: Callable[[StoredAlert], BaseModel],
    ends_at: float,
) -> AsyncIterator[str]:
    subscription = feed.subscribe()
    try:
        yield f"retry: {RECONNECT_MS}\n" + _sse("resync", {})
        while (left_s := ends_at - time.monotonic()) > 0:
            try:
                alert_id = await asyncio.wait_for(subscription.next(), min(KEEPALIVE_S, left_s))
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            if alert_id is None:
                return
            if alert_id == RESYNC:
                yield _sse("resync", {})
                continue
            stored = await run_in_threadpool(store.get, alert_id)
            if stored is not None:
                yield _sse("alert", view(stored).model_dump(mode="json"))
    finally:
        feed.unsubscribe(subscription)

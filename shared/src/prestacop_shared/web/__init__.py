"""What the project's web pages share: the NYC borough map and the pages' security headers.

The map is one script, ``nyc_map.js`` (plain JS, no dependency): it projects longitude/latitude
to SVG coordinates, draws the five boroughs from the shipped boundaries
(:func:`prestacop_shared.boroughs.geojson_text`) and puts points or cells on them. Both the
operator console (alert-mailer) and the analytics dashboard serve it with :func:`mount_nyc_map`,
so nothing is fetched from the internet. Needs FastAPI (both web services have it).

Example:
    >>> from fastapi import FastAPI
    >>> app = FastAPI()
    >>> mount_nyc_map(app)
    >>> sorted(route.path for route in app.routes if route.path.startswith(MAP_PREFIX))
    ['/map/nyc_boroughs.geojson', '/map/nyc_map.js']
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Final

from fastapi import FastAPI
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prestacop_shared.boroughs import geojson_text

MAP_PREFIX: Final = "/map"
"""Where :func:`mount_nyc_map` serves ``nyc_map.js`` and ``nyc_boroughs.geojson``."""

CONTENT_SECURITY_POLICY: Final = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
"""Sent with every response of a web page's app: the page may run only the app's own script and
style, fetch only from the app (``EventSource`` included), and not be framed."""

_CACHE = {"Cache-Control": "public, max-age=3600"}


@cache
def _map_script() -> str:
    return resources.files("prestacop_shared").joinpath("web", "nyc_map.js").read_text("utf-8")


def mount_nyc_map(app: FastAPI, prefix: str = MAP_PREFIX) -> None:
    """Serve the map script and the borough boundaries under ``prefix`` (no auth: public data)."""

    @app.get(f"{prefix}/nyc_map.js", include_in_schema=False)
    def nyc_map_script() -> Response:
        return Response(_map_script(), media_type="text/javascript", headers=_CACHE)

    @app.get(f"{prefix}/nyc_boroughs.geojson", include_in_schema=False)
    def nyc_boroughs() -> Response:
        return Response(geojson_text(), media_type="application/geo+json", headers=_CACHE)


class SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` to every HTTP response.

    Pure ASGI (not ``BaseHTTPMiddleware``), so streamed responses such as Server-Sent Events
    pass through unbuffered. Use ``app.add_middleware(SecurityHeaders)``, or
    ``app.add_middleware(SecurityHeaders, paths=("/console",))`` to cover only the paths under
    those prefixes (e.g. to leave FastAPI's ``/docs`` page, which loads its assets from a CDN).
    """

    def __init__(self, app: ASGIApp, paths: tuple[str, ...] = ("/",)) -> None:
        self._app = app
        self._paths = paths
        self._headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(self._paths):
            await self._app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in self._headers}
                kept = [(n, v) for n, v in message.get("headers", []) if n.lower() not in names]
                message["headers"] = [*kept, *self._headers]
            await send(message)

        await self._app(scope, receive, send_with_headers)

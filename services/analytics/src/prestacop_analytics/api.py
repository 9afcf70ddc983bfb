"""The HTTP API: published reports, their tables, triggered runs, health, metrics, dashboard.

Report ids and table names from the URL are matched against their patterns, then looked up in
the report's manifest, then resolved and required to lie inside the reports folder, so no path
outside it can be reached (``..``, encoded slashes, absolute paths).

Without ``ANALYTICS_API_TOKEN`` the app is read-only: every read works and ``POST /api/runs``
answers 403 saying why. Every response carries :data:`prestacop_shared.web.SECURITY_HEADERS`: the
page may run only the app's own script and style, fetch only from the app, and not be framed. The
borough map (script and boundaries) is the shared one, under ``/map``.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from prestacop_analytics.config import AnalyticsSettings
from prestacop_analytics.exceptions import (
    InvalidNameError,
    ReportNotFoundError,
    RunInProgressError,
)
from prestacop_analytics.runner import ReportRunner
from prestacop_analytics.store import ReportStore
from prestacop_shared.fleet import BOROUGH_BOUNDS, NYC_BOUNDS
from prestacop_shared.web import SECURITY_HEADERS, mount_nyc_map

STATIC_DIR = Path(str(resources.files("prestacop_analytics").joinpath("static")))

_bearer = HTTPBearer(auto_error=False)

READ_ONLY_DETAIL = (
    "this dashboard is read-only: no ANALYTICS_API_TOKEN (or ANALYTICS_API_TOKEN_FILE) is "
    "configured, so runs cannot be triggered; set one and restart to enable POST /api/runs"
)


def create_app(settings: AnalyticsSettings, runner: ReportRunner) -> FastAPI:
    """Build the API over ``settings.reports_dir``; ``runner`` performs triggered runs.

    Without ``settings.API_TOKEN`` the app is read-only: ``POST /api/runs`` answers 403.
    """
    token = settings.API_TOKEN.get_secret_value() if settings.API_TOKEN is not None else None
    store = ReportStore(settings.reports_dir)
    app = FastAPI(title="Prestacop analytics", version="1")

    @app.middleware("http")
    async def _security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.exception_handler(ReportNotFoundError)
    async def _not_found(_request: Request, error: ReportNotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=status.HTTP_404_NOT_FOUND)

    @app.exception_handler(InvalidNameError)
    async def _invalid(_request: Request, error: InvalidNameError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=422)

    def require_token(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        if token is None:
            raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail=READ_ONLY_DETAIL)
        if credentials is None or not secrets.compare_digest(
            credentials.credentials.encode(), token.encode()
        ):
            raise HTTPException(
                status_code=status.HTTP_401_UNAUTHORIZED,
                detail="a valid bearer token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {
            "status": "ok",
            "reports": len(store.run_ids()),
            "runs_enabled": token is not None,
            "run": runner.state.as_dict(),
        }

    @app.get("/metrics")
    def metrics() -> Response:
        runner.metrics.reports.set(len(store.run_ids()))
        return Response(generate_latest(runner.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/reports")
    def list_reports() -> dict[str, Any]:
        ids = list(reversed(store.run_ids()))
        return {"reports": [{"run_id": run_id, "url": f"/api/reports/{run_id}"} for run_id in ids]}

    @app.get("/api/reports/latest")
    def latest_report() -> dict[str, Any]:
        return store.manifest(store.latest_run_id())

    @app.get("/api/reports/{run_id}")
    def report(run_id: str) -> dict[str, Any]:
        return store.manifest(run_id)

    @app.get("/api/reports/{run_id}/tables/{table}")
    def table(
        run_id: str, table: str, format: Annotated[Literal["json", "csv"], Query()] = "json"
    ) -> FileResponse:
        path = store.table_path(run_id, table, format)
        media = "application/json" if format == "json" else "text/csv; charset=utf-8"
        return FileResponse(path, media_type=media)

    @app.post(
        "/api/runs", status_code=status.HTTP_202_ACCEPTED, dependencies=[Depends(require_token)]
    )
    def trigger_run() -> dict[str, Any]:
        try:
            runner.start()
        except RunInProgressError as error:
            raise HTTPException(status_code=status.HTTP_409_CONFLICT, detail=str(error)) from None
        return {
            "status": "started",
            "run": runner.state.as_dict(),
            "status_url": "/api/runs/current",
        }

    @app.get("/api/runs/current")
    def current_run() -> dict[str, Any]:
        return runner.state.as_dict()

    @app.get("/api/geography")
    def geography() -> dict[str, Any]:
        return {
            "nyc": NYC_BOUNDS._asdict(),
            "boroughs": {name: box._asdict() for name, box in BOROUGH_BOUNDS.items()},
        }

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    mount_nyc_map(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app

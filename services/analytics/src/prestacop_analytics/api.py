"""The HTTP API: published reports, their tables, triggered runs, health, metrics, dashboard.

Report ids and table names from the URL are matched against their patterns, then looked up in
the report's manifest, then resolved and required to lie inside the reports folder, so no path
outside it can be reached (``..``, encoded slashes, absolute paths).
"""

from __future__ import annotations

import secrets
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
from prestacop_shared.exceptions import ConfigError
from prestacop_shared.fleet import BOROUGH_BOUNDS, NYC_BOUNDS

STATIC_DIR = Path(str(resources.files("prestacop_analytics").joinpath("static")))

_bearer = HTTPBearer(auto_error=False)


def create_app(settings: AnalyticsSettings, runner: ReportRunner) -> FastAPI:
    """Build the API over ``settings.reports_dir``; ``runner`` performs triggered runs.

    Raises:
        ConfigError: no API token is configured (the trigger endpoint would be open).
    """
    if settings.API_TOKEN is None:
        raise ConfigError(
            "ANALYTICS_API_TOKEN (or ANALYTICS_API_TOKEN_FILE) must be set to serve the API"
        )
    token = settings.API_TOKEN.get_secret_value()
    store = ReportStore(settings.reports_dir)
    app = FastAPI(title="Prestacop analytics", version="1")

    @app.exception_handler(ReportNotFoundError)
    async def _not_found(_request: Request, error: ReportNotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=status.HTTP_404_NOT_FOUND)

    @app.exception_handler(InvalidNameError)
    async def _invalid(_request: Request, error: InvalidNameError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=422)

    def require_token(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
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
        return {"status": "ok", "reports": len(store.run_ids()), "run": runner.state.as_dict()}

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

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app

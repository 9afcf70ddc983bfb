"""Entrypoint of prestacop-analytics: ``run`` one report, or ``serve`` the API and dashboard.

Configuration comes from the environment: ``ANALYTICS_*`` (see :mod:`prestacop_analytics.config`)
and ``SPARK_*`` (:class:`prestacop_shared.spark.SparkSettings`).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType
from typing import Annotated

import typer
import uvicorn

from prestacop_analytics.api import create_app
from prestacop_analytics.config import AnalyticsSettings
from prestacop_analytics.exceptions import AnalyticsError
from prestacop_analytics.report import SPARK_CONFIG
from prestacop_analytics.runner import ReportRunner
from prestacop_shared.config import load_settings
from prestacop_shared.exceptions import PrestacopError
from prestacop_shared.logs import configure_logging
from prestacop_shared.spark import SparkSettings, build_spark_session

log = logging.getLogger(__name__)

cli = typer.Typer(help="Prestacop analytics: Spark reports over the stored data, and their API.")

APP_NAME = "prestacop-analytics"


def _runner(settings: AnalyticsSettings) -> ReportRunner:
    spark_settings = load_settings(SparkSettings)
    return ReportRunner(
        settings,
        lambda: build_spark_session(APP_NAME, spark_settings, extra_config=SPARK_CONFIG),
    )


@cli.command()
def run(
    full: Annotated[
        bool, typer.Option("--full", help="Recount every committed file from an empty state")
    ] = False,
) -> None:
    """Count the files committed since the last run and publish the report (path: last line)."""
    settings = load_settings(AnalyticsSettings)
    configure_logging(settings.LOG_LEVEL)
    runner = _runner(settings)
    try:
        result = runner.run_now(full=full)
    finally:
        runner.stop()
    manifest = result.manifest
    typer.echo(
        f"{manifest['mode']} run, new files: {sum(manifest['new_files'].values())}, "
        f"tables: {len(manifest['tables'])}, seconds: {manifest['total_seconds']}"
    )
    typer.echo(str(result.folder.resolve()))


@cli.command()
def serve() -> None:
    """Serve the reports API and dashboard; POST /api/runs triggers a run on a warm session.

    Without ``ANALYTICS_API_TOKEN`` the dashboard is served read-only and Spark is never started.
    """
    settings = load_settings(AnalyticsSettings)
    configure_logging(settings.LOG_LEVEL)
    runner = _runner(settings)
    app = create_app(settings, runner)
    if settings.API_TOKEN is None:
        log.warning(
            "no ANALYTICS_API_TOKEN (or ANALYTICS_API_TOKEN_FILE): serving read-only, "
            "POST /api/runs answers 403"
        )
    else:
        threading.Thread(target=runner.session, name="spark-warm-up", daemon=True).start()
    server = uvicorn.Server(
        uvicorn.Config(app, host=settings.HTTP_HOST, port=settings.HTTP_PORT, log_config=None)
    )

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        server.should_exit = True

    # uvicorn handles SIGINT/SIGTERM while serving (stops accepting, finishes requests), then
    # re-raises the signal to the handler installed before it: this one, so that the Spark
    # session is stopped and the process exits 0.
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, request_stop)
    log.info("serving", extra={"host": settings.HTTP_HOST, "port": settings.HTTP_PORT})
    try:
        server.run()
    finally:
        runner.stop()
    log.info("stopped")


def main() -> None:
    """Console script ``prestacop-analytics``."""
    try:
        cli()
    except (PrestacopError, AnalyticsError) as error:
        sys.stderr.write(f"prestacop-analytics: {error}\n")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()

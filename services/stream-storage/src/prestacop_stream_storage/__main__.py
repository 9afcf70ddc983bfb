"""Entrypoint of prestacop-stream-storage: Kafka topics → CSV datasets, exactly once.

Settings come from the environment (``STORAGE_``, ``SPARK_``, ``KAFKA_``); see
:mod:`prestacop_stream_storage.config`. Exit status: 0 when done or stopped by SIGTERM/SIGINT,
1 when a query failed, 2 on a configuration problem.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from prestacop_shared.config import load_settings
from prestacop_shared.exceptions import ConfigError, PrestacopError
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.logs import configure_logging
from prestacop_shared.spark import SparkSettings
from prestacop_stream_storage.config import Settings
from prestacop_stream_storage.exceptions import StreamStorageError

logger = logging.getLogger("prestacop_stream_storage")

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, help=__doc__)


@app.command()
def store(
    available_now: Annotated[
        bool,
        typer.Option(
            "--available-now",
            help="Store what the topics hold now, then stop (batch-style runs, tests, demo).",
        ),
    ] = False,
    datasets: Annotated[
        str | None,
        typer.Option(
            "--datasets",
            help="Comma-separated subset of status, violations, alerts, alert_resolutions, "
            "tickets (default: STORAGE_DATASETS, 'all').",
        ),
    ] = None,
) -> None:
    """Store Kafka topics as CSV datasets partitioned by date, exactly once."""
    overrides = {"datasets": datasets} if datasets is not None else {}
    try:
        settings = load_settings(Settings, **overrides)
        spark_settings = load_settings(SparkSettings)
        kafka = load_settings(KafkaSettings)
    except ConfigError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level)

    from prestacop_stream_storage.service import run, session

    try:
        spark = session(spark_settings, settings)
    except PrestacopError as error:
        logger.error("cannot start Spark", extra={"error": str(error)})
        raise typer.Exit(2) from None
    try:
        run(spark, settings, kafka, available_now=available_now, handle_signals=True)
    except StreamStorageError as error:
        logger.error("stream-storage stopped", extra={"error": str(error)})
        raise typer.Exit(1) from None
    finally:
        spark.stop()
    logger.info("stream-storage stopped cleanly")


def main() -> None:
    """Run the command line."""
    app()


if __name__ == "__main__":
    main()

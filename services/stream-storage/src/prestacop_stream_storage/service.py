"""Stream-storage as one call: settings in, queries run, stopped cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from pyspark.sql import SparkSession

from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.spark import SparkSettings, build_spark_session
from prestacop_stream_storage.config import Settings
from prestacop_stream_storage.queries import start_queries
from prestacop_stream_storage.runner import QueryRunner

logger = logging.getLogger(__name__)

APP_NAME = "prestacop-stream-storage"


def session(spark_settings: SparkSettings) -> SparkSession:
    """The Spark session stream-storage runs in (reused if one is already active)."""
    return build_spark_session(APP_NAME, spark_settings)


def run(
    spark: SparkSession,
    settings: Settings,
    kafka: KafkaSettings,
    *,
    available_now: bool,
    handle_signals: bool = False,
    stop_requested: threading.Event | None = None,
) -> None:
    """Store the chosen datasets until done (``available_now``) or asked to stop.

    Args:
        spark: the session to run in.
        settings: stream-storage settings.
        kafka: broker and topic namespace.
        available_now: store what the topics hold now, then return.
        handle_signals: make SIGTERM and SIGINT ask for a stop (main thread only).
        stop_requested: an event another thread may set to ask for a stop.

    Raises:
        CheckpointMismatchError: a checkpoint does not belong to its output folder.
        QueryFailedError: a query failed (the others were stopped).
    """
    queries = start_queries(spark, settings, kafka, available_now=available_now)
    runner = QueryRunner(queries, stop_timeout_s=settings.stop_timeout_s)
    if stop_requested is not None:
        runner.stop_requested = stop_requested
    if handle_signals:

        def ask_to_stop(signum: int, _frame: FrameType | None) -> None:
            logger.info("signal received", extra={"signal": signal.Signals(signum).name})
            runner.stop_requested.set()

        signal.signal(signal.SIGTERM, ask_to_stop)
        signal.signal(signal.SIGINT, ask_to_stop)
    logger.info(
        "storing",
        extra={
            "datasets": list(settings.dataset_names),
            "data_dir": str(settings.data_dir),
            "checkpoint_dir": str(settings.checkpoint_root),
            "available_now": available_now,
        },
    )
    runner.run()

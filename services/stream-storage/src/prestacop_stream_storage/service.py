"""Stream-storage as one call: settings in, queries run, stopped cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from pyspark.sql import SparkSession

from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.service_http import HttpServerError, serve
from prestacop_shared.spark import SparkSettings, build_spark_session
from prestacop_stream_storage.config import Settings
from prestacop_stream_storage.datasets import DATASETS
from prestacop_stream_storage.exceptions import HttpUnavailableError
from prestacop_stream_storage.metrics import StorageMetrics
from prestacop_stream_storage.queries import query_checkpoints, start_queries
from prestacop_stream_storage.runner import QueryRunner
from prestacop_stream_storage.sources import ensure_source_topics, report_backlog
from prestacop_stream_storage.transform import register_functions

logger = logging.getLogger(__name__)

APP_NAME = "prestacop-stream-storage"


def session(spark_settings: SparkSettings, settings: Settings | None = None) -> SparkSession:
    """The Spark session stream-storage runs in (reused if one is already active).

    Each write task keeps up to ``STORAGE_OPEN_FILES_PER_TASK`` partition files open instead of
    sorting its rows by date first (Spark falls back to sorting beyond that many dates).
    stream-storage's Java functions are registered at once, so a missing jar stops the start.

    Raises:
        FunctionsJarMissingError: Spark cannot load stream-storage's Java functions.
    """
    open_files = (settings or Settings()).open_files_per_task
    spark = build_spark_session(
        APP_NAME,
        spark_settings,
        extra_config={"spark.sql.maxConcurrentOutputFileWriters": str(open_files)},
    )
    register_functions(spark)
    return spark


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

    Before the queries start, the chosen datasets' missing topics are created (or waited for)
    and each query's backlog is logged (:mod:`prestacop_stream_storage.sources`). With
    ``STORAGE_HTTP_PORT`` set, ``/healthz`` and ``/metrics`` are served meanwhile
    (:mod:`prestacop_stream_storage.metrics`).

    Raises:
        HttpUnavailableError: ``STORAGE_HTTP_PORT`` cannot be bound.
        KafkaUnavailableError: the broker did not answer while preparing the topics.
        CheckpointMismatchError: a checkpoint does not belong to its output folder.
        QueryFailedError: a query failed (the others were stopped).
    """
    stop = stop_requested if stop_requested is not None else threading.Event()
    if handle_signals:

        def ask_to_stop(signum: int, _frame: FrameType | None) -> None:
            logger.info("signal received", extra={"signal": signal.Signals(signum).name})
            stop.set()

        signal.signal(signal.SIGTERM, ask_to_stop)
        signal.signal(signal.SIGINT, ask_to_stop)
    metrics = StorageMetrics(stalled_after_s=settings.stalled_after_s)
    try:
        server = serve(
            metrics.registry,
            metrics.progress.health,
            host=settings.http_host,
            port=settings.http_port,
            port_setting="STORAGE_HTTP_PORT",
        )
    except HttpServerError as error:
        raise HttpUnavailableError(str(error)) from error
    try:
        _store(spark, settings, kafka, available_now=available_now, stop=stop, metrics=metrics)
    finally:
        if server is not None:
            server.stop()


def _store(
    spark: SparkSession,
    settings: Settings,
    kafka: KafkaSettings,
    *,
    available_now: bool,
    stop: threading.Event,
    metrics: StorageMetrics,
) -> None:
    chosen = [DATASETS[name] for name in settings.dataset_names]
    if not ensure_source_topics(kafka, chosen, stop_requested=stop):
        logger.info("stopped while waiting for topics")
        return
    report_backlog(kafka, query_checkpoints(settings, kafka), metrics)
    queries = start_queries(spark, settings, kafka, available_now=available_now)
    runner = QueryRunner(
        queries,
        stop_timeout_s=settings.stop_timeout_s,
        progress=metrics.progress,
    )
    runner.stop_requested = stop
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

"""The Kafka side of stream-storage's start: make sure its topics exist, say how far behind it is.

Topics: a query on a topic that does not exist fails in Spark (``UnknownTopicOrPartition``), so
before starting, stream-storage creates the missing topics of the datasets it stores, from the
catalogue (:func:`prestacop_shared.topics.service_topic_plan`, as kafka-init would). Where it
may not create them (no permission), it waits for them, warning every ``wait_warn_s`` which
ones are missing, until they appear or a stop is asked for.

Backlog: per query and topic, how many offsets it has still to read (the partition's end minus
the checkpoint's last committed offset) and how many expired unread (the partition's log start
is past that offset: retention deleted them before they were stored). Both are logged at start
and exported as Prometheus gauges. Offsets count transaction markers too, so for the
transactional tickets topic the backlog is an upper bound on records.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from prestacop_shared import topics
from prestacop_shared.datasets import Dataset
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.topic_admin import TopicCreationError, ensure_topics
from prestacop_stream_storage.exceptions import KafkaUnavailableError
from prestacop_stream_storage.metrics import StorageMetrics
from prestacop_stream_storage.progress import committed_end_offsets

logger = logging.getLogger(__name__)


def ensure_source_topics(
    kafka: KafkaSettings,
    datasets: Iterable[Dataset],
    *,
    stop_requested: threading.Event,
    timeout_s: float = 30.0,
    wait_warn_s: float = 30.0,
) -> bool:
    """Create the missing topics of ``datasets``, or wait for them if they cannot be created.

    Returns:
        ``True`` once every topic exists, ``False`` if a stop was asked for while waiting.

    Raises:
        KafkaUnavailableError: the broker did not answer within ``timeout_s``.
    """
    names = [dataset.topic for dataset in datasets]
    plan = topics.service_topic_plan(names, prefix=kafka.topic_prefix)
    admin = AdminClient(kafka.common_config())
    try:
        created = ensure_topics(admin, plan, timeout_s)
    except TopicCreationError as error:
        logger.warning(
            "cannot create missing topics; waiting for them", extra={"error": str(error)}
        )
    except KafkaException as error:
        raise KafkaUnavailableError(f"Kafka did not answer: {error}") from error
    else:
        if created:
            logger.info("created missing source topics", extra={"topics": created})
        return True
    while True:
        try:
            present = admin.list_topics(timeout=timeout_s).topics
        except KafkaException as error:
            raise KafkaUnavailableError(f"Kafka did not answer: {error}") from error
        missing = [spec.name for spec in plan if spec.name not in present]
        if not missing:
            return True
        logger.warning(
            "waiting for topics to exist before storing", extra={"missing_topics": missing}
        )
        if stop_requested.wait(wait_warn_s):
            return False


@dataclass(frozen=True)
class Backlog:
    """How far one query is behind on one topic, in offsets, when it starts."""

    query: str
    topic: str
    behind: int
    expired: int
    first_run: bool


def _watermarks(kafka: KafkaSettings, topic: str, timeout_s: float) -> dict[int, tuple[int, int]]:
    consumer = Consumer(kafka.consumer_config("prestacop-stream-storage-backlog"))
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s).topics[topic]
        return {
            partition: consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=timeout_s, cached=False
            )
            for partition in metadata.partitions
        }
    finally:
        consumer.close()


def query_backlog(
    query: str, topic: str, checkpoint: Path, marks: dict[int, tuple[int, int]]
) -> Backlog:
    """The backlog of ``query`` given its checkpoint and the topic's (low, high) watermarks.

    Example:
        >>> b = query_backlog("store-x", "x", Path("/nowhere"), {0: (5, 9), 1: (0, 3)})
        >>> b.behind, b.expired, b.first_run
        (7, 0, True)
    """
    committed = committed_end_offsets(checkpoint).get(topic)
    behind = expired = 0
    for partition, (low, high) in marks.items():
        start = low if committed is None else committed.get(partition, 0)
        expired += max(0, low - start)
        behind += max(0, high - max(start, low))
    return Backlog(query, topic, behind, expired, committed is None)


def report_backlog(
    kafka: KafkaSettings,
    queries: Iterable[tuple[str, str, Path]],
    metrics: StorageMetrics,
    timeout_s: float = 30.0,
) -> list[Backlog]:
    """Log and export the backlog of each ``(query name, full topic, checkpoint)``.

    A query that cannot be measured (the broker does not answer) is logged and skipped:
    reporting never stops storage from starting.
    """
    backlogs = []
    for query, topic, checkpoint in queries:
        try:
            marks = _watermarks(kafka, topic, timeout_s)
        except KafkaException as error:
            logger.warning("cannot measure backlog", extra={"query": query, "error": str(error)})
            continue
        backlog = query_backlog(query, topic, checkpoint, marks)
        metrics.backlog_offsets.labels(query, topic).set(backlog.behind)
        metrics.expired_offsets.labels(query, topic).set(backlog.expired)
        context = {
            "query": query,
            "topic": topic,
            "behind_offsets": backlog.behind,
            "expired_offsets": backlog.expired,
            "first_run": backlog.first_run,
        }
        if backlog.expired:
            logger.warning(
                "data expired before it was stored: retention deleted offsets this query had "
                "not read (STORAGE_FAIL_ON_DATA_LOSS=false skips them)",
                extra=context,
            )
        else:
            logger.info("backlog at start", extra=context)
        backlogs.append(backlog)
    return backlogs

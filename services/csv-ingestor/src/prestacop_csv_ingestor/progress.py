"""Where each file stands, kept in Kafka itself (compacted ``nypd.ingest-progress``).

The ingestor writes a :class:`FileProgress` record in the same transaction as the tickets it
describes, so a ``read_committed`` reader of this topic always sees a position that matches what
consumers of ``nypd.tickets`` see: resuming from it gives no gap and no duplicate.
"""

from __future__ import annotations

import logging
from datetime import datetime

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prestacop_csv_ingestor.exceptions import ProgressError
from prestacop_shared import topic_admin, topics
from prestacop_shared.events import utc_now
from prestacop_shared.kafka import KafkaSettings

logger = logging.getLogger(__name__)


class FileProgress(BaseModel):
    """How far one file (identified by its fingerprint) has been ingested."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fingerprint: str
    source_file: str
    size_bytes: int = Field(ge=0)
    byte_offset: int = Field(ge=0, description="Where the next unread record starts")
    next_line: int = Field(ge=1, description="Physical line number at byte_offset")
    lines_read: int = Field(default=0, ge=0)
    sent: int = Field(default=0, ge=0)
    quarantined: dict[str, int] = Field(default_factory=dict)
    done: bool = False
    updated_at: datetime = Field(default_factory=utc_now)


def ensure_topics(kafka: KafkaSettings, timeout_s: float = 30.0) -> None:
    """Create the tickets, DLQ and (compacted) progress topics if absent (catalogue config).

    Raises:
        ProgressError: a topic could not be created.
    """
    plan = topics.service_topic_plan(
        (topics.NYPD_TICKETS, topics.NYPD_TICKETS_DLQ, topics.NYPD_INGEST_PROGRESS),
        prefix=kafka.topic_prefix,
    )
    try:
        topic_admin.ensure_topics(kafka, plan, timeout_s)
    except (KafkaException, topic_admin.TopicCreationError) as error:
        raise ProgressError(str(error)) from error


def load_progress(kafka: KafkaSettings, timeout_s: float = 60.0) -> dict[str, FileProgress]:
    """Read the whole progress topic (``read_committed``) and return the latest record per file.

    Call it after ``init_transactions`` so a killed predecessor's open transaction is already
    aborted and the last stable offset has caught up.

    Raises:
        ProgressError: the topic cannot be read to its end within ``timeout_s``.
    """
    topic = kafka.topic(topics.NYPD_INGEST_PROGRESS)
    consumer = Consumer(
        kafka.consumer_config(
            "prestacop-csv-ingestor-progress-reader",
            enable_partition_eof=True,
            isolation_level="read_committed",
            # The end of the topic is known from an empty fetch: do not wait 500 ms for one.
            fetch_wait_max_ms=20,
        )
    )
    latest: dict[str, FileProgress] = {}
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s).topics[topic]
        if metadata.error is not None:
            raise ProgressError(f"cannot read {topic}: {metadata.error}")
        partitions = [TopicPartition(topic, p, 0) for p in metadata.partitions]
        remaining = {p.partition for p in partitions if not _empty(consumer, p, timeout_s)}
        consumer.assign(partitions)
        deadline = utc_now().timestamp() + timeout_s
        while remaining:
            if utc_now().timestamp() > deadline:
                raise ProgressError(f"{topic} could not be read to its end in {timeout_s} s")
            message = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    remaining.discard(message.partition())
                    continue
                raise ProgressError(f"reading {topic}: {error}")
            value = message.value()
            if not value:
                continue
            try:
                record = FileProgress.model_validate_json(value)
            except ValidationError as invalid:
                logger.warning(
                    "ignoring a progress record we cannot read",
                    extra={"topic": topic, "offset": message.offset(), "error": str(invalid)},
                )
                continue
            latest[record.fingerprint] = record
    finally:
        consumer.close()
    return latest


def _empty(consumer: Consumer, partition: TopicPartition, timeout_s: float) -> bool:
    """Whether the partition holds no record at all (then there is nothing to wait for)."""
    try:
        offsets = consumer.get_watermark_offsets(partition, timeout=timeout_s)
    except KafkaException:
        return False  # read it the slow way; errors show up there
    return offsets is not None and offsets[1] <= offsets[0]

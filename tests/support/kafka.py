"""Small Kafka helpers for tests: create topics, produce, read everything back."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from prestacop_shared import topics
from prestacop_shared.events import Violation
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.serde import decode
from prestacop_shared.topic_admin import ensure_topics


@dataclass(frozen=True)
class Record:
    """One consumed message."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def create_topics(
    settings: KafkaSettings,
    names: Iterable[str],
    *,
    partitions: int = 1,
    config: dict[str, str] | None = None,
) -> list[str]:
    """Create topics (names without the settings' prefix); return the full names.

    Catalogue topics are created as :func:`prestacop_shared.topics.topic_plan` says (cleanup
    policy, retention), at ``partitions`` partitions, unless ``config`` is given; other names
    (topics a test makes up) get ``partitions`` and ``config`` only.
    """
    names = list(names)
    if config is None and all(name in topics.CATALOGUE for name in names):
        plan = topics.topic_plan(
            names, prefix=settings.topic_prefix, partitions=partitions, dlq_partitions=partitions
        )
        ensure_topics(settings, plan)
        return [spec.name for spec in plan]
    full = [settings.topic(name) for name in names]
    admin = AdminClient(settings.common_config())
    futures = admin.create_topics(
        [
            NewTopic(t, num_partitions=partitions, replication_factor=1, config=config or {})
            for t in full
        ]
    )
    for topic, future in futures.items():
        try:
            future.result(timeout=30)
        except Exception as error:  # noqa: BLE001
            if "TOPIC_ALREADY_EXISTS" not in str(error):
                raise RuntimeError(f"could not create {topic}: {error}") from error
    return full


def produce(
    settings: KafkaSettings, topic: str, records: Iterable[tuple[bytes | str | None, bytes]]
) -> int:
    """Produce (key, value) pairs to a full topic name and flush; return how many were sent."""
    producer = Producer(settings.producer_config())
    count = 0
    for key, value in records:
        producer.produce(topic, key=key, value=value)
        producer.poll(0)
        count += 1
    remaining = producer.flush(30)
    if remaining:
        raise RuntimeError(f"{remaining} messages not delivered to {topic}")
    return count


def consume_all(
    settings: KafkaSettings,
    topic: str,
    *,
    expected: int | None = None,
    timeout_s: float = 30.0,
    idle_s: float = 3.0,
    read_committed: bool = True,
) -> list[Record]:
    """Read a full topic name from the beginning with a throwaway group.

    Stops when ``expected`` records have arrived (then waits ``idle_s`` more to catch
    duplicates), or after ``idle_s`` without a message once something arrived, or at
    ``timeout_s``.
    """
    consumer = Consumer(
        settings.consumer_config(
            f"test-reader-{time.monotonic_ns()}",
            isolation_level="read_committed" if read_committed else "read_uncommitted",
        )
    )
    consumer.subscribe([topic])
    records: list[Record] = []
    deadline = time.monotonic() + timeout_s
    last_message = time.monotonic()
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            now = time.monotonic()
            if message is None:
                enough = expected is not None and len(records) >= expected
                quiet = now - last_message > idle_s
                if quiet and (enough or (expected is None and records)):
                    break
                continue
            error = message.error()
            if error is not None:
                if error.code() in (KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART):
                    continue
                raise RuntimeError(f"consume error on {topic}: {error}")
            last_message = now
            records.append(
                Record(
                    topic=message.topic(),
                    partition=message.partition(),
                    offset=message.offset(),
                    key=message.key(),
                    value=message.value(),
                )
            )
    finally:
        consumer.close()
    return records


def violations_in_kafka(settings: KafkaSettings, expected: int) -> list[Violation]:
    """The committed violation events (``expected`` of them, or a few seconds of silence)."""
    records = consume_all(
        settings,
        settings.topic(topics.DRONE_VIOLATIONS),
        expected=expected,
        timeout_s=20 if expected else 5,
    )
    return [decode(Violation, record.value) for record in records]

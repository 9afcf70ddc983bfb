"""Create catalogue topics on a cluster (needs the ``kafka`` extra: ``prestacop-shared[kafka]``).

Every place that creates topics (kafka-init, the csv-ingestor, stream-storage, the demo, the
tests) calls :func:`ensure_topics` with specs from :func:`prestacop_shared.topics.topic_plan`,
so a topic looks the same whoever created it first.

Existing topics are left as they are: a partition count that differs from the plan is logged,
never changed, because it would move keys between partitions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from prestacop_shared.exceptions import PrestacopError
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.topics import TopicSpec

logger = logging.getLogger(__name__)


class TopicCreationError(PrestacopError):
    """A topic could not be created (other than because it already exists)."""


def ensure_topics(
    kafka: KafkaSettings | AdminClient, plan: Sequence[TopicSpec], timeout_s: float = 30.0
) -> list[str]:
    """Create the topics of ``plan`` that do not exist; return the names of those created.

    Safe to run concurrently with another creator: a topic created meanwhile counts as present.

    Raises:
        TopicCreationError: the broker refused to create one (the message names it and why).
        KafkaException: the cluster could not be reached within ``timeout_s``.
    """
    admin = kafka if isinstance(kafka, AdminClient) else AdminClient(kafka.common_config())
    existing = admin.list_topics(timeout=timeout_s).topics
    for spec in plan:
        if spec.name in existing and len(existing[spec.name].partitions) != spec.partitions:
            logger.info(
                "topic exists with another partition count; left unchanged",
                extra={
                    "topic": spec.name,
                    "partitions": len(existing[spec.name].partitions),
                    "planned": spec.partitions,
                },
            )
    missing = [spec for spec in plan if spec.name not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [
            NewTopic(
                spec.name,
                num_partitions=spec.partitions,
                replication_factor=spec.replication_factor,
                config=spec.config,
            )
            for spec in missing
        ],
        operation_timeout=timeout_s,
        request_timeout=timeout_s,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout_s)
        except KafkaException as error:
            if error.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            raise TopicCreationError(f"could not create topic {name}: {error}") from error
        logger.info("topic created", extra={"topic": name})
        created.append(name)
    return created


def wait_until_listed(
    admin: AdminClient, names: Sequence[str], timeout_s: float = 30.0, poll_s: float = 0.5
) -> list[str]:
    """Wait until every topic of ``names`` is in the metadata the cluster serves; return the
    names still absent when ``timeout_s`` ran out (empty when all are there).

    A created topic reaches the other brokers' metadata a moment after the controller answered
    the create request: in a three-broker cluster a listing right after :func:`ensure_topics`
    may not show it yet.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        present = admin.list_topics(timeout=max(1.0, min(10.0, timeout_s))).topics
        absent = [name for name in names if name not in present]
        if not absent or time.monotonic() >= deadline:
            return absent
        time.sleep(poll_s)

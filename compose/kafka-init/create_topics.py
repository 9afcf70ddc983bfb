"""Create every Prestacop topic on the compose broker(s), then exit: the ``kafka-init`` one-shot.

The topic list is :data:`prestacop_shared.topics.ALL_TOPICS` (never written here), under
``KAFKA_TOPIC_PREFIX``; the broker comes from ``KAFKA_BOOTSTRAP_SERVERS`` like every service.
Data and state topics get ``--partitions`` partitions (12 by default: up to 12 consumers of a
group can share the load, and ``drone.alerts`` and ``alert-mailer.sent`` stay co-partitioned),
dead-letter topics ``--dlq-partitions``; state topics are compacted (``cleanup.policy=compact``).

Running it again is harmless: existing topics are left as they are (a partition count that
differs from the plan is logged, never changed, because it would move keys between partitions).
Exit code 0 once every topic exists, 1 otherwise.

Usage (compose runs it in the drone image, which holds the shared package and confluent-kafka)::

    python create_topics.py --partitions 12 --replication-factor 1
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from prestacop_shared import topics
from prestacop_shared.config import load_settings
from prestacop_shared.exceptions import ConfigError
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.logs import configure_logging

logger = logging.getLogger("prestacop.kafka_init")


@dataclass(frozen=True)
class TopicSpec:
    """One topic to create: its full name, partitions, replication and configuration."""

    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str] = field(default_factory=dict)


def topic_plan(
    settings: KafkaSettings, *, partitions: int, dlq_partitions: int, replication_factor: int
) -> list[TopicSpec]:
    """Return the topics of :data:`~prestacop_shared.topics.ALL_TOPICS`, as they should be.

    Example:
        >>> plan = topic_plan(KafkaSettings(topic_prefix="demo."), partitions=12,
        ...                   dlq_partitions=3, replication_factor=1)
        >>> [(t.name, t.partitions) for t in plan][:1]
        [('demo.drone.status', 12)]
    """
    common = {"min.insync.replicas": str(min(2, replication_factor))}
    plan: list[TopicSpec] = []
    for name in topics.ALL_TOPICS:
        config = dict(common)
        count = partitions
        if name in topics.COMPACTED_TOPICS:
            config["cleanup.policy"] = "compact"
        elif name in topics.DEAD_LETTER_TOPICS:
            count = dlq_partitions
        plan.append(TopicSpec(settings.topic(name), count, replication_factor, config))
    return plan


def _wait_for_brokers(admin: AdminClient, needed: int, timeout_s: float) -> None:
    """Wait until the cluster answers with at least ``needed`` brokers."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            brokers = len(admin.list_topics(timeout=5).brokers)
        except KafkaException as error:
            brokers, reason = 0, str(error)
        else:
            reason = f"{brokers} broker(s) up, {needed} needed"
        if brokers >= needed:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"Kafka not ready after {timeout_s:.0f} s: {reason}")
        logger.info("waiting for Kafka", extra={"reason": reason})
        time.sleep(2)


def create_topics(admin: AdminClient, plan: Sequence[TopicSpec], timeout_s: float) -> list[str]:
    """Create the missing topics of ``plan``; return the names of topics that do not exist after."""
    existing = admin.list_topics(timeout=10).topics
    missing = [spec for spec in plan if spec.name not in existing]
    for spec in plan:
        if spec.name in existing and len(existing[spec.name].partitions) != spec.partitions:
            logger.warning(
                "topic exists with another partition count; left unchanged",
                extra={
                    "topic": spec.name,
                    "partitions": len(existing[spec.name].partitions),
                    "planned": spec.partitions,
                },
            )
    if missing:
        futures = admin.create_topics(
            [
                NewTopic(s.name, num_partitions=s.partitions,
                         replication_factor=s.replication_factor, config=s.config)
                for s in missing
            ],
            request_timeout=timeout_s,
        )  # fmt: skip
        for name, future in futures.items():
            try:
                future.result(timeout=timeout_s)
                logger.info("topic created", extra={"topic": name})
            except KafkaException as error:
                if error.args[0].name() != "TOPIC_ALREADY_EXISTS":  # created concurrently
                    logger.error("topic not created", extra={"topic": name, "error": str(error)})
    present = admin.list_topics(timeout=10).topics
    return [spec.name for spec in plan if spec.name not in present]


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=12, help="data and state topics")
    parser.add_argument("--dlq-partitions", type=int, default=3, help="dead-letter topics")
    parser.add_argument("--replication-factor", type=int, default=1)
    parser.add_argument("--timeout-s", type=float, default=120.0, help="wait for the brokers")
    args = parser.parse_args(argv)
    if min(args.partitions, args.dlq_partitions, args.replication_factor) < 1:
        parser.error("partition counts and the replication factor must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Create the topics; return the process exit code."""
    args = _parse(argv)
    configure_logging()
    try:
        settings = load_settings(KafkaSettings)
    except ConfigError as error:
        logger.error("bad Kafka configuration", extra={"error": str(error)})
        return 1
    admin = AdminClient(settings.common_config())
    plan = topic_plan(
        settings,
        partitions=args.partitions,
        dlq_partitions=args.dlq_partitions,
        replication_factor=args.replication_factor,
    )
    try:
        _wait_for_brokers(admin, args.replication_factor, args.timeout_s)
        absent = create_topics(admin, plan, args.timeout_s)
    except (TimeoutError, KafkaException) as error:
        logger.error("kafka-init failed", extra={"error": str(error)})
        return 1
    if absent:
        logger.error("topics missing", extra={"topics": absent})
        return 1
    logger.info("all topics present", extra={"topics": [spec.name for spec in plan]})
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Create every Prestacop topic on the compose broker(s), then exit: the ``kafka-init`` one-shot.

The topics, their partitions, retention and cleanup policy come from the catalogue
(:func:`prestacop_shared.topics.topic_plan`, never written here), under ``KAFKA_TOPIC_PREFIX``;
the broker comes from ``KAFKA_BOOTSTRAP_SERVERS`` like every service. ``--partitions`` and
``--dlq-partitions`` override the catalogue's counts (12 and 3) for every data/state and
dead-letter topic respectively.

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

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from prestacop_shared import topics
from prestacop_shared.config import load_settings
from prestacop_shared.exceptions import ConfigError
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.logs import configure_logging
from prestacop_shared.topic_admin import TopicCreationError, ensure_topics, wait_until_listed
from prestacop_shared.topics import TopicSpec

logger = logging.getLogger("prestacop.kafka_init")


def topic_plan(
    settings: KafkaSettings,
    *,
    partitions: int | None = None,
    dlq_partitions: int | None = None,
    replication_factor: int,
) -> list[TopicSpec]:
    """Return every catalogue topic under the settings' prefix, as it should be.

    Example:
        >>> plan = topic_plan(KafkaSettings(topic_prefix="demo."), replication_factor=1)
        >>> [(t.name, t.partitions) for t in plan][:1]
        [('demo.drone.status', 12)]
    """
    return topics.topic_plan(
        prefix=settings.topic_prefix,
        partitions=partitions,
        dlq_partitions=dlq_partitions,
        replication_factor=replication_factor,
    )


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


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--partitions", type=int, default=topics.DATA_PARTITIONS, help="data and state topics"
    )
    parser.add_argument(
        "--dlq-partitions", type=int, default=topics.DLQ_PARTITIONS, help="dead-letter topics"
    )
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
        ensure_topics(admin, plan, args.timeout_s)
        absent = wait_until_listed(admin, [spec.name for spec in plan], args.timeout_s)
    except (TimeoutError, KafkaException, TopicCreationError) as error:
        logger.error("kafka-init failed", extra={"error": str(error)})
        return 1
    if absent:
        logger.error("topics missing", extra={"topics": absent})
        return 1
    logger.info("all topics present", extra={"topics": [spec.name for spec in plan]})
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A shared-model event makes the round trip through a real Kafka broker in a container.

The container is the compose file's broker image (``apache/kafka``), started by testcontainers'
``DockerContainer``: testcontainers' ``KafkaContainer`` drives Confluent's image only (its start
script calls ``/etc/confluent/docker/*``). The broker advertises a host port chosen before the
start, published on 127.0.0.1 only.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

from prestacop_devkit.broker import free_port
from prestacop_devkit.docker_images import KAFKA_VERSION
from prestacop_shared import topics
from prestacop_shared.events import Alert, AlertReason
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.serde import decode, encode
from tests.docker.engine import base_images_present
from tests.support.kafka import consume_all, create_topics, produce

READY, WHY = base_images_present()
pytestmark = [pytest.mark.docker, pytest.mark.skipif(not READY, reason=WHY)]


@pytest.fixture(scope="module")
def container_bootstrap() -> Iterator[str]:
    port = free_port()
    kafka = (
        DockerContainer(f"apache/kafka:{KAFKA_VERSION}")
        .with_envs(
            CLUSTER_ID="prestacop-testcontainers-01",
            KAFKA_NODE_ID="1",
            KAFKA_PROCESS_ROLES="broker,controller",
            KAFKA_LISTENERS="PLAINTEXT://:9092,CONTROLLER://:9093",
            KAFKA_ADVERTISED_LISTENERS=f"PLAINTEXT://127.0.0.1:{port}",
            KAFKA_CONTROLLER_LISTENER_NAMES="CONTROLLER",
            KAFKA_CONTROLLER_QUORUM_VOTERS="1@localhost:9093",
            KAFKA_LISTENER_SECURITY_PROTOCOL_MAP="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR="1",
            KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR="1",
            KAFKA_TRANSACTION_STATE_LOG_MIN_ISR="1",
            KAFKA_HEAP_OPTS="-Xmx384m -Xms384m",
        )
        .waiting_for(LogMessageWaitStrategy("Kafka Server started").with_startup_timeout(180))
    )
    # with_bind_ports binds every interface; docker-py's (ip, port) form keeps it on loopback.
    kafka.ports["9092/tcp"] = ("127.0.0.1", port)  # type: ignore[assignment]
    with kafka:
        yield f"127.0.0.1:{port}"


def test_an_alert_is_read_back_identical_from_a_containerised_broker(
    container_bootstrap: str,
) -> None:
    settings = KafkaSettings(bootstrap_servers=container_bootstrap, topic_prefix="docker-test.")
    (topic,) = create_topics(settings, [topics.DRONE_ALERTS], partitions=3)
    alert = Alert(
        drone_id="nypd-docker-0000",
        latitude=40.7580,
        longitude=-73.9855,
        image_id="img-0001",
        reason=AlertReason.PLATE_UNREADABLE,
    )
    produce(settings, topic, [(alert.drone_id, encode(alert))])

    records = consume_all(settings, topic, expected=1, timeout_s=60)

    assert [decode(Alert, r.value) for r in records] == [alert]
    assert records[0].key == alert.drone_id.encode()

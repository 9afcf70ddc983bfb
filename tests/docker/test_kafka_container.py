"""A shared-model event makes the round trip through a real Kafka broker in a container."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from prestacop_shared import topics
from prestacop_shared.events import Alert, AlertReason
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.serde import decode, encode
from tests.docker.engine import engine_answers
from tests.support.kafka import consume_all, create_topics, produce

ENGINE, WHY = engine_answers()
pytestmark = [pytest.mark.docker, pytest.mark.skipif(not ENGINE, reason=WHY)]


@pytest.fixture(scope="module")
def container_bootstrap() -> Iterator[str]:
    from testcontainers.community.kafka import KafkaContainer

    with KafkaContainer().with_kraft() as kafka:
        yield kafka.get_bootstrap_server()


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

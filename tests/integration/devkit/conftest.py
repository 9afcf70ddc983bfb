"""Fixtures of the devkit's integration tests: the jars (setup step) and one broker per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from prestacop_devkit.broker import LocalKafka, free_ports
from prestacop_devkit.jars import ensure_kafka_jars, ensure_spark_kafka_jars


@pytest.fixture(scope="session")
def devkit_jars() -> tuple[Path, list[Path]]:
    """Fetch (once, cached) the Kafka and Spark connector jars (Maven is required: no skip)."""
    return ensure_kafka_jars(), ensure_spark_kafka_jars()


@pytest.fixture
def free_port_pair() -> tuple[int, int]:
    """A client port and a controller port for a broker of a test's own."""
    port, controller_port = free_ports(2)
    return port, controller_port


@pytest.fixture(scope="module")
def local_kafka(
    devkit_jars: tuple[Path, list[Path]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalKafka]:
    """A started single-node broker for the whole test module, stopped at its end."""
    with LocalKafka.on_free_ports(tmp_path_factory.mktemp("devkit-kafka")) as broker:
        yield broker

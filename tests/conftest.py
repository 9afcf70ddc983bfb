"""Shared test fixtures: one real Kafka broker and one Spark session per run, SMTP per test.

The broker is ``KAFKA_BOOTSTRAP_SERVERS`` if set, else a local KRaft broker started from the Maven
Central jars (``prestacop_devkit``), whether or not a Docker engine answers: only the ``docker``
tests (tests/docker) start containers, and they skip when the images are missing. Each test gets
its own topic namespace (``kafka_settings.topic_prefix``).
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from prestacop_shared.kafka import KafkaSettings
from tests.support.smtp import RecordingSMTPServer

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
NYC_DATA = REPO_ROOT / "tests" / "data" / "nyc"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's root folder."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def nyc_data() -> Path:
    """Folder of the untouched real NYC samples."""
    return NYC_DATA


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real broker's bootstrap address, for the whole run."""
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    from prestacop_devkit.broker import LocalKafka

    with LocalKafka.on_free_ports(tmp_path_factory.mktemp("kafka")) as broker:
        yield broker.bootstrap_servers


def _slug(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-")[:40]


@pytest.fixture
def topic_prefix(request: pytest.FixtureRequest) -> str:
    """A topic namespace unique to this test, e.g. ``t-test-alerts-1a2b3c4d.``."""
    return f"t-{_slug(request.node.name)}-{uuid.uuid4().hex[:8]}."


@pytest.fixture
def kafka_settings_factory(kafka_bootstrap: str, topic_prefix: str) -> Callable[..., KafkaSettings]:
    """Build Kafka settings on the test broker, in the test's namespace, with overrides."""

    def factory(**overrides: Any) -> KafkaSettings:
        values: dict[str, Any] = {
            "bootstrap_servers": kafka_bootstrap,
            "topic_prefix": topic_prefix,
            "client_id": "prestacop-tests",
        }
        values.update(overrides)
        return KafkaSettings(**values)

    return factory


@pytest.fixture
def kafka_settings(kafka_settings_factory: Callable[..., KafkaSettings]) -> KafkaSettings:
    """Kafka settings on the test broker, in the test's own topic namespace."""
    return kafka_settings_factory()


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Make names (consumer groups, transactional ids) unique to this test."""
    token = uuid.uuid4().hex[:8]
    return lambda base: f"{base}-{_slug(request.node.name)}-{token}"


@pytest.fixture
def free_tcp_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    from prestacop_devkit.broker import free_port

    return free_port()


@pytest.fixture
def smtp_server_factory(tmp_path: Path) -> Iterator[Callable[[], RecordingSMTPServer]]:
    """Start real aiosmtpd servers that record mail; all are stopped after the test."""
    from prestacop_devkit.broker import free_port

    servers: list[RecordingSMTPServer] = []

    def factory() -> RecordingSMTPServer:
        server = RecordingSMTPServer(free_port(), tmp_path / f"mail-{len(servers)}")
        server.start()
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.stop()


@pytest.fixture
def smtp_server(smtp_server_factory: Callable[[], RecordingSMTPServer]) -> RecordingSMTPServer:
    """A running real SMTP server (aiosmtpd) that records every message it accepts."""
    return smtp_server_factory()


@pytest.fixture(scope="session")
def spark_jars_dir() -> Path:
    """Folder of the pre-fetched Spark Kafka connector jars (fetched once by the devkit)."""
    from prestacop_devkit.jars import ensure_spark_kafka_jars

    jars = ensure_spark_kafka_jars()
    return jars[0].parent


@pytest.fixture(scope="session")
def spark(spark_jars_dir: Path) -> Iterator[SparkSession]:
    """One local Spark session for the whole run (starting one costs 6-8 s)."""
    from prestacop_shared.spark import SparkSettings, build_spark_session

    settings = SparkSettings(
        master_url="local[2]", kafka_jars_dir=spark_jars_dir, shuffle_partitions=2
    )
    session = build_spark_session("prestacop-tests", settings)
    try:
        yield session
    finally:
        session.stop()

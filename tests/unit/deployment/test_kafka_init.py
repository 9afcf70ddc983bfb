"""The kafka-init one-shot: the topics it plans are exactly the shared contract's."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

from prestacop_shared import topics
from prestacop_shared.kafka import KafkaSettings
from tests.unit.deployment import stack

pytestmark = pytest.mark.unit

SCRIPT = stack.REPO_ROOT / "compose" / "kafka-init" / "create_topics.py"


@pytest.fixture(scope="module")
def kafka_init() -> Iterator[ModuleType]:
    """The script as a module (registered while loaded: its dataclasses need that)."""
    name = "prestacop_compose_create_topics"
    spec = importlib.util.spec_from_file_location(name, SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(name, None)


def test_plan_holds_every_topic_of_the_contract_once(kafka_init: ModuleType) -> None:
    plan = kafka_init.topic_plan(
        KafkaSettings(), partitions=12, dlq_partitions=3, replication_factor=1
    )
    assert sorted(spec.name for spec in plan) == sorted(topics.ALL_TOPICS)


def test_state_topics_are_compacted_and_data_topics_are_not(kafka_init: ModuleType) -> None:
    plan = {
        spec.name: spec
        for spec in kafka_init.topic_plan(
            KafkaSettings(), partitions=12, dlq_partitions=3, replication_factor=3
        )
    }
    for name in topics.COMPACTED_TOPICS:
        assert plan[name].config["cleanup.policy"] == "compact"
        assert "retention.ms" not in plan[name].config
    for name in topics.DATA_TOPICS + topics.DEAD_LETTER_TOPICS:
        assert plan[name].config["cleanup.policy"] == "delete"
        assert plan[name].config["retention.ms"] == str(topics.DATA_RETENTION_MS)
    for name in topics.DATA_TOPICS:
        assert plan[name].partitions == 12
    for name in topics.DEAD_LETTER_TOPICS:
        assert plan[name].partitions == 3
    assert {spec.config["min.insync.replicas"] for spec in plan.values()} == {"2"}
    # The mailer's sent record can be read partition by partition alongside the alerts.
    assert plan[topics.ALERT_MAILER_SENT].partitions == plan[topics.DRONE_ALERTS].partitions


def test_plan_applies_the_deployment_topic_prefix(kafka_init: ModuleType) -> None:
    plan = kafka_init.topic_plan(
        KafkaSettings(topic_prefix="city-a."), partitions=1, dlq_partitions=1, replication_factor=1
    )
    assert all(spec.name.startswith("city-a.") for spec in plan)
    assert {spec.config["min.insync.replicas"] for spec in plan} == {"1"}


def test_compose_runs_the_script_with_arguments_it_accepts(kafka_init: ModuleType) -> None:
    service = stack.compose_services()["kafka-init"]
    command = [stack.with_defaults(str(part)) for part in service["command"]]
    assert command[:2] == ["python", "/opt/prestacop/kafka-init/create_topics.py"]
    assert any(
        volume.startswith("./compose/kafka-init/create_topics.py:") for volume in service["volumes"]
    )
    args = kafka_init._parse(command[2:])
    assert (args.partitions, args.replication_factor) == (12, 1)


def test_the_script_refuses_impossible_counts(kafka_init: ModuleType) -> None:
    with pytest.raises(SystemExit):
        kafka_init._parse(["--partitions", "0"])

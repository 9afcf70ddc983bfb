"""The topic and dataset catalogue: every fact about a topic or stored folder, stated once."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from prestacop_shared import datasets, topics
from prestacop_shared.datasets import DATASETS, PartitionRule
from prestacop_shared.topics import CATALOGUE, TopicRole, topic_plan

pytestmark = pytest.mark.unit


def test_every_topic_has_one_role_and_the_role_lists_partition_the_catalogue() -> None:
    listed = topics.DATA_TOPICS + topics.DEAD_LETTER_TOPICS + topics.COMPACTED_TOPICS
    assert sorted(listed) == sorted(CATALOGUE) == sorted(topics.ALL_TOPICS)
    assert len(set(listed)) == len(listed)


@pytest.mark.parametrize("name", topics.DATA_TOPICS + topics.DEAD_LETTER_TOPICS)
def test_data_and_dead_letter_topics_keep_30_days_explicitly(name: str) -> None:
    config = CATALOGUE[name].config()
    assert config == {"cleanup.policy": "delete", "retention.ms": str(30 * 24 * 3600 * 1000)}


@pytest.mark.parametrize("name", topics.COMPACTED_TOPICS)
def test_state_topics_are_compacted_and_never_expire(name: str) -> None:
    assert CATALOGUE[name].config() == {"cleanup.policy": "compact"}


def test_dead_letter_topics_named_by_data_topics_exist_as_dead_letter_topics() -> None:
    targets = {t.dead_letter_topic for t in CATALOGUE.values() if t.dead_letter_topic}
    assert targets == set(topics.DEAD_LETTER_TOPICS)
    assert all(CATALOGUE[name].role is TopicRole.DEAD_LETTER for name in targets)


@pytest.mark.parametrize("partitions", [None, 1, 4])
def test_the_sent_record_stays_co_partitioned_with_the_alerts(partitions: int | None) -> None:
    plan = {spec.name: spec for spec in topic_plan(partitions=partitions)}
    assert plan[topics.ALERT_MAILER_SENT].partitions == plan[topics.DRONE_ALERTS].partitions


def test_a_plan_scales_partitions_but_keeps_the_catalogue_config() -> None:
    plan = topic_plan(
        (topics.NYPD_TICKETS, topics.NYPD_TICKETS_DLQ), prefix="t.", partitions=2,
        replication_factor=3,
    )  # fmt: skip
    assert [(s.name, s.partitions, s.replication_factor) for s in plan] == [
        ("t.nypd.tickets", 2, 3),
        ("t.nypd.tickets.dlq", 2, 3),
    ]
    assert plan[0].config == CATALOGUE[topics.NYPD_TICKETS].config() | {"min.insync.replicas": "2"}


def test_a_service_plan_leaves_sizes_to_the_broker_and_keeps_the_config() -> None:
    plan = topics.service_topic_plan(
        (topics.NYPD_TICKETS, topics.NYPD_TICKETS_DLQ, topics.NYPD_INGEST_PROGRESS), "p."
    )
    assert {(s.partitions, s.replication_factor) for s in plan} == {(-1, -1)}
    assert [s.config for s in plan] == [
        CATALOGUE[name].config()
        for name in (topics.NYPD_TICKETS, topics.NYPD_TICKETS_DLQ, topics.NYPD_INGEST_PROGRESS)
    ]


def test_the_deployment_plan_has_the_catalogue_sizes() -> None:
    plan = {spec.name: spec for spec in topic_plan(replication_factor=1)}
    assert plan[topics.NYPD_INGEST_PROGRESS].partitions == topics.DATA_PARTITIONS
    assert plan[topics.NYPD_TICKETS_DLQ].partitions == topics.DLQ_PARTITIONS


def test_a_name_outside_the_catalogue_is_refused() -> None:
    with pytest.raises(KeyError):
        topic_plan(("drone.typo",))


def test_every_data_topic_is_stored_by_exactly_one_dataset() -> None:
    stored = [dataset.topic for dataset in DATASETS.values()]
    assert sorted(stored) == sorted(topics.DATA_TOPICS)


def test_stored_and_quarantine_folders_are_distinct_and_never_nested() -> None:
    folders = [d.folder for d in DATASETS.values()] + [
        d.quarantine_folder for d in DATASETS.values()
    ]
    assert len(set(folders)) == len(folders)
    for first in folders:
        for second in folders:
            assert first == second or first not in second.parents


def test_folders_are_the_documented_layout() -> None:
    assert {name: str(d.folder) for name, d in DATASETS.items()} == {
        "status": "drone_msg/status",
        "violations": "drone_msg/violations",
        "alerts": "drone_msg/alerts",
        "alert_resolutions": "drone_msg/alert_resolutions",
        "tickets": "archived_nypd_msg",
    }
    assert datasets.TICKETS.quarantine_dir(Path("/d")) == Path("/d/quarantine/tickets")
    assert datasets.STATUS.quarantine_folder == PurePosixPath("quarantine/status")


def test_only_tickets_are_partitioned_by_issue_month_and_have_a_dead_letter_topic() -> None:
    by_issue = [d.name for d in DATASETS.values() if d.partition_rule is PartitionRule.ISSUE_MONTH]
    assert by_issue == ["tickets"]
    assert datasets.TICKETS.dead_letter_topic == topics.NYPD_TICKETS_DLQ
    assert datasets.ALERTS.dead_letter_topic == topics.DRONE_ALERTS_DLQ
    assert datasets.STATUS.dead_letter_topic is None

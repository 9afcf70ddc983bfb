"""The single-node KRaft config: what a one-broker cluster needs to serve groups and transactions."""

from __future__ import annotations

from pathlib import Path

import pytest

from prestacop_devkit.kraft_config import (
    log4j2_xml,
    parse_listener_address,
    render_properties,
    server_properties,
)

pytestmark = pytest.mark.unit


def test_internal_topics_are_replicated_once_on_a_single_node() -> None:
    settings = server_properties(19092, 19093, Path("/data/kraft"))
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
        "share.coordinator.state.topic.min.isr",
    ):
        assert settings[key] == "1", key
    assert settings["group.initial.rebalance.delay.ms"] == "0"
    assert settings["auto.create.topics.enable"] == "true"


def test_listeners_are_local_and_the_controller_votes_for_itself() -> None:
    settings = server_properties(19092, 19093, Path("/data/kraft"))
    assert settings["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert settings["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert settings["log.dirs"] == "/data/kraft"


def test_the_client_address_is_read_back_from_the_rendered_file() -> None:
    text = render_properties(server_properties(19092, 19093, Path("/data/kraft")))
    assert parse_listener_address(text) == "127.0.0.1:19092"
    assert parse_listener_address(text, "CONTROLLER") == "127.0.0.1:19093"
    assert parse_listener_address("# nothing here\n") is None


def test_broker_logs_go_to_the_given_file() -> None:
    assert 'fileName="/data/logs/server.log"' in log4j2_xml(Path("/data/logs/server.log"))

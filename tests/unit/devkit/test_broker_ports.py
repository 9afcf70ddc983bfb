"""A test or benchmark broker takes two ports nothing listens on."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from prestacop_devkit.broker import LocalKafka

pytestmark = pytest.mark.unit


def test_a_broker_on_free_ports_has_two_distinct_ports_nothing_listens_on(tmp_path: Path) -> None:
    broker = LocalKafka.on_free_ports(tmp_path / "kafka", heap="1g")
    assert broker.port != broker.controller_port
    assert broker.heap == "1g"
    assert broker.bootstrap_servers == f"127.0.0.1:{broker.port}"
    for port in (broker.port, broker.controller_port):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0  # refused: nobody listens
    assert not broker.is_running()

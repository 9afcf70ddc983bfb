"""A real local KRaft broker from the Maven jars: clients work, transactions work, data survives.

One broker for the module (``local_kafka`` in this folder's conftest); every test uses its own
topic and leaves the broker running.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import psutil
import pytest
from confluent_kafka import Consumer, Message, Producer

from prestacop_devkit.broker import BrokerAlreadyRunning, LocalKafka, producer_perf_test
from prestacop_devkit.perf import consumer_perf_test

pytestmark = pytest.mark.integration


def _topic(name: str) -> str:
    return f"devkit-{name}-{uuid.uuid4().hex[:8]}"


def _produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for value in values:
        producer.produce(topic, value=value)
    assert producer.flush(30) == 0


def _consume(
    bootstrap: str, topic: str, expected: int, isolation: str = "read_uncommitted"
) -> list[bytes]:
    """Read from the start of ``topic`` until ``expected`` values came or 30 s passed."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"devkit-test-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "isolation.level": isolation,
            "enable.auto.commit": False,
        }
    )
    values: list[bytes] = []
    try:
        consumer.subscribe([topic])
        for _ in range(60):
            message: Message | None = consumer.poll(0.5)
            if message is None:
                if len(values) >= expected:
                    break
                continue
            assert message.error() is None, message.error()
            values.append(message.value())
    finally:
        consumer.close()
    return values


def test_produce_then_consume(local_kafka: LocalKafka) -> None:
    topic = _topic("roundtrip")
    _produce(local_kafka.bootstrap_servers, topic, [b"hello", b"world"])
    assert _consume(local_kafka.bootstrap_servers, topic, 2) == [b"hello", b"world"]


def test_read_committed_sees_committed_transactions_only(local_kafka: LocalKafka) -> None:
    topic = _topic("txn")
    producer = Producer(
        {
            "bootstrap.servers": local_kafka.bootstrap_servers,
            "transactional.id": f"devkit-{uuid.uuid4().hex[:8]}",
        }
    )
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(topic, value=b"committed-1")
    producer.produce(topic, value=b"committed-2")
    producer.commit_transaction(30)
    producer.begin_transaction()
    producer.produce(topic, value=b"aborted")
    producer.flush(30)
    producer.abort_transaction(30)
    producer.begin_transaction()
    producer.produce(topic, value=b"committed-3")
    producer.commit_transaction(30)

    read_committed = _consume(local_kafka.bootstrap_servers, topic, 3, "read_committed")
    assert read_committed == [b"committed-1", b"committed-2", b"committed-3"]
    read_uncommitted = _consume(local_kafka.bootstrap_servers, topic, 4)
    assert b"aborted" in read_uncommitted


def test_second_start_on_the_same_data_dir_says_it_is_running(local_kafka: LocalKafka) -> None:
    again = LocalKafka(local_kafka.data_dir, local_kafka.port, local_kafka.controller_port)
    with pytest.raises(BrokerAlreadyRunning) as raised:
        again.start()
    assert raised.value.pid == local_kafka.pid()
    assert raised.value.bootstrap_servers == local_kafka.bootstrap_servers
    assert local_kafka.bootstrap_servers in str(raised.value)


def test_stop_leaves_no_process_and_restart_keeps_the_data(local_kafka: LocalKafka) -> None:
    topic = _topic("durable")
    _produce(local_kafka.bootstrap_servers, topic, [b"kept across restarts"])
    pid = local_kafka.pid()
    assert pid is not None

    local_kafka.stop()
    assert not local_kafka.is_running()
    assert not psutil.pid_exists(pid)
    assert not local_kafka.pid_file.exists()

    local_kafka.start(timeout_s=120)
    assert _consume(local_kafka.bootstrap_servers, topic, 1) == [b"kept across restarts"]


def test_a_killed_broker_recovers_its_data(local_kafka: LocalKafka) -> None:
    topic = _topic("crash")
    _produce(local_kafka.bootstrap_servers, topic, [b"acked before the crash"])
    pid = local_kafka.pid()

    local_kafka.kill()
    assert pid is not None and not psutil.pid_exists(pid)

    local_kafka.start(timeout_s=120)
    assert _consume(local_kafka.bootstrap_servers, topic, 1) == [b"acked before the crash"]


def test_perf_tools_report_positive_rates(local_kafka: LocalKafka) -> None:
    topic = _topic("perf")
    produced = producer_perf_test(
        local_kafka.bootstrap_servers, topic, 20_000, 200, {"linger.ms": "5"}
    )
    assert produced.records == 20_000
    assert produced.records_per_s > 0
    assert produced.mb_per_s > 0

    consumed = consumer_perf_test(local_kafka.bootstrap_servers, topic, 20_000)
    assert consumed.records == 20_000
    assert consumed.records_per_s > 0


def test_a_cluster_id_that_starts_with_a_dash_formats_and_starts(
    devkit_jars: tuple[object, object],
    free_port_pair: tuple[int, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """About one random cluster id in 64 starts with ``-``; the storage tool must not read it
    as an option (that made a fresh broker fail to start now and then)."""
    import prestacop_devkit.broker as broker_module

    monkeypatch.setattr(broker_module, "_kafka_uuid", lambda: "-" + "A" * 21)
    port, controller_port = free_port_pair
    broker = LocalKafka(tmp_path / "dash", port=port, controller_port=controller_port)
    try:
        bootstrap = broker.start(timeout_s=120)
        topic = _topic("dash")
        _produce(bootstrap, topic, [b"one"])
        assert _consume(bootstrap, topic, expected=1) == [b"one"]
    finally:
        broker.stop()

"""The drone service as users run it: a real process, a real broker, the three drone topics."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import httpx
import pytest

from prestacop_shared import topics
from prestacop_shared.events import Alert, DroneStatus, Event, Violation
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.serde import decode
from tests.support.kafka import Record, consume_all

pytestmark = pytest.mark.integration

MODEL_OF_KIND: dict[str, type[Event]] = {
    "status": DroneStatus,
    "violation": Violation,
    "alert": Alert,
}
TOPIC_OF_KIND = {
    "status": topics.DRONE_STATUS,
    "violation": topics.DRONE_VIOLATIONS,
    "alert": topics.DRONE_ALERTS,
}
HANG_GUARD_S = 120


def drone_env(kafka: KafkaSettings, **drone: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRONE_")}
    env |= {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        "DRONE_LOG_LEVEL": "INFO",
    }
    env |= {f"DRONE_{name.upper()}": value for name, value in drone.items()}
    return env


def drone_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "prestacop_drone", *args]


def summary_of(stdout: str) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    return summary


def run_drones(kafka: KafkaSettings, *args: str, **drone: str) -> dict[str, Any]:
    done = subprocess.run(
        drone_command(*args),
        env=drone_env(kafka, **drone),
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return summary_of(done.stdout)


def read_topics(kafka: KafkaSettings, sent: dict[str, int]) -> dict[str, list[Record]]:
    return {
        kind: consume_all(kafka, kafka.topic(TOPIC_OF_KIND[kind]), expected=sent[kind], idle_s=1.0)
        for kind in MODEL_OF_KIND
    }


def start_drones(kafka: KafkaSettings, *args: str, **drone: str) -> subprocess.Popen[str]:
    """Start the service and return once it is flying (its signal handlers are installed)."""
    process = subprocess.Popen(
        drone_command(*args),
        env=drone_env(kafka, **drone),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:
        if "drones taking off" in line:
            return process
    process.wait(timeout=HANG_GUARD_S)
    raise AssertionError(f"drone service exited with {process.returncode} before flying")


def test_every_event_reaches_its_topic_keyed_by_drone_and_matches_the_summary(
    kafka_settings: KafkaSettings,
) -> None:
    summary = run_drones(
        kafka_settings,
        "--drones", "8",
        "--interval-s", "0.05",
        "--violation-probability", "0.5",
        "--alert-probability", "0.2",
        "--max-messages", "400",
        "--seed", "1",
        "--host", "itest",
    )  # fmt: skip
    assert summary["ok"] is True
    assert summary["stopped_by"] == "max_messages"
    assert summary["sent_total"] == 400
    assert summary["sent"]["alert"] > 0 and summary["sent"]["violation"] > 0

    expected_ids = {f"nypd-itest-{i:04d}" for i in range(8)}
    records = read_topics(kafka_settings, summary["sent"])
    event_ids: list[str] = []
    for kind, model in MODEL_OF_KIND.items():
        assert len(records[kind]) == summary["sent"][kind], kind
        for record in records[kind]:
            event = decode(model, record.value)
            assert record.key is not None and record.key.decode() == event.drone_id
            assert event.drone_id in expected_ids
            event_ids.append(event.event_id)
    assert len(event_ids) == len(set(event_ids)) == 400
    seen = {r.key for r in records["status"]}
    assert seen == {i.encode() for i in expected_ids}


def test_replicas_with_different_host_names_fly_disjoint_drones(
    kafka_settings: KafkaSettings,
) -> None:
    args = ("--drones", "5", "--interval-s", "0.05", "--max-messages", "100", "--seed", "3")
    replicas = [
        subprocess.Popen(
            drone_command(*args),
            env=drone_env(kafka_settings, host=host),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for host in ("drone-replica-a", "drone-replica-b")
    ]
    summaries = []
    for replica in replicas:
        stdout, stderr = replica.communicate(timeout=HANG_GUARD_S)
        assert replica.returncode == 0, stderr
        summaries.append(summary_of(stdout))

    expected_statuses = sum(s["sent"]["status"] for s in summaries)
    statuses = [
        decode(DroneStatus, r.value)
        for r in consume_all(
            kafka_settings, kafka_settings.topic(topics.DRONE_STATUS), expected=expected_statuses
        )
    ]
    assert len(statuses) == expected_statuses
    ids_a = {s.drone_id for s in statuses if "-drone-replica-a-" in s.drone_id}
    ids_b = {s.drone_id for s in statuses if "-drone-replica-b-" in s.drone_id}
    assert len(ids_a) == len(ids_b) == 5
    assert ids_a.isdisjoint(ids_b)
    assert ids_a | ids_b == {s.drone_id for s in statuses}


def test_same_seed_replays_the_same_events(kafka_settings_factory: Any, unique_name: Any) -> None:
    runs = []
    for attempt in ("first", "second"):
        kafka = kafka_settings_factory(topic_prefix=unique_name(attempt) + ".")
        summary = run_drones(
            kafka, "--drones", "4", "--interval-s", "0.02", "--max-messages", "120",
            "--seed", "99", "--violation-probability", "0.5", "--host", "seeded",
        )  # fmt: skip
        records = read_topics(kafka, summary["sent"])
        runs.append(
            {
                kind: [
                    decode(MODEL_OF_KIND[kind], r.value).model_dump(exclude={"emitted_at"})
                    for r in records[kind]
                ]
                for kind in MODEL_OF_KIND
            }
        )
    assert runs[0] == runs[1]
    assert runs[0]["violation"], "the comparison should cover violations too"


def test_sigterm_mid_run_flushes_everything_and_exits_0(kafka_settings: KafkaSettings) -> None:
    process = start_drones(
        kafka_settings, "--drones", "300", "--interval-s", "0.1", "--host", "sigterm"
    )
    time.sleep(2)  # let thousands of events flow; the test does not depend on how many
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=HANG_GUARD_S)
    assert process.returncode == 0, stderr
    summary = summary_of(stdout)
    assert summary["stopped_by"] == "SIGTERM"
    assert summary["ok"] is True
    assert summary["sent"] == summary["produced"]
    assert summary["sent_total"] > 0

    records = read_topics(kafka_settings, summary["sent"])
    found = Counter({kind: len(rows) for kind, rows in records.items()})
    assert dict(found) == summary["sent"]
    ids = [decode(MODEL_OF_KIND[k], r.value).event_id for k, rows in records.items() for r in rows]
    assert len(ids) == len(set(ids)), "duplicates in Kafka"


def test_healthz_and_metrics_answer_while_flying(
    kafka_settings: KafkaSettings, free_tcp_port: int
) -> None:
    process = start_drones(
        kafka_settings, "--drones", "5", "--interval-s", "0.1", "--http-port", str(free_tcp_port)
    )
    base = f"http://127.0.0.1:{free_tcp_port}"
    try:
        health = httpx.get(f"{base}/healthz", timeout=10)
        assert health.status_code == 200
        assert health.json()["status"] == "ok"

        sent = 0.0
        deadline = time.monotonic() + HANG_GUARD_S
        while sent == 0.0 and time.monotonic() < deadline:
            metrics = httpx.get(f"{base}/metrics", timeout=10)
            assert metrics.status_code == 200
            sent = _sample(metrics.text, 'prestacop_drone_messages_sent_total{kind="status"}')
            time.sleep(0.2)
        assert sent > 0
        assert _sample(metrics.text, "prestacop_drone_drones_active") == 5.0
        assert 'prestacop_drone_delivery_errors_total{kind="status"} 0.0' in metrics.text
        assert httpx.get(f"{base}/nothing-here", timeout=10).status_code == 404
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=HANG_GUARD_S)
    assert process.returncode == 0, stderr
    assert summary_of(stdout)["http_port"] == free_tcp_port


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def test_unreachable_broker_is_reported_not_hidden(
    kafka_settings_factory: Any, free_tcp_port: int
) -> None:
    nowhere = kafka_settings_factory(bootstrap_servers=f"127.0.0.1:{free_tcp_port}")
    done = subprocess.run(
        drone_command("--drones", "2", "--interval-s", "0.05", "--max-messages", "10"),
        env=drone_env(nowhere, flush_timeout_s="2"),
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    summary = summary_of(done.stdout)
    assert summary["ok"] is False
    assert summary["sent_total"] == 0
    assert summary["in_flight_at_exit"] == 10

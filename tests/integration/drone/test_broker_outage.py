"""SIGTERM while the broker is away: the drone stops, flushes for a bounded time, and says what it lost.

A dedicated broker (the shared one must stay up for the other tests) is taken away while the drone
is flying; once the drone's local queue is full it is sent SIGTERM. It must exit well within
compose's default 10 s grace period, with exit code 1, and its summary and log must state how many
events it could not deliver.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from prestacop_devkit.broker import LocalKafka, free_ports
from prestacop_shared import topics
from prestacop_shared.kafka import KafkaSettings
from tests.integration.drone.test_drone_kafka import drone_command, drone_env, summary_of
from tests.support.kafka import create_topics

pytestmark = pytest.mark.integration

SHUTDOWN_FLUSH_S = 2.0
COMPOSE_GRACE_S = 10.0
"""``docker compose stop``'s default: after this the process is SIGKILLed."""
HANG_GUARD_S = 120


@pytest.fixture
def outage_broker(tmp_path: Path) -> Iterator[LocalKafka]:
    with LocalKafka.on_free_ports(tmp_path / "kafka") as broker:
        yield broker


def _metric(base: str, name: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=5).text
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def _wait_for(condition: object, what: str, log: Path) -> None:
    deadline = time.monotonic() + HANG_GUARD_S
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}: {log.read_text()[-3000:]}")


def test_sigterm_during_an_outage_exits_within_the_bound_and_reports_the_undelivered(
    outage_broker: LocalKafka, tmp_path: Path
) -> None:
    kafka = KafkaSettings(
        bootstrap_servers=outage_broker.bootstrap_servers, topic_prefix="outage.", client_id="t"
    )
    create_topics(kafka, [topics.DRONE_STATUS, topics.DRONE_VIOLATIONS, topics.DRONE_ALERTS])
    (http_port,) = free_ports(1)
    base = f"http://127.0.0.1:{http_port}"
    log = tmp_path / "drone.log"
    env = drone_env(
        kafka,
        shutdown_flush_s=str(SHUTDOWN_FLUSH_S),
        queue_max_messages="2000",
        http_port=str(http_port),
        http_host="127.0.0.1",
    )
    with log.open("w") as stderr:
        process = subprocess.Popen(
            drone_command("--drones", "500", "--interval-s", "0.1", "--host", "outage"),
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        try:
            _wait_for(
                lambda: (
                    "drones taking off" in log.read_text()
                    and _metric(base, 'prestacop_drone_messages_sent_total{kind="status"}') > 0
                ),
                "the first acknowledged events",
                log,
            )
            outage_broker.stop()
            _wait_for(
                lambda: _metric(base, "prestacop_drone_producer_queue_full_total") > 0,
                "the producer's queue to fill up",
                log,
            )
            process.send_signal(signal.SIGTERM)
            try:
                stdout, _ = process.communicate(timeout=COMPOSE_GRACE_S)
            except subprocess.TimeoutExpired:
                pytest.fail(
                    f"still running {COMPOSE_GRACE_S:.0f} s after SIGTERM: compose would SIGKILL "
                    f"it and lose its queue silently. Log: {log.read_text()[-2000:]}"
                )
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    assert process.returncode == 1, log.read_text()[-3000:]
    summary = summary_of(stdout)
    assert summary["stopped_by"] == "SIGTERM"
    assert summary["ok"] is False
    produced, sent = sum(summary["produced"].values()), summary["sent_total"]
    assert produced > sent > 0
    # Every event queued but not acknowledged, plus the one at hand when the stop came.
    not_queued = summary["failed"].get("not_queued", 0)
    assert summary["undelivered_total"] == produced - sent + not_queued
    assert summary["undelivered_total"] == sum(summary["failed"].values())
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    reported = [r for r in records if str(r.get("event", "")).startswith("events not delivered")]
    assert len(reported) == 1, records[-5:]
    assert reported[0]["undelivered"] == summary["undelivered_total"]

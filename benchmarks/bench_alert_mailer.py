"""Alert → email latency of the alert mailer: emitted_at to SMTP receipt, p50/p99.

Starts its own single-node Kafka (LocalKafka, unless ``--bootstrap`` names a broker), a local
aiosmtpd that timestamps each mail on receipt, and the real mailer process
(``python -m prestacop_alert_mailer``). Two phases:

* paced: alerts produced at ``--rate`` per second, each stamped ``emitted_at`` when produced;
  latency = SMTP receipt - emitted_at (what an operator waits for);
* burst: ``--alerts`` produced at once; drain throughput in emails/s.

Usage: ``.venv/bin/python benchmarks/bench_alert_mailer.py [--quick] [--alerts N] [--rate R]``
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from confluent_kafka import Producer

from prestacop_devkit.broker import LocalKafka, free_port
from prestacop_shared import topics
from prestacop_shared.events import Alert, AlertReason
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.serde import encode
from prestacop_shared.topic_admin import ensure_topics


class TimestampingHandler:
    """Keeps, per alert id, when its email arrived (wall clock, UTC)."""

    def __init__(self) -> None:
        self.received: dict[str, datetime] = {}
        self.copies = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
        now = datetime.now(UTC)
        alert_id = ""
        for line in envelope.original_content.split(b"\r\n"):
            if line.startswith(b"X-Prestacop-Alert-Id:"):
                alert_id = line.split(b":", 1)[1].strip().decode()
                break
            if not line:
                break
        with self.lock:
            self.copies += 1
            self.received.setdefault(alert_id, now)
        return "250 OK"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def make_alert(index: int) -> Alert:
    return Alert(
        drone_id=f"bench-drone-{index % 50}",
        latitude=40.75,
        longitude=-73.98,
        image_id=f"bench-img-{index}",
        reason=AlertReason.LOW_CONFIDENCE,
        plate_id="BENCH1",
    )


def wait_for(handler: TimestampingHandler, ids: set[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with handler.lock:
            if ids <= handler.received.keys():
                return
        time.sleep(0.02)
    raise SystemExit(f"timed out: {len(ids - handler.received.keys())} alerts not mailed")


def run(bootstrap: str, alerts: int, rate: float, work_dir: Path) -> None:
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    kafka = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix, client_id="bench")
    names = (topics.DRONE_ALERTS, topics.DRONE_ALERTS_DLQ, topics.DRONE_VIOLATIONS)
    ensure_topics(
        kafka,
        topics.topic_plan(names, prefix=prefix, partitions=3, replication_factor=1),
    )

    handler = TimestampingHandler()
    smtp = Controller(handler, hostname="127.0.0.1", port=free_port())
    smtp.start()
    http_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAILER_", "KAFKA_"))}
    env |= {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_TOPIC_PREFIX": prefix,
        "MAILER_SMTP_HOST": "127.0.0.1",
        "MAILER_SMTP_PORT": str(smtp.port),
        "MAILER_MAIL_TO": "bench@test.invalid",
        "MAILER_OPERATOR_TOKEN": uuid.uuid4().hex,
        "MAILER_HTTP_PORT": str(http_port),
        "MAILER_GROUP_ID": f"bench-{uuid.uuid4().hex[:8]}",
        "MAILER_STATE_DIR": str(work_dir / "mailer-state"),
        "MAILER_LOG_LEVEL": "WARNING",
    }
    log = (work_dir / "mailer.log").open("wb")
    mailer = subprocess.Popen(
        [sys.executable, "-m", "prestacop_alert_mailer"], env=env, stdout=log, stderr=log
    )
    producer = Producer(kafka.producer_config(linger_ms=0))
    alerts_topic = kafka.topic(topics.DRONE_ALERTS)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{http_port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or mailer.poll() is not None:
                    raise SystemExit("the mailer did not start; see mailer.log") from None
                time.sleep(0.1)
        # Warm-up: the consumer joins its group and the first connections are made.
        warm = [make_alert(-1 - i) for i in range(5)]
        for alert in warm:
            producer.produce(alerts_topic, key=alert.drone_id, value=encode(alert))
        producer.flush(30)
        wait_for(handler, {a.alert_id for a in warm}, 120)

        paced: dict[str, datetime] = {}
        started = time.monotonic()
        for index in range(alerts):
            target = started + index / rate
            time.sleep(max(0.0, target - time.monotonic()))
            alert = make_alert(index)
            paced[alert.alert_id] = alert.emitted_at
            producer.produce(alerts_topic, key=alert.drone_id, value=encode(alert))
            producer.poll(0)
        producer.flush(30)
        wait_for(handler, set(paced), 300)
        latencies_ms = [
            (handler.received[alert_id] - emitted).total_seconds() * 1000
            for alert_id, emitted in paced.items()
        ]

        burst = [make_alert(alerts + i) for i in range(alerts)]
        burst_started = time.monotonic()
        for alert in burst:
            producer.produce(alerts_topic, key=alert.drone_id, value=encode(alert))
            producer.poll(0)
        producer.flush(30)
        wait_for(handler, {a.alert_id for a in burst}, 600)
        drain_s = time.monotonic() - burst_started
    finally:
        mailer.send_signal(signal.SIGTERM)
        mailer.wait(60)
        smtp.stop()
        log.close()

    expected = len(warm) + 2 * alerts
    print(f"alert mailer — {alerts} alerts paced at {rate:g}/s, then {alerts} at once")
    print(f"{'metric':<34}{'value':>12}")
    print(f"{'alert->email latency p50 (ms)':<34}{statistics.median(latencies_ms):>12.1f}")
    print(f"{'alert->email latency p90 (ms)':<34}{percentile(latencies_ms, 0.90):>12.1f}")
    print(f"{'alert->email latency p99 (ms)':<34}{percentile(latencies_ms, 0.99):>12.1f}")
    print(f"{'alert->email latency max (ms)':<34}{max(latencies_ms):>12.1f}")
    print(f"{'burst drain throughput (emails/s)':<34}{alerts / drain_s:>12.1f}")
    print(f"{'emails received / expected':<34}{handler.copies:>7} / {expected}")
    print(f"{'mailer exit status (SIGTERM)':<34}{mailer.returncode:>12}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 alerts (under ~2 minutes)")
    parser.add_argument("--alerts", type=int, default=None, help="alerts per phase (500)")
    parser.add_argument("--rate", type=float, default=50.0, help="paced alerts per second (50)")
    parser.add_argument("--bootstrap", default=None, help="use this broker instead of a new one")
    args = parser.parse_args()
    alerts = args.alerts or (200 if args.quick else 500)
    with tempfile.TemporaryDirectory(prefix="bench-alert-mailer-") as tmp:
        work_dir = Path(tmp)
        if args.bootstrap:
            run(args.bootstrap, alerts, args.rate, work_dir)
            return
        broker = LocalKafka.on_free_ports(work_dir / "kafka")
        bootstrap = broker.start()
        try:
            run(bootstrap, alerts, args.rate, work_dir)
        finally:
            broker.stop()


if __name__ == "__main__":
    main()

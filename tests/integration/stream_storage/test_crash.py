"""Stream-storage as a real process: killed mid-batch it loses nothing and stores nothing twice;
asked to stop with SIGTERM it finishes its batch and exits 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from prestacop_shared import topics
from prestacop_shared.events import Event
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.spark import read_dataset, read_quarantine
from prestacop_stream_storage.datasets import DATASETS
from prestacop_stream_storage.progress import committed_record_count, last_committed_batch
from tests.integration.stream_storage import samples
from tests.support.kafka import create_topics, produce

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = pytest.mark.integration

HANG_GUARD_S = 300


def _environment(
    kafka: KafkaSettings, data_dir: Path, jars_dir: Path, **storage: str
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=kafka.bootstrap_servers,
        KAFKA_TOPIC_PREFIX=kafka.topic_prefix,
        STORAGE_DATA_DIR=str(data_dir),
        SPARK_MASTER_URL="local[2]",
        SPARK_KAFKA_JARS_DIR=str(jars_dir),
        SPARK_SHUFFLE_PARTITIONS="2",
    )
    env.update({f"STORAGE_{key.upper()}": value for key, value in storage.items()})
    return env


def _start(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "prestacop_stream_storage", *args],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the JVM can be killed with it
        )


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + HANG_GUARD_S
    while not condition():
        if process.poll() is not None:
            pytest.fail(
                f"stream-storage exited early ({process.returncode}):\n{log.read_text()[-4000:]}"
            )
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail(f"hang guard: condition not met:\n{log.read_text()[-4000:]}")
        time.sleep(0.1)


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def _produce_all(kafka: KafkaSettings, sent: dict[str, list[Event]]) -> None:
    create_topics(kafka, topics.DATA_TOPICS, partitions=2)
    for name, events in sent.items():
        records = [(e.drone_id, samples.wire_value(e)) for e in events]
        produce(kafka, kafka.topic(DATASETS[name].topic), records)


KILLS = 3


# Four Spark starts of ten queries each: on a shared 2-core machine that can exceed the 10-min
# default; a hang is still caught by the per-wait HANG_GUARD_S.
@pytest.mark.timeout(1800)
def test_sigkill_mid_batch_several_times_then_restart_stores_every_event_exactly_once(
    spark: SparkSession,
    kafka_settings: KafkaSettings,
    spark_jars_dir: Path,
    nyc_data: Path,
    tmp_path: Path,
) -> None:
    k = 300
    sent: dict[str, list[Event]] = {
        "status": list(samples.drone_statuses(k)),
        "violations": list(samples.violations(k)),
        "alerts": list(samples.alerts(k)),
        "alert_resolutions": list(samples.alert_resolutions(k)),
        "tickets": list(samples.tickets(k, nyc_data)),
    }
    _produce_all(kafka_settings, sent)
    # Ticket values storage must quarantine, spread among the valid ones (T1 path).
    bad_tickets = [b"T2," + samples.wire_value(t)[3:] for t in sent["tickets"][:: k // 6]]
    produce(
        kafka_settings,
        kafka_settings.topic(topics.NYPD_TICKETS),
        [(b"bad", value) for value in bad_tickets],  # type: ignore[misc]
    )
    more_tickets = [
        t.model_copy(update={"event_id": f"second-{i}"})
        for i, t in enumerate(samples.tickets(k, nyc_data, seed=9))
    ]
    produce(
        kafka_settings,
        kafka_settings.topic(topics.NYPD_TICKETS),
        [(t.drone_id, samples.wire_value(t)) for t in more_tickets],
    )
    data_dir = tmp_path / "data"
    log = tmp_path / "stream-storage.log"
    env = _environment(
        kafka_settings,
        data_dir,
        spark_jars_dir,
        max_offsets_per_trigger="10",
        trigger_interval_s="0",
    )
    tickets_checkpoint = DATASETS["tickets"].checkpoint_dir(data_dir / "_checkpoints")

    for kill in range(KILLS):
        floor = last_committed_batch(tickets_checkpoint)

        def mid_batch(floor: int | None = floor) -> bool:
            committed = last_committed_batch(tickets_checkpoint)
            planned = tickets_checkpoint / "offsets" / str((committed or 0) + 1)
            return committed is not None and committed >= (floor or 0) + 2 and planned.exists()

        process = _start(env, log)
        _wait_for(mid_batch, process, log)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        assert committed_record_count(tickets_checkpoint) < 2 * k, f"kill {kill} came too late"

    # The restart takes what is left in one batch per query: the small batches were only
    # needed to catch the runs mid-work.
    second = _start(env | {"STORAGE_MAX_OFFSETS_PER_TRIGGER": "100000"}, log, "--available-now")
    assert second.wait(timeout=HANG_GUARD_S) == 0, log.read_text()[-4000:]

    sent["tickets"] += more_tickets
    for name, events in sent.items():
        dataset = DATASETS[name]
        stored = read_dataset(spark, dataset.output_dir(data_dir), dataset.model)
        ids = [row.event_id for row in stored.select("event_id").collect()]
        assert len(ids) == len(events), f"{name}: {len(ids)} rows stored for {len(events)} sent"
        assert set(ids) == {event.event_id for event in events}, name
    quarantined = read_quarantine(spark, DATASETS["tickets"].quarantine_dir(data_dir)).collect()
    assert sorted(row.raw_value.encode() for row in quarantined) == sorted(bad_tickets)


def test_sigterm_finishes_the_batch_and_exits_zero(
    spark: SparkSession,
    kafka_settings: KafkaSettings,
    spark_jars_dir: Path,
    tmp_path: Path,
) -> None:
    k = 50
    statuses = list(samples.drone_statuses(k))
    _produce_all(kafka_settings, {"status": statuses})
    data_dir = tmp_path / "data"
    log = tmp_path / "stream-storage.log"
    env = _environment(kafka_settings, data_dir, spark_jars_dir, trigger_interval_s="1")
    checkpoint = DATASETS["status"].checkpoint_dir(data_dir / "_checkpoints")

    service = _start(env, log, "--datasets", "status")
    _wait_for(lambda: committed_record_count(checkpoint) == k, service, log)
    service.send_signal(signal.SIGTERM)  # what `docker stop` does: the main process only
    assert service.wait(timeout=HANG_GUARD_S) == 0, log.read_text()[-4000:]
    deadline = time.monotonic() + 60
    while not _group_gone(service.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _group_gone(service.pid), "Spark's JVM outlived the service"
    assert "stream-storage stopped cleanly" in log.read_text()

    stored = read_dataset(spark, DATASETS["status"].output_dir(data_dir), DATASETS["status"].model)
    assert sorted(row.event_id for row in stored.collect()) == sorted(s.event_id for s in statuses)

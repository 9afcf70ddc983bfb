"""stream-storage throughput (Kafka → CSV rows/s) and lag after an ingest ends.

Starts a LocalKafka on free ports and stream-storage (``--datasets tickets``, the real CLI in a
child process) on an empty topic, then produces N tickets as fast as a plain producer of
pre-encoded bytes can (realistic T1 ticket lines: the real FY2017 sample rows as
``HistoricalTicket``, each with its own event id). While the producer runs and afterwards, it watches the
checkpoints: a batch counts as stored once committed (its files are in the sink log). Printed:

* producer rows/s (what arrives), storage rows/s over the run (first batch start → all stored)
  and Spark's own rate while busy (rows / batch time, from the service's progress log);
* lag: seconds between the producer's last acknowledged message and the moment the rows are
  stored (valid rows, and the quarantine query that reads the same topic);
* files written and their mean size.

    .venv/bin/python benchmarks/bench_stream_storage.py [--quick] [--rows N]
"""

from __future__ import annotations

import argparse
import csv
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import Producer
from storage_log import committed_batches, wait_until_stored

from prestacop_devkit.broker import LocalKafka
from prestacop_devkit.jars import ensure_spark_kafka_jars
from prestacop_shared import topics
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.sink_log import committed_files
from prestacop_shared.ticket_lines import encode_ticket
from prestacop_shared.tickets import detect_layout, ticket_from_source_row
from prestacop_shared.topic_admin import ensure_topics
from prestacop_stream_storage.datasets import DATASETS
from prestacop_stream_storage.progress import committed_record_count

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "tests" / "data" / "nyc" / "fy2017_head_10212_rows.csv"
EVENT_ID_MARK = b"@@EVENT@@"


def ticket_templates() -> list[bytes]:
    """The real sample rows as T1 ticket lines, with a mark where each message's event id goes."""
    with SAMPLE.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    layout = detect_layout(rows[0])
    emitted_at = datetime.now(UTC)
    templates = []
    for line, values in enumerate(rows[1:], start=2):
        ticket = ticket_from_source_row(
            layout, values, drone_id=f"nypd-archive-{line % 100}", latitude=40.7 + line % 97 / 1000,
            longitude=-73.9 - line % 89 / 1000, source_file=SAMPLE.name, source_line=line,
            event_id=EVENT_ID_MARK.decode(), emitted_at=emitted_at,
        )  # fmt: skip
        templates.append(encode_ticket(ticket))
    return templates


def produce(bootstrap: str, topic: str, rows: int, templates: list[bytes]) -> tuple[float, float]:
    """Produce ``rows`` tickets; return (start, end) monotonic times (end = all acknowledged)."""
    producer = Producer(
        KafkaSettings(bootstrap_servers=bootstrap).producer_config(
            linger_ms=20,
            batch_size=1_000_000,
            compression_type="lz4",
            queue_buffering_max_kbytes=1_048_576,
        )
    )
    count = len(templates)
    started = time.monotonic()
    for index in range(rows):
        value = templates[index % count].replace(EVENT_ID_MARK, b"bench-%d" % index)
        while True:
            try:
                producer.produce(topic, value=value)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    if producer.flush(120):
        raise RuntimeError("producer could not deliver everything")
    return started, time.monotonic()


def busy_rate(log: Path, query: str) -> tuple[float, int]:
    """Rows per second of busy batch time for ``query``, and its number of batches."""
    rows = 0
    busy_ms = 0
    batches = 0
    for record in committed_batches(log):
        if record.get("query") == query and record.get("duration_ms"):
            rows += int(record["rows_read"])
            busy_ms += int(record["duration_ms"])
            batches += 1
    return (rows / (busy_ms / 1000) if busy_ms else 0.0), batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200k rows instead of 1M")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--partitions", type=int, default=2, help="partitions of the topic")
    parser.add_argument("--trigger-interval-s", default="2")
    parser.add_argument("--max-offsets-per-trigger", default="1000000")
    args = parser.parse_args()
    rows = args.rows or (200_000 if args.quick else 1_000_000)

    jars_dir = ensure_spark_kafka_jars()[0].parent
    templates = ticket_templates()
    mean_bytes = sum(map(len, templates)) / len(templates)
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as scratch:
        work = Path(scratch)
        broker = LocalKafka.on_free_ports(work / "kafka", heap="1g")
        bootstrap = broker.start()
        service: subprocess.Popen[bytes] | None = None
        try:
            topic = topics.NYPD_TICKETS
            ensure_topics(
                KafkaSettings(bootstrap_servers=bootstrap),
                topics.topic_plan((topic,), partitions=args.partitions, replication_factor=1),
            )
            data_dir = work / "data"
            log = work / "stream-storage.log"
            env = dict(os.environ)
            env.update(
                KAFKA_BOOTSTRAP_SERVERS=bootstrap, STORAGE_DATA_DIR=str(data_dir),
                STORAGE_TRIGGER_INTERVAL_S=args.trigger_interval_s,
                STORAGE_MAX_OFFSETS_PER_TRIGGER=args.max_offsets_per_trigger,
                SPARK_KAFKA_JARS_DIR=str(jars_dir), SPARK_DRIVER_MEMORY="2g",
            )  # fmt: skip
            with log.open("wb") as sink:
                service = subprocess.Popen(
                    [sys.executable, "-m", "prestacop_stream_storage", "--datasets", "tickets"],
                    env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
                )  # fmt: skip
            dataset = DATASETS["tickets"]
            checkpoints = data_dir / "_checkpoints"
            store_checkpoint = dataset.checkpoint_dir(checkpoints)
            while '"storing"' not in log.read_text(errors="replace"):
                if service.poll() is not None:
                    raise RuntimeError(f"stream-storage exited:\n{log.read_text()[-3000:]}")
                time.sleep(0.2)

            print(f"producing {rows:,} tickets (~{mean_bytes:.0f} B of T1 each)...", flush=True)
            produce_start, produce_end = produce(bootstrap, topic, rows, templates)
            stored_at = wait_until_stored(
                {"store": store_checkpoint},
                lambda checkpoint: committed_record_count(checkpoint) >= rows,
                service,
                log,
                poll_s=0.1,
            )
            service.send_signal(signal.SIGTERM)
            exit_code = service.wait(timeout=300)

            files = [f.path for f in committed_files(dataset.output_dir(data_dir))]
            total_mb = sum(f.stat().st_size for f in files) / 1e6
            spark_rate, batches = busy_rate(log, "store-tickets")
            all_stored = max(stored_at.values())
            table = [
                ("rows produced", f"{rows:,}"),
                ("topic partitions", str(args.partitions)),
                ("trigger interval / max offsets", f"{args.trigger_interval_s} s / {args.max_offsets_per_trigger}"),
                ("producer rows/s", f"{rows / (produce_end - produce_start):,.0f}"),
                ("stored rows/s, produce start -> all stored", f"{rows / (all_stored - produce_start):,.0f}"),
                ("Spark rows/s while busy (store query)", f"{spark_rate:,.0f} over {batches} batches"),
                ("lag after last message (stored and quarantined)", f"{stored_at['store'] - produce_end:.1f} s"),
                ("CSV files written / mean size", f"{len(files)} / {total_mb / max(len(files), 1):.2f} MB"),
                ("CSV bytes per row", f"{total_mb * 1e6 / rows:.0f}"),
                ("SIGTERM exit code", str(exit_code)),
            ]  # fmt: skip
            width = max(len(label) for label, _ in table)
            print(
                f"\nstream-storage, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
            )
            for label, value in table:
                print(f"  {label:<{width}}  {value}")
        finally:
            if service is not None and service.poll() is None:
                os.killpg(service.pid, signal.SIGKILL)
            broker.stop()


if __name__ == "__main__":
    main()

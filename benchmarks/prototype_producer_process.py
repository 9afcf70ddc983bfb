"""Prototype, not product: would the csv-ingestor go faster with its producer in a second process?

The ingestor's two threads (read-ahead encoding, producing) mostly take turns on the GIL. Here this
process cuts and encodes the file exactly as the ingestor does (its ``BlockReader``), and a child
process that imports only ``confluent_kafka`` produces what it reads from a pipe, in transactions
every 5 s, with the ingestor's librdkafka settings. Printed: its rows/s, then the real ingestor's
(in this process, same broker) for comparison. Neither writes progress records or resumes.

    .venv/bin/python benchmarks/prototype_producer_process.py FILE.csv
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from prestacop_csv_ingestor.batch import EncodedBatch, FileContext
from prestacop_csv_ingestor.blocks import BlockReader
from prestacop_csv_ingestor.config import Settings
from prestacop_csv_ingestor.enrich import archive_fleet, prepare_positions
from prestacop_csv_ingestor.ingest import FileIngestor, producer_tuning
from prestacop_csv_ingestor.reader import open_tickets_file
from prestacop_csv_ingestor.summary import RepeatCounter
from prestacop_devkit.broker import LocalKafka
from prestacop_shared.kafka import KafkaSettings

HEADER = struct.Struct("<III")
"""Per batch: message count, key bytes, value bytes; then one (key end, value end) per message."""

CHILD = r"""
import json, struct, sys, time
from confluent_kafka import Producer
config, topic = json.loads(sys.argv[1]), sys.argv[2]
producer = Producer(config)
producer.init_transactions(60)
producer.begin_transaction()
stdin, header, committed = sys.stdin.buffer, struct.Struct("<III"), time.monotonic()
produce, poll = producer.produce, producer.poll
while len(head := stdin.read(header.size)) == header.size:
    count, key_bytes, value_bytes = header.unpack(head)
    ends = memoryview(stdin.read(8 * count)).cast("I")
    keys, values = stdin.read(key_bytes), stdin.read(value_bytes)
    key_at = value_at = 0
    for i in range(count):
        key, value = keys[key_at : ends[2 * i]], values[value_at : ends[2 * i + 1]]
        key_at, value_at = ends[2 * i], ends[2 * i + 1]
        while True:
            try:
                produce(topic, value, key)
                break
            except BufferError:
                poll(0.05)
    poll(0)
    if time.monotonic() - committed >= 5:
        producer.commit_transaction(120)
        producer.begin_transaction()
        committed = time.monotonic()
producer.commit_transaction(120)
producer.flush(60)
"""


def _frame(batch: EncodedBatch) -> bytes:
    keys = [key.encode() for key in batch.keys]
    values = [value.encode() for value in batch.values]
    ends = np.empty(2 * len(keys), dtype="<u4")
    ends[0::2] = np.cumsum([len(key) for key in keys])
    ends[1::2] = np.cumsum([len(value) for value in values])
    joined_keys, joined_values = b"".join(keys), b"".join(values)
    head = HEADER.pack(len(keys), len(joined_keys), len(joined_values))
    return head + ends.tobytes() + joined_keys + joined_values


def split_process(path: Path, kafka: KafkaSettings, settings: Settings) -> float:
    """Rows/s of encoding here and producing in a child process."""
    config = kafka.producer_config(
        transactional_id=f"prototype-{time.time_ns()}", **producer_tuning(settings)
    )
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(config), "prototype.tickets"],
        stdin=subprocess.PIPE,
    )
    if child.stdin is None:
        raise SystemExit("no pipe to the producing child")
    tickets_file = open_tickets_file(path)
    prepare_positions()
    context = FileContext(
        layout=tickets_file.layout, source_file=path.name, fingerprint="prototype",
        fleet=archive_fleet(settings.fleet, settings.fleet_size),
    )  # fmt: skip
    reader = BlockReader(
        path, context, settings, RepeatCounter(settings.repeated_expected_rows),
        offset=tickets_file.data_offset, line=2, end=tickets_file.size_bytes,
    )  # fmt: skip
    started, rows = time.monotonic(), 0
    for item in reader.items():
        if isinstance(item, EncodedBatch) and item.values:
            child.stdin.write(_frame(item))
            rows += len(item.values)
    child.stdin.close()
    if child.wait() != 0:
        raise SystemExit(f"the producing child failed with {child.returncode}")
    return rows / (time.monotonic() - started)


def main() -> None:
    path = Path(sys.argv[1])
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="prototype-kafka-") as folder:
        with LocalKafka.on_free_ports(Path(folder), heap="1g") as broker:
            kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers)
            figures: dict[str, list[float]] = {"split": [], "threads": []}
            for _ in range(2):  # alternating, so that neither gets the only cold broker
                figures["split"].append(split_process(path, kafka, settings))
                started = time.monotonic()
                summary = FileIngestor(settings, kafka).ingest(path)
                figures["threads"].append(summary.sent / (time.monotonic() - started))
                kafka = kafka.model_copy(update={"topic_prefix": f"again-{time.time_ns()}."})
    print(
        "encode here, produce in a child process:",
        ", ".join(f"{r:,.0f}" for r in figures["split"]),
        "rows/s",
    )
    print(
        "the csv-ingestor (two threads, one process):",
        ", ".join(f"{r:,.0f}" for r in figures["threads"]),
        "rows/s",
    )


if __name__ == "__main__":
    main()

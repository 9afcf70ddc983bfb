"""Reference paths the bulk benchmarks compare the services with, in the same run.

:func:`passthrough` is the ceiling of a Python producer on this machine and broker: it sends a
CSV file's data lines as they are (no parse, no check, no key), through the same librdkafka
settings as the csv-ingestor (idempotent, ``acks=all``, lz4, the ingestor's linger, batch and
queue sizes from :func:`prestacop_csv_ingestor.ingest.producer_tuning`) and, like the ingestor,
in transactions committed every ``INGESTOR_COMMIT_INTERVAL_S``. One ``produce`` call per line,
as the ingestor does: what is left between the two is the ingestor's own work per row.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Producer

from prestacop_csv_ingestor.config import Settings
from prestacop_csv_ingestor.ingest import producer_tuning
from prestacop_shared.kafka import KafkaSettings

BLOCK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Passthrough:
    """What the passthrough producer sent and how fast."""

    rows: int
    seconds: float
    bytes_sent: int

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def passthrough(
    path: Path,
    kafka: KafkaSettings,
    topic: str,
    settings: Settings | None = None,
    *,
    max_lines: int | None = None,
) -> Passthrough:
    """Send every data line of ``path`` (header skipped, line ending dropped) to ``topic``, or
    only about the first ``max_lines`` of them (whole blocks).

    Delivery: exactly once per run (transactions, flushed before it returns); it does not
    resume: a failed run is simply rerun on a fresh topic.
    """
    settings = settings or Settings()
    producer = Producer(
        kafka.producer_config(
            transactional_id=f"bench-passthrough-{time.time_ns()}", **producer_tuning(settings)
        )
    )
    producer.init_transactions(60)
    produce, poll = producer.produce, producer.poll
    rows = sent_bytes = 0
    started = time.monotonic()
    producer.begin_transaction()
    committed_at = started
    with path.open("rb") as handle:
        handle.readline()  # the header
        rest = b""
        while block := handle.read(BLOCK_BYTES):
            lines = (rest + block).split(b"\n")
            rest = lines.pop()
            for line in lines:
                value = line[:-1] if line.endswith(b"\r") else line
                while True:
                    try:
                        produce(topic, value)
                        break
                    except BufferError:  # the queue is full: wait for deliveries
                        poll(0.05)
            rows += len(lines)
            sent_bytes += len(block)
            poll(0)
            if max_lines is not None and rows >= max_lines:
                rest = b""
                break
            if time.monotonic() - committed_at >= settings.commit_interval_s:
                producer.commit_transaction(120)
                producer.begin_transaction()
                committed_at = time.monotonic()
        if rest.strip():
            produce(topic, rest[:-1] if rest.endswith(b"\r") else rest)
            rows += 1
    producer.commit_transaction(120)
    producer.flush(60)
    return Passthrough(rows=rows, seconds=time.monotonic() - started, bytes_sent=sent_bytes)


WARM_UP_LINES = 1_000_000


def warm_up(path: Path, kafka: KafkaSettings) -> None:
    """Send about the first million lines of ``path`` to a throwaway topic, untimed.

    A fresh broker is 20-30 % slower for its first seconds (JIT, new log segments), so whatever
    a benchmark times first would pay for it: warm it up before timing anything.
    """
    passthrough(path, kafka, f"bench.warm-up-{time.time_ns()}", max_lines=WARM_UP_LINES)

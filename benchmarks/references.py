"""Reference producers the benchmarks compare Prestacop's services with, on the same broker.

:func:`raw_passthrough` sends a file's data lines as they are (no parse, no check, no
transaction), lz4-compressed, with the producer settings of the bulk path: the ceiling a
Python producer of this file reaches on this machine, not a target.
"""

from __future__ import annotations

import time
from pathlib import Path

from confluent_kafka import Producer

from prestacop_shared.kafka import KafkaSettings


def raw_passthrough(bootstrap: str, topic: str, path: Path) -> tuple[int, float]:
    """Send every line after the header of ``path`` as one message; return (lines, seconds).

    Seconds run from opening the file to the last message acknowledged.
    """
    producer = Producer(
        KafkaSettings(bootstrap_servers=bootstrap).producer_config(
            linger_ms=20,
            batch_size=1_000_000,
            compression_type="lz4",
            queue_buffering_max_kbytes=1_048_576,
        )
    )
    started = time.monotonic()
    sent = 0
    with path.open("rb") as handle:
        handle.readline()
        for line in handle:
            while True:
                try:
                    producer.produce(topic, value=line.rstrip(b"\r\n"))
                    break
                except BufferError:
                    producer.poll(0.05)
            sent += 1
            if sent % 1000 == 0:
                producer.poll(0)
    if producer.flush(300):
        raise RuntimeError("the passthrough producer could not deliver everything")
    return sent, time.monotonic() - started

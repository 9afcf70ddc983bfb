"""csv-ingestor throughput and memory, beside the broker's own ceiling on the same machine.

Generates FY2017-format files (cached in ``.cache/bench/``), starts a LocalKafka on free ports,
ingests each file with the real CLI in a child process (peak RSS sampled with psutil), then runs
Kafka's ``ProducerPerformance`` with the same record count, the same average record size and the
same producer settings (acks=all, idempotent, lz4, linger 20 ms) on the same broker, and prints
the ratio.

    .venv/bin/python benchmarks/bench_csv_ingestor.py [--quick | --rows N ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

from prestacop_csv_ingestor import enrich
from prestacop_csv_ingestor.batch import FileContext, encode_batch
from prestacop_csv_ingestor.generate import generate_file
from prestacop_csv_ingestor.reader import open_tickets_file
from prestacop_csv_ingestor.records import split_records
from prestacop_devkit.broker import LocalKafka, free_port, producer_perf_test

CACHE = Path(__file__).resolve().parent.parent / ".cache" / "bench"


def bench_file(rows: int) -> Path:
    path = CACHE / f"fy2017_{rows}.csv"
    if not path.exists():
        started = time.monotonic()
        partial = path.with_suffix(".part")
        generate_file(partial, rows, year=2017, seed=rows)
        partial.rename(path)
        print(f"generated {path.name} in {time.monotonic() - started:.1f} s", flush=True)
    return path


def average_record_bytes(path: Path) -> int:
    """Mean JSON size of the first ~4 MB of tickets, as the ingestor encodes them."""
    tickets_file = open_tickets_file(path)
    context = FileContext(
        tickets_file.layout, path.name, "0" * 24, enrich.archive_fleet("nypd", 100)
    )
    with path.open("rb") as handle:
        handle.seek(tickets_file.data_offset)
        data = handle.read(4 * 1024 * 1024)
    split = split_records(
        data, 0, 2, eof=False, expected_columns=tickets_file.layout.column_count,
        max_record_bytes=65536, max_record_lines=16,
    )  # fmt: skip
    batch = encode_batch(context, data, split, datetime.now(UTC))
    return round(sum(len(v) for v in batch.values) / len(batch.values))


def ingest(path: Path, bootstrap: str, prefix: str) -> dict[str, float]:
    env = dict(os.environ, KAFKA_BOOTSTRAP_SERVERS=bootstrap, KAFKA_TOPIC_PREFIX=prefix)
    env["INGESTOR_LOG_LEVEL"] = "WARNING"
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "prestacop_csv_ingestor", "ingest", "--json", str(path)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    peak = [0]
    child = psutil.Process(process.pid)

    def sample() -> None:
        while process.poll() is None:
            try:
                peak[0] = max(peak[0], child.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    wall = time.monotonic() - started
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"ingest failed ({process.returncode}):\n{stderr[-3000:]}")
    summary = json.loads(stdout)
    entry = summary["files"][0]
    return {
        "rows": entry["sent"],
        "rows_per_s": entry["rows_per_s"],
        "wall_rows_per_s": entry["sent"] / wall,
        # psutil samples (every 0.1 s) and the child's own VmHWM, in MB (10^6 bytes).
        "peak_rss_mb": max(peak[0] / 1e6, summary["peak_rss_mb"] * 1.048576),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="500k rows only (< 2 min)")
    parser.add_argument(
        "--rows", type=int, action="append", help="file size(s) to run instead (repeatable)"
    )
    args = parser.parse_args()
    sizes = args.rows or ([500_000] if args.quick else [1_000_000, 10_000_000])
    CACHE.mkdir(parents=True, exist_ok=True)
    files = {rows: bench_file(rows) for rows in sizes}
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-kafka-") as data_dir:
        broker = LocalKafka(
            Path(data_dir), port=free_port(), controller_port=free_port(), heap="1g"
        )
        bootstrap = broker.start(timeout_s=120)
        try:
            for rows, path in files.items():
                size = average_record_bytes(path)
                measured = ingest(path, bootstrap, f"bench-{rows}.")
                ceiling = producer_perf_test(
                    bootstrap, f"bench-perf-{rows}", rows, size,
                    extra_props={"enable.idempotence": "true", "compression.type": "lz4",
                                 "linger.ms": "20"},
                    timeout_s=1800,
                )  # fmt: skip
                results.append((rows, path, size, measured, ceiling.records_per_s))
        finally:
            broker.stop()
    print()
    print(f"csv-ingestor, {os.cpu_count()} cores, load average now {os.getloadavg()[0]:.1f}")
    header = (
        f"{'rows':>11} {'file MB':>8} {'record B':>9} {'ingest rows/s':>14} "
        f"{'wall rows/s':>12} {'broker rows/s':>14} {'ratio':>6} {'peak RSS MB':>12}"
    )
    print(header)
    print("-" * len(header))
    for rows, path, size, measured, ceiling in results:
        print(
            f"{rows:>11,} {path.stat().st_size / 1e6:>8,.0f} {size:>9} "
            f"{measured['rows_per_s']:>14,.0f} {measured['wall_rows_per_s']:>12,.0f} "
            f"{ceiling:>14,.0f} {measured['rows_per_s'] / ceiling:>6.2f} "
            f"{measured['peak_rss_mb']:>12,.0f}"
        )
    print("targets: >= 270,000 rows/s, <= 300 MB peak RSS whatever the file size")


if __name__ == "__main__":
    main()

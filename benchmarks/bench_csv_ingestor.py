"""csv-ingestor throughput and memory, beside a raw passthrough producer in the same run.

Generates FY2017-format files (cached in ``.cache/bench/``), starts a LocalKafka on free ports,
ingests each file with the real CLI in a child process (peak RSS sampled with psutil), then sends
the same file's lines as they are with :func:`references.passthrough` (same broker, same
librdkafka settings, transactions) and prints the ratio of the two rates (goal >= 0.7), with the
load average after each.

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
from prestacop_devkit.broker import LocalKafka
from prestacop_shared.kafka import KafkaSettings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from references import passthrough, warm_up  # noqa: E402  (a sibling script, not a package)

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
    """Mean T1 value size of the first ~4 MB of tickets, as the ingestor encodes them."""
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
        broker = LocalKafka.on_free_ports(Path(data_dir), heap="1g")
        bootstrap = broker.start()
        try:
            print("warming the broker up (1M lines to a throwaway topic)...", flush=True)
            warm_up(next(iter(files.values())), KafkaSettings(bootstrap_servers=bootstrap))
            for rows, path in files.items():
                size = average_record_bytes(path)
                measured = ingest(path, bootstrap, f"bench-{rows}.")
                load_ingest = os.getloadavg()[0]
                kafka = KafkaSettings(bootstrap_servers=bootstrap)
                reference = passthrough(path, kafka, f"bench-passthrough-{rows}")
                load_reference = os.getloadavg()[0]
                results.append(
                    (rows, path, size, measured, reference.rows_per_s, load_ingest, load_reference)
                )
        finally:
            broker.stop()
    print()
    print(f"csv-ingestor beside a raw passthrough producer, {os.cpu_count()} cores")
    header = (
        f"{'rows':>11} {'file MB':>8} {'value B':>8} {'ingest rows/s':>14} "
        f"{'wall rows/s':>12} {'passthrough rows/s':>19} {'ratio':>6} {'peak RSS MB':>12} "
        f"{'load (ingest, passthrough)':>27}"
    )
    print(header)
    print("-" * len(header))
    for rows, path, size, measured, ceiling, load_ingest, load_reference in results:
        print(
            f"{rows:>11,} {path.stat().st_size / 1e6:>8,.0f} {size:>8} "
            f"{measured['rows_per_s']:>14,.0f} {measured['wall_rows_per_s']:>12,.0f} "
            f"{ceiling:>19,.0f} {measured['rows_per_s'] / ceiling:>6.2f} "
            f"{measured['peak_rss_mb']:>12,.0f} {load_ingest:>13.1f}, {load_reference:>11.1f}"
        )
    print("goals: ratio >= 0.7 of the passthrough, <= 300 MB peak RSS whatever the file size")


if __name__ == "__main__":
    main()

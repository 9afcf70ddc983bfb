# ruff: noqa: S608 - SQL assembled from the catalogue's column names and committed paths
"""The bulk transfer end to end: a full fiscal year, CSV → csv-ingestor → Kafka → stream-storage.

One run on a fresh LocalKafka (free ports), everything on this machine's cores:

1. a FY2017-format file of ``--rows`` data lines (default 10.8M, ≈ 2 GB; with bad lines of
   every kind), generated once with ``prestacop-csv-ingestor generate`` and cached under
   ``.cache/bench-bulk/``;
2. the raw passthrough reference (:func:`references.passthrough`: the file's lines as they
   are, the ingestor's producer settings) into a topic of its own, for the ingest ratio;
3. stream-storage (the real CLI, ``--datasets tickets``) started and storing, then the
   csv-ingestor (the real CLI) ingesting the file beside it; the clock runs from the ingestor's
   start (before its first byte read) until storage's checkpoint has committed every offset the
   ingestor wrote (the last row is in the sink log);
4. a Spark text-copy query on the same topic (Kafka value → text file sink, no partitioning,
   availableNow, same batch size), for the storage ratio; then the real stream-storage alone
   on the same topic (``--available-now``, fresh folders), for its rate when it has the cores
   to itself: beside the ingestor storage keeps up, so its busy rate there is bounded by what
   arrives, not by what it can do;
5. the ceiling of the ingest ratio on this machine: the same passthrough, up to half the file,
   into a fresh topic while the real stream-storage catches up on the whole tickets topic again
   (fresh folders, ``--available-now``), so that storage runs flat out beside it, as it would
   have to beside an ingestor sending at 0.7 of the passthrough (more than storage can store).
   The ingestor does strictly more work per row than the passthrough, so no ingestor can reach
   a higher ratio than this one beside storage on these cores;
6. the exactness check, by a reader that is not the storage code: the committed files from
   the sink's own log (:func:`prestacop_shared.sink_log.committed_files`) read by DuckDB
   (headerless, per the catalogue), the quarantine the same way, and the dead-letter topic;
   every data line must be stored exactly once or dead-lettered/quarantined with a reason.

    .venv/bin/python benchmarks/bench_bulk.py [--rows N]   (make bench-bulk)

Printed figures are measurements of one run, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb
from confluent_kafka import Consumer, TopicPartition
from references import Passthrough, passthrough, warm_up
from storage_log import committed_batches, wait_until_stored

from prestacop_devkit.broker import LocalKafka
from prestacop_devkit.jars import ensure_spark_kafka_jars
from prestacop_shared import datasets, topics
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.sink_log import committed_files
from prestacop_shared.spark import PARTITION_COLUMN, QUARANTINE_SCHEMA
from prestacop_shared.topic_admin import ensure_topics
from prestacop_stream_storage.progress import committed_end_offsets

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "bench-bulk"
FULL_ROWS = 10_800_000
BAD_LINES_PER_KIND = 10
TICKETS = datasets.TICKETS
PASSTHROUGH_TOPIC = "bench.passthrough"


def bench_file(rows: int) -> Path:
    """The cached generated file of ``rows`` data lines (generated on first use)."""
    path = CACHE / f"fy2017-{rows}-rows.csv"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".csv.tmp")
        started = time.monotonic()
        subprocess.run(
            [
                sys.executable, "-m", "prestacop_csv_ingestor", "generate", "--out", str(partial),
                "--rows", str(rows), "--year", "2017", "--bad-lines", str(BAD_LINES_PER_KIND),
            ],
            check=True,
        )  # fmt: skip
        partial.rename(path)
        print(f"generated {path.name} in {time.monotonic() - started:.0f} s", flush=True)
    return path


class LoadSampler(threading.Thread):
    """The 1-minute load average, sampled every second."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(1.0):
            self.samples.append(os.getloadavg()[0])


def high_watermarks(kafka: KafkaSettings, topic: str) -> dict[int, int]:
    consumer = Consumer(kafka.consumer_config("bench-bulk-marks"))
    try:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
            for p in partitions
        }
    finally:
        consumer.close()


def reached(checkpoint: Path, topic: str, marks: dict[int, int]) -> bool:
    ends = committed_end_offsets(checkpoint).get(topic, {})
    return all(ends.get(p, 0) >= end for p, end in marks.items())


def batch_stats(log: Path) -> dict[str, tuple[int, float, int]]:
    """Per query: rows read, busy seconds (sum of trigger times), batches — from its log."""
    stats: dict[str, list[float]] = {}
    for record in committed_batches(log):
        entry = stats.setdefault(record["query"], [0, 0.0, 0])
        entry[0] += int(record.get("rows_read") or 0)
        entry[1] += int(record.get("duration_ms") or 0) / 1000
        entry[2] += 1
    return {name: (int(r), s, int(b)) for name, (r, s, b) in stats.items()}


PARTITION_VARIANTS: dict[str, tuple[int | None, int]] = {
    "none": (None, 0),
    "day, rows sorted by date per task": (10, 0),
    "day, open files per date": (10, 512),
    "month, open files per month (storage's way)": (7, 512),
}
"""Text-copy variants: (characters of the T1 date taken as partition value, open files per task)."""


def text_copy(
    bootstrap: str, topic: str, out: Path, max_offsets: str, variant: str = "none"
) -> tuple[int, float, float]:
    """Spark: the topic's values → text file sink, partitioned as ``variant`` (availableNow).

    Returns (rows, wall seconds of the query, busy seconds summed over its batches).
    """
    from pyspark.sql import functions as F

    from prestacop_shared.spark import SparkSettings, build_spark_session

    date_chars, open_files = PARTITION_VARIANTS[variant]
    spark = build_spark_session(
        "bench-bulk-text-copy",
        SparkSettings(master_url="local[2]", shuffle_partitions=2),
        extra_config={"spark.sql.maxConcurrentOutputFileWriters": str(open_files)},
    )
    try:
        source = (
            spark.readStream.format("kafka")
            .options(**KafkaSettings(bootstrap_servers=bootstrap).spark_options())
            .option("subscribe", topic)
            .option("startingOffsets", "earliest")
            .option("maxOffsetsPerTrigger", max_offsets)
            .load()
        )
        values = source.selectExpr("CAST(value AS STRING) AS value")
        writer = values.writeStream.format("text")
        if date_chars is not None:
            values = values.withColumn("part", F.substring("value", 4, date_chars))
            writer = values.writeStream.format("text").partitionBy("part")
        started = time.monotonic()
        query = (
            writer.option("checkpointLocation", str(out / "_checkpoint"))
            .trigger(availableNow=True)
            .start(str(out / "data"))
        )
        rows = 0
        busy = 0.0
        seen: set[int] = set()
        while query.isActive:
            for progress in query.recentProgress:
                if progress["batchId"] not in seen:
                    seen.add(progress["batchId"])
                    rows += int(progress["numInputRows"])
                    busy += progress["durationMs"].get("triggerExecution", 0) / 1000
            time.sleep(0.5)
        query.awaitTermination()
        wall = time.monotonic() - started
        for progress in query.recentProgress:
            if progress["batchId"] not in seen:
                seen.add(progress["batchId"])
                rows += int(progress["numInputRows"])
                busy += progress["durationMs"].get("triggerExecution", 0) / 1000
        return rows, wall, busy
    finally:
        spark.stop()


def _read_csv_sql(files: list[str], names: list[str], header: bool) -> str:
    columns = "{" + ", ".join(f"'{name}': 'VARCHAR'" for name in names) + "}"
    return (
        f"read_csv({files!r}, header={str(header).lower()}, columns={columns}, quote='\"', "
        "escape='\"', allow_quoted_nulls=false, auto_detect=false, hive_partitioning=false)"
    )


def exactness(data_dir: Path, kafka: KafkaSettings, rows: int) -> list[tuple[str, str]]:
    """Every data line (2 .. rows + 1) stored once or dead-lettered/quarantined with a reason.

    Reads only through the sink logs (DuckDB on the committed files) and the dead-letter topic.
    """
    folder = TICKETS.output_dir(data_dir)
    header = datasets.files_carry_header(folder)
    names = (
        list(TICKETS.file_columns)
        if header
        else TICKETS.header_file(data_dir).read_text(encoding="utf-8").strip().split(",")
    )
    files = [str(f.path) for f in committed_files(folder)]
    started = time.monotonic()
    con = duckdb.connect()
    con.execute("SET threads = 2")
    stored, distinct, low, high = con.execute(
        "SELECT count(*), count(DISTINCT source_line), min(CAST(source_line AS BIGINT)), "
        f"max(CAST(source_line AS BIGINT)) FROM {_read_csv_sql(files, names, header)}"
    ).fetchone()  # type: ignore[misc]
    duck_s = time.monotonic() - started
    stored_lines = {
        int(line)
        for (line,) in con.execute(
            f"SELECT CAST(source_line AS BIGINT) FROM {_read_csv_sql(files, names, header)}"  # noqa: S608
        ).fetchall()
    }
    quarantine = TICKETS.quarantine_dir(data_dir)
    quarantined = 0
    if quarantine.is_dir() and committed_files(quarantine):
        q_names = [n for n in QUARANTINE_SCHEMA.fieldNames() if n != PARTITION_COLUMN]
        q_files = [str(f.path) for f in committed_files(quarantine)]
        quarantined, without_reason = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE reason IS NULL OR reason = '') FROM "
            + _read_csv_sql(q_files, q_names, datasets.files_carry_header(quarantine))
        ).fetchone()  # type: ignore[misc]
        if without_reason:
            raise AssertionError(f"{without_reason} quarantined records without a reason")
    dead = dead_letters(kafka, kafka.topic(topics.NYPD_TICKETS_DLQ))
    dead_lines = Counter(line for line, _reason in dead)
    missing = set(range(2, rows + 2)) - stored_lines - set(dead_lines)
    both = stored_lines & set(dead_lines)
    verdict = (
        stored == distinct
        and not missing
        and not both
        and all(count == 1 for count in dead_lines.values())
        and all(reason for _line, reason in dead)
        and quarantined == 0
    )
    return [
        ("stored rows (DuckDB over the sink log)", f"{stored:,} ({distinct:,} distinct lines, {low}..{high}), read in {duck_s:.0f} s"),
        ("dead-lettered lines (with reason)", f"{len(dead):,}: {dict(Counter(r.split(':')[0] for _, r in dead))}"),
        ("quarantined by storage", f"{quarantined:,}"),
        ("lines missing / stored and dead-lettered", f"{len(missing):,} / {len(both):,}"),
        ("exactly once", "yes" if verdict else "NO"),
    ]  # fmt: skip


def dead_letters(kafka: KafkaSettings, topic: str) -> list[tuple[int, str]]:
    """(line, reason) of every committed dead letter of ``topic``."""
    consumer = Consumer(kafka.consumer_config("bench-bulk-dlq") | {"auto.offset.reset": "earliest"})
    marks = high_watermarks(kafka, topic)
    consumer.assign([TopicPartition(topic, p, 0) for p in marks])
    found: list[tuple[int, str]] = []
    done: set[int] = {p for p, end in marks.items() if end == 0}
    deadline = time.monotonic() + 120
    try:
        while len(done) < len(marks) and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None or message.error():
                positions = consumer.position([TopicPartition(topic, p) for p in marks])
                done |= {tp.partition for tp in positions if tp.offset >= marks[tp.partition]}
                continue
            letter = json.loads(message.value() or b"{}")
            line = int(re.sub(r"^.*:", "", letter["source"]))
            found.append((line, letter["reason"]))
            if (message.offset() or 0) + 2 >= marks[message.partition() or 0]:
                positions = consumer.position([TopicPartition(topic, p) for p in marks])
                done |= {tp.partition for tp in positions if tp.offset >= marks[tp.partition]}
    finally:
        consumer.close()
    return found


def main() -> None:  # noqa: PLR0915 - one linear script of one run
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=FULL_ROWS, help="data lines of the file")
    parser.add_argument("--partitions", type=int, default=os.cpu_count() or 2,
                        help="partitions of nypd.tickets (default: one per core)")  # fmt: skip
    parser.add_argument("--trigger-interval-s", default="5")
    parser.add_argument("--max-offsets-per-trigger", default="2000000")
    parser.add_argument("--min-partitions", default=None)
    parser.add_argument(
        "--partition-figures",
        action="store_true",
        help="also time text copies partitioned by day (sorted / open files) and by month",
    )
    parser.add_argument("--keep", type=Path, default=None,
                        help="work here and keep it (else a temporary folder, removed at the end)")  # fmt: skip
    args = parser.parse_args()

    source = bench_file(args.rows)
    jars_dir = ensure_spark_kafka_jars()[0].parent
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-bulk-"))
    broker = LocalKafka.on_free_ports(work / "kafka", heap="1g")
    bootstrap = broker.start()
    kafka = KafkaSettings(bootstrap_servers=bootstrap)
    sampler = LoadSampler()
    storage: subprocess.Popen[bytes] | None = None
    try:
        ensure_topics(kafka, topics.topic_plan(
            (topics.NYPD_TICKETS, topics.NYPD_TICKETS_DLQ, topics.NYPD_INGEST_PROGRESS),
            partitions=args.partitions, dlq_partitions=1, replication_factor=1,
        ))  # fmt: skip
        print("warming the broker up (1M lines to a throwaway topic)...", flush=True)
        warm_up(source, kafka)
        print(f"passthrough reference: {source.name} ({source.stat().st_size / 1e9:.2f} GB)...",
              flush=True)  # fmt: skip
        reference = passthrough(source, kafka, PASSTHROUGH_TOPIC)
        pass_rows, pass_s = reference.rows, reference.seconds

        data_dir = work / "data"
        log = work / "stream-storage.log"
        env = dict(os.environ) | {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "STORAGE_DATA_DIR": str(data_dir),
            "STORAGE_TRIGGER_INTERVAL_S": args.trigger_interval_s,
            "STORAGE_MAX_OFFSETS_PER_TRIGGER": args.max_offsets_per_trigger,
            "SPARK_KAFKA_JARS_DIR": str(jars_dir), "SPARK_MASTER_URL": "local[2]",
            "SPARK_DRIVER_MEMORY": "1g",
        }  # fmt: skip
        if args.min_partitions:
            env["STORAGE_MIN_KAFKA_PARTITIONS"] = args.min_partitions
        storage = start_storage(env, log)

        print(f"ingesting {args.rows:,} lines beside stream-storage...", flush=True)
        sampler.start()
        ingest_env = dict(os.environ) | {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "INGESTOR_LOG_LEVEL": "WARNING",
        }  # fmt: skip
        ingest_out, ingest_err = work / "ingest.json", work / "ingest.stderr"
        started = time.monotonic()
        with ingest_out.open("wb") as out_sink, ingest_err.open("wb") as err_sink:
            ingestor = subprocess.Popen(
                [sys.executable, "-m", "prestacop_csv_ingestor", "ingest", "--json", str(source)],
                env=ingest_env, stdout=out_sink, stderr=err_sink,
            )  # fmt: skip
            # wait4 gives the child's own peak RSS (ru_maxrss, KiB on Linux).
            _, status, usage = os.wait4(ingestor.pid, 0)
        ingest_done = time.monotonic()
        ingestor.returncode = os.waitstatus_to_exitcode(status)
        if ingestor.returncode != 0:
            raise RuntimeError(
                f"the ingestor failed ({ingestor.returncode}):\n{ingest_err.read_text()[-3000:]}"
            )
        out = ingest_out.read_text()
        summary = json.loads(out) if out.strip() else {}
        topic = topics.NYPD_TICKETS
        marks = high_watermarks(kafka, topic)
        dataset_checkpoints = data_dir / "_checkpoints"
        store_checkpoint = TICKETS.checkpoint_dir(dataset_checkpoints)
        stored_at = wait_until_stored(
            {"store": store_checkpoint},
            lambda checkpoint: reached(checkpoint, topic, marks),
            storage,
            log,
        )
        sampler.done.set()
        storage.send_signal(signal.SIGTERM)
        storage.wait(timeout=300)
        stats = batch_stats(log)

        print("Spark text-copy reference on the same topic...", flush=True)
        copy_rows, copy_wall, copy_busy = text_copy(
            bootstrap, topic, work / "text-copy", args.max_offsets_per_trigger
        )
        print("stream-storage alone on the same topic (catch-up, fresh folders)...", flush=True)
        catch_up_log = work / "catch-up.log"
        with catch_up_log.open("wb") as sink:
            subprocess.run(
                [sys.executable, "-m", "prestacop_stream_storage", "--datasets", "tickets",
                 "--available-now"],
                env=env | {"STORAGE_DATA_DIR": str(work / "catch-up")},
                stdout=sink, stderr=subprocess.STDOUT, check=True, timeout=3600,
            )  # fmt: skip
        alone_rows, alone_busy, alone_batches = batch_stats(catch_up_log).get(
            "store-tickets", (0, 0.0, 0)
        )
        shutil.rmtree(work / "catch-up", ignore_errors=True)
        print("passthrough beside stream-storage running flat out (the ratio's ceiling)...",
              flush=True)  # fmt: skip
        beside = passthrough_beside_storage(
            source, kafka, env | {"STORAGE_DATA_DIR": str(work / "catch-up")}, work, args.rows // 2
        )
        shutil.rmtree(work / "catch-up", ignore_errors=True)
        variants: list[tuple[str, str]] = []
        for variant in list(PARTITION_VARIANTS)[1:] if args.partition_figures else []:
            v_rows, v_wall, v_busy = text_copy(
                bootstrap, topic, work / f"copy-{len(variants)}", args.max_offsets_per_trigger,
                variant,
            )  # fmt: skip
            variants.append(
                (f"Spark text copy, partitioned by {variant}",
                 f"{v_wall:.1f} s wall, busy {v_rows / max(v_busy, 1e-9):,.0f} rows/s")
            )  # fmt: skip
        print("exactness check (DuckDB over the sink log, the dead-letter topic)...", flush=True)
        exact = exactness(data_dir, kafka, args.rows)

        rows = args.rows
        ingest_s = ingest_done - started
        store_rows, store_busy, store_batches = stats.get("store-tickets", (0, 0.0, 0))
        end_to_end = stored_at["store"] - started
        peak_rss_mb = f"{usage.ru_maxrss / 1024:.0f} MB (wait4 ru_maxrss)"
        table = [
            ("file", f"{source.name}, {source.stat().st_size / 1e9:.2f} GB, {rows:,} data lines"),
            ("topic partitions / trigger / max offsets", f"{args.partitions} / {args.trigger_interval_s} s / {args.max_offsets_per_trigger}"),
            ("first byte read -> last row committed (goal <= 120 s)", f"{end_to_end:.1f} s"),
            ("ingest (csv-ingestor, beside storage)", f"{ingest_s:.1f} s, {rows / ingest_s:,.0f} rows/s"),
            ("raw passthrough (same file, lz4, same broker)", f"{pass_s:.1f} s, {pass_rows / pass_s:,.0f} rows/s"),
            ("ingest / passthrough (goal >= 0.7)", f"{(rows / ingest_s) / (pass_rows / pass_s):.2f}"),
            ("passthrough beside storage running flat out (first half of the file)", f"{beside.reference.rows_per_s:,.0f} rows/s, storage busy throughout: {'yes' if beside.storage_busy_throughout else 'NO'}"),
            ("  = ceiling of ingest / passthrough beside storage", f"{beside.reference.rows_per_s / (pass_rows / pass_s):.2f}"),
            ("storage rows/s, first byte -> stored", f"{rows / end_to_end:,.0f}"),
            ("storage busy rows/s (one query: stored lines + quarantine)", f"{store_rows / max(store_busy, 1e-9):,.0f} over {store_batches} batches, {store_busy:.0f} s busy"),
            ("Spark text copy, no partitioning", f"{copy_wall:.1f} s wall, {copy_rows / copy_wall:,.0f} rows/s; busy {copy_rows / max(copy_busy, 1e-9):,.0f} rows/s"),
            *variants,
            ("storage / text copy, busy rates (goal >= 0.5)", f"{(store_rows / max(store_busy, 1e-9)) / (copy_rows / max(copy_busy, 1e-9)):.2f}"),
            ("storage alone, catching up on the whole topic", f"{alone_rows:,} rows over {alone_batches} batches, busy {alone_rows / max(alone_busy, 1e-9):,.0f} rows/s"),
            ("storage alone / text copy, busy rates", f"{(alone_rows / max(alone_busy, 1e-9)) / (copy_rows / max(copy_busy, 1e-9)):.2f}"),
            ("storage lag after the ingestor's last commit (goal <= 30 s)", f"{stored_at['store'] - ingest_done:.1f} s"),
            ("ingestor peak RSS", peak_rss_mb),
        ("ingestor summary", json.dumps({k: v for k, v in summary.items() if not isinstance(v, (dict, list))})[:300]),
            ("load average 1 min: max during run / at end", f"{max(sampler.samples, default=0):.1f} / {os.getloadavg()[0]:.1f}"),
            ("stored files / bytes", stored_size(data_dir)),
            *exact,
        ]  # fmt: skip
        width = max(len(label) for label, _ in table)
        print(f"\nbulk transfer, {os.cpu_count()} cores")
        for label, value in table:
            print(f"  {label:<{width}}  {value}")
    finally:
        sampler.done.set()
        if storage is not None and storage.poll() is None:
            os.killpg(storage.pid, signal.SIGKILL)
        broker.stop()
        if args.keep is None:
            # ~10 GB at full size (the broker's two topics and the stored CSV): never left behind.
            shutil.rmtree(work, ignore_errors=True)


def start_storage(env: dict[str, str], log: Path, *options: str) -> subprocess.Popen[bytes]:
    """The real stream-storage storing the tickets (its own process group), once it says so."""
    with log.open("wb") as sink:
        storage = subprocess.Popen(
            [sys.executable, "-m", "prestacop_stream_storage", "--datasets", "tickets", *options],
            env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    while '"storing"' not in log.read_text(errors="replace"):
        if storage.poll() is not None:
            raise RuntimeError(f"stream-storage exited:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    return storage


@dataclass(frozen=True)
class Beside:
    """The passthrough measured while stream-storage ran beside it."""

    reference: Passthrough
    storage_busy_throughout: bool
    """Storage was still catching up when the passthrough ended (else the figure flatters)."""


def passthrough_beside_storage(
    source: Path, kafka: KafkaSettings, env: dict[str, str], work: Path, max_lines: int
) -> Beside:
    """The passthrough of up to ``max_lines`` lines while stream-storage catches up flat out.

    Storage (fresh folders, ``--available-now``) reads the whole tickets topic again; the
    passthrough starts once its first batch runs and sends to a fresh topic of its own.
    """
    storage = start_storage(env, work / "beside.log", "--available-now")
    try:
        reference = passthrough(source, kafka, f"{PASSTHROUGH_TOPIC}-beside", max_lines=max_lines)
        return Beside(reference, storage_busy_throughout=storage.poll() is None)
    finally:
        if storage.poll() is None:
            os.killpg(storage.pid, signal.SIGKILL)
        storage.wait()


def stored_size(data_dir: Path) -> str:
    files = committed_files(TICKETS.output_dir(data_dir))
    total = sum(f.path.stat().st_size for f in files)
    return f"{len(files):,} / {total / 1e9:.2f} GB"


if __name__ == "__main__":
    main()

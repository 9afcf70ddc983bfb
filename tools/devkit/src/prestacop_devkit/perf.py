"""Kafka's own perf tools (``ProducerPerformance``, ``ConsumerPerformance``), run and parsed.

They run from the same jars as :class:`prestacop_devkit.broker.LocalKafka`, as a baseline for what
the broker can take on this machine before any Python code is involved.
"""

from __future__ import annotations

import logging
import re
import subprocess
from dataclasses import dataclass

from prestacop_devkit.exceptions import PerfToolError
from prestacop_devkit.jars import java_executable, kafka_classpath

logger = logging.getLogger(__name__)

_PRODUCER_SUMMARY = re.compile(
    r"(?P<records>\d+) records sent, (?P<records_per_s>[\d.]+) records/sec "
    r"\((?P<mb_per_s>[\d.]+) MB/sec\), (?P<avg_latency_ms>[\d.]+) ms avg latency, "
    r"(?P<max_latency_ms>[\d.]+) ms max latency, (?P<p50_ms>\d+) ms 50th, (?P<p95_ms>\d+) ms 95th, "
    r"(?P<p99_ms>\d+) ms 99th, (?P<p999_ms>\d+) ms 99\.9th"
)
_CONSUMER_HEADER = "start.time, end.time, data.consumed.in.MB"
# Java formats decimals with the JVM locale; pin it so "12.5" is never printed "12,5".
_JVM_LOCALE = ["-Duser.language=en", "-Duser.country=US"]


@dataclass(frozen=True)
class PerfResult:
    """Final summary of ``ProducerPerformance``."""

    records: int
    records_per_s: float
    mb_per_s: float
    avg_latency_ms: float
    max_latency_ms: float
    p50_latency_ms: int
    p95_latency_ms: int
    p99_latency_ms: int
    p999_latency_ms: int


@dataclass(frozen=True)
class ConsumerPerfResult:
    """Summary of ``ConsumerPerformance``."""

    records: int
    records_per_s: float
    mb: float
    mb_per_s: float
    rebalance_time_ms: int
    fetch_time_ms: int


def parse_producer_perf_output(output: str) -> PerfResult:
    """Parse the final summary line of ``ProducerPerformance``.

    Progress lines (printed every 5 s, without percentiles) are skipped.

    Example:
        >>> parse_producer_perf_output(
        ...     "10 records sent, 5.0 records/sec (0.01 MB/sec), 3.10 ms avg latency, "
        ...     "9.00 ms max latency, 2 ms 50th, 8 ms 95th, 9 ms 99th, 9 ms 99.9th."
        ... ).records_per_s
        5.0

    Raises:
        PerfToolError: no final summary in ``output``.
    """
    matches = list(_PRODUCER_SUMMARY.finditer(output))
    if not matches:
        raise PerfToolError(f"no ProducerPerformance summary line in output:\n{output[-2000:]}")
    found = matches[-1]
    return PerfResult(
        records=int(found["records"]),
        records_per_s=float(found["records_per_s"]),
        mb_per_s=float(found["mb_per_s"]),
        avg_latency_ms=float(found["avg_latency_ms"]),
        max_latency_ms=float(found["max_latency_ms"]),
        p50_latency_ms=int(found["p50_ms"]),
        p95_latency_ms=int(found["p95_ms"]),
        p99_latency_ms=int(found["p99_ms"]),
        p999_latency_ms=int(found["p999_ms"]),
    )


def parse_consumer_perf_output(output: str) -> ConsumerPerfResult:
    """Parse the header and values lines ``ConsumerPerformance`` prints at the end.

    Raises:
        PerfToolError: no header followed by a values line in ``output``.
    """
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].startswith(_CONSUMER_HEADER) and index + 1 < len(lines):
            row = dict(
                zip(
                    (name.strip() for name in lines[index].split(",")),
                    (value.strip() for value in lines[index + 1].split(",")),
                    strict=False,
                )
            )
            try:
                return ConsumerPerfResult(
                    records=int(row["data.consumed.in.nMsg"]),
                    records_per_s=float(row["nMsg.sec"]),
                    mb=float(row["data.consumed.in.MB"]),
                    mb_per_s=float(row["MB.sec"]),
                    rebalance_time_ms=int(row["rebalance.time.ms"]),
                    fetch_time_ms=int(row["fetch.time.ms"]),
                )
            except (KeyError, ValueError) as exc:
                raise PerfToolError(f"unexpected ConsumerPerformance output: {row}") from exc
    raise PerfToolError(f"no ConsumerPerformance summary in output:\n{output[-2000:]}")


def _run_tool(main_class: str, args: list[str], timeout_s: float) -> str:
    command = [
        java_executable(),
        "-Xmx512m",
        *_JVM_LOCALE,
        "-cp",
        kafka_classpath(),
        main_class,
        *args,
    ]
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            command, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise PerfToolError(f"{main_class} did not finish within {timeout_s} s") from exc
    if done.returncode != 0:
        raise PerfToolError(
            f"{main_class} failed (exit {done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}"
        )
    return done.stdout


def producer_perf_test(
    bootstrap: str,
    topic: str,
    num_records: int,
    record_size: int,
    extra_props: dict[str, str] | None = None,
    timeout_s: float = 600,
) -> PerfResult:
    """Run ``ProducerPerformance`` flat out (``--throughput -1``) with ``acks=all``.

    Args:
        bootstrap: Bootstrap servers.
        topic: Topic to write to (auto-created by the local broker if missing).
        num_records: How many records to send.
        record_size: Size of each record in bytes.
        extra_props: Producer properties added to or overriding the defaults.
        timeout_s: Give up after this long.

    Returns:
        The parsed final summary.

    Raises:
        PerfToolError: the tool failed or printed no summary.
    """
    props = {"bootstrap.servers": bootstrap, "acks": "all", **(extra_props or {})}
    args = [
        "--topic", topic,
        "--num-records", str(num_records),
        "--record-size", str(record_size),
        "--throughput", "-1",
        "--producer-props", *(f"{key}={value}" for key, value in props.items()),
    ]  # fmt: skip
    result = parse_producer_perf_output(
        _run_tool("org.apache.kafka.tools.ProducerPerformance", args, timeout_s)
    )
    logger.info("producer perf test done", extra={"topic": topic, "result": result})
    return result


def consumer_perf_test(
    bootstrap: str, topic: str, num_records: int, timeout_s: float = 600
) -> ConsumerPerfResult:
    """Run ``ConsumerPerformance``: read ``num_records`` from the start of ``topic``.

    Raises:
        PerfToolError: the tool failed or printed no summary.
    """
    args = ["--bootstrap-server", bootstrap, "--topic", topic, "--messages", str(num_records)]
    result = parse_consumer_perf_output(
        _run_tool("org.apache.kafka.tools.ConsumerPerformance", args, timeout_s)
    )
    logger.info("consumer perf test done", extra={"topic": topic, "result": result})
    return result

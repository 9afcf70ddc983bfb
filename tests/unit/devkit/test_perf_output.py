"""Parsing what Kafka's perf tools print (samples taken from Kafka 4.1.1 runs)."""

from __future__ import annotations

import pytest

from prestacop_devkit.exceptions import PerfToolError
from prestacop_devkit.perf import (
    ConsumerPerfResult,
    PerfResult,
    parse_consumer_perf_output,
    parse_producer_perf_output,
)

pytestmark = pytest.mark.unit

PRODUCER_OUTPUT = """\
130657 records sent, 26131.4 records/sec (4.98 MB/sec), 1789.2 ms avg latency, 2701.0 ms max latency.
200000 records sent, 46072.3 records/sec (8.79 MB/sec), 1450.47 ms avg latency, \
1904.00 ms max latency, 1671 ms 50th, 1873 ms 95th, 1895 ms 99th, 1902 ms 99.9th.
"""

CONSUMER_OUTPUT = """\
start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, \
rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
2026-11-28 19:01:45:010, 2026-11-28 19:01:46:336, 38.1470, 28.7685, 200000, 150829.5626, \
483, 843, 45.2515, 237247.9241
"""


def test_producer_summary_is_the_final_line_not_a_progress_line() -> None:
    assert parse_producer_perf_output(PRODUCER_OUTPUT) == PerfResult(
        records=200000,
        records_per_s=46072.3,
        mb_per_s=8.79,
        avg_latency_ms=1450.47,
        max_latency_ms=1904.0,
        p50_latency_ms=1671,
        p95_latency_ms=1873,
        p99_latency_ms=1895,
        p999_latency_ms=1902,
    )


def test_producer_output_with_only_progress_lines_is_an_error() -> None:
    with pytest.raises(PerfToolError, match="no ProducerPerformance summary"):
        parse_producer_perf_output(PRODUCER_OUTPUT.splitlines()[0])


def test_consumer_summary_maps_columns_by_header_name() -> None:
    assert parse_consumer_perf_output(CONSUMER_OUTPUT) == ConsumerPerfResult(
        records=200000,
        records_per_s=150829.5626,
        mb=38.147,
        mb_per_s=28.7685,
        rebalance_time_ms=483,
        fetch_time_ms=843,
    )


@pytest.mark.parametrize(
    "output",
    ["", "WARN something\n", CONSUMER_OUTPUT.splitlines()[0] + "\n"],
    ids=["empty", "no-header", "header-without-values"],
)
def test_consumer_output_without_summary_is_an_error(output: str) -> None:
    with pytest.raises(PerfToolError):
        parse_consumer_perf_output(output)


def test_consumer_values_that_are_not_numbers_are_an_error() -> None:
    broken = CONSUMER_OUTPUT.replace("200000", "lots")
    with pytest.raises(PerfToolError, match="unexpected ConsumerPerformance output"):
        parse_consumer_perf_output(broken)

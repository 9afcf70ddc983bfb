"""The demo's figures, read from the services' Prometheus text and /healthz answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from prestacop_devkit.demo_status import (
    Endpoints,
    StatusReader,
    count_data_rows,
    parse_metrics,
    total,
)

pytestmark = pytest.mark.unit

ENDPOINTS = Endpoints(
    drones="http://d",
    mailer="http://m",
    ingestor="http://i",
    storage="http://s",
    dashboard="http://a",
)
DRONE_METRICS = """# HELP prestacop_drone_messages_sent_total Events acknowledged by the broker, by kind
# TYPE prestacop_drone_messages_sent_total counter
prestacop_drone_messages_sent_total{kind="status"} 400.0
prestacop_drone_messages_sent_total{kind="violation"} 80.0
prestacop_drone_messages_sent_total{kind="alert"} 16.0
prestacop_drone_messages_sent_created{kind="status"} 1.764e+09
"""
MAILER_METRICS = """alert_mailer_emails_sent_total 16.0
alert_mailer_open_alerts 13.0
alert_mailer_resolutions_total 3.0
"""


def ingestor_metrics(rows: int) -> str:
    return f"prestacop_csv_ingestor_rows_total {rows}.0\nprestacop_csv_ingestor_stalled 0.0\n"


def storage_metrics(rows: int, last_commit: float) -> str:
    return (
        f"prestacop_storage_rows_total {rows}.0\n"
        f"prestacop_storage_last_commit_timestamp_seconds {last_commit}\n"
    )


class Services:
    """What each fake endpoint answers; ``None`` for a service that does not answer."""

    def __init__(self) -> None:
        self.answers: dict[str, str | None] = {
            "http://d": DRONE_METRICS,
            "http://m": MAILER_METRICS,
            "http://i": ingestor_metrics(0),
            "http://s": storage_metrics(0, 0.0),
            "http://a": "",
        }

    def fetch(self, url: str) -> tuple[int, str] | None:
        base, _, path = url.rpartition("/")
        body = self.answers[base]
        if body is None:
            return None
        return (200, '{"status": "up"}') if path == "healthz" else (200, body)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_parse_metrics_reads_labels_exponents_and_skips_comments() -> None:
    samples = parse_metrics(DRONE_METRICS + 'odd{a="x\\"y"} 2\nnot a sample\nbad_value{} abc\n')
    assert total(samples, "prestacop_drone_messages_sent_total") == 496
    assert total(samples, "prestacop_drone_messages_sent_total", kind="alert") == 16
    assert total(samples, "prestacop_drone_messages_sent_created") == 1.764e9
    assert total(samples, "odd", a='x\\"y') == 2
    assert total(samples, "missing") == 0
    assert ("bad_value", frozenset()) not in samples


def test_status_figures_rate_and_lag_come_from_the_endpoints() -> None:
    services, clock = Services(), Clock()
    reader = StatusReader(
        ENDPOINTS, services.fetch, rows_expected=30_000, malformed_injected=3, clock=clock
    )
    first = reader.read()
    assert first.figure("drones", "status") == 400 and first.figure("drones", "alert") == 16
    assert first.figure("alert-mailer", "emails") == 16
    assert first.figure("alert-mailer", "resolved") == 3
    assert first.storage_lag_s is None and first.rows_per_s == 0
    assert first.ingest_average_rows_per_s is None

    clock.now += 2
    services.answers["http://i"] = ingestor_metrics(10_000)
    services.answers["http://s"] = storage_metrics(5_000, clock.now - 4)
    second = reader.read()
    assert second.rows_per_s == 5_000
    assert second.storage_lag_s == 4
    # sent: 496 drone messages + 10,000 rows + 2 records per resolution + 3 malformed
    assert second.rows_behind == 496 + 10_000 + 6 + 3 - 5_000
    assert second.elapsed_s == 2

    clock.now += 2
    services.answers["http://i"] = ingestor_metrics(30_000)
    assert reader.read().rows_per_s == 7_500
    clock.now += 10
    idle = reader.read()
    assert idle.rows_per_s == 0
    assert idle.ingest_average_rows_per_s == 7_500


def test_a_stopped_service_keeps_its_last_figures() -> None:
    services, clock = Services(), Clock()
    reader = StatusReader(
        ENDPOINTS, services.fetch, rows_expected=1, malformed_injected=0, clock=clock
    )
    services.answers["http://a"] = None
    status = reader.read()
    assert not status.service("analytics").reachable and not status.service("analytics").seen
    services.answers["http://d"] = None
    clock.now += 1
    stopped = reader.read().service("drones")
    assert not stopped.reachable and stopped.seen
    assert stopped.figures["status"] == 400


def test_count_data_rows_skips_the_header_and_counts_a_last_line_without_newline(
    tmp_path: Path,
) -> None:
    lf = tmp_path / "a.csv"
    lf.write_bytes(b"h1,h2\n1,2\n3,4\n")
    crlf = tmp_path / "b.csv"
    crlf.write_bytes(b"h1,h2\r\n1,2\r\n3,4\r\n5,6")
    empty = tmp_path / "c.csv"
    empty.write_bytes(b"")
    assert count_data_rows([str(lf)]) == 2
    assert count_data_rows([str(crlf)]) == 3
    assert count_data_rows([str(lf), str(crlf), str(empty)]) == 5


def test_the_real_sample_has_its_documented_row_count() -> None:
    sample = Path(__file__).parents[2] / "data" / "nyc" / "fy2017_head_10212_rows.csv"
    assert count_data_rows([str(sample)]) == 10_212

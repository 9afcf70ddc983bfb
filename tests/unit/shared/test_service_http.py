"""The shared /healthz + /metrics helper: progress-based health, served over real HTTP."""

from __future__ import annotations

import socket

import httpx
import pytest
from prometheus_client import CollectorRegistry

from prestacop_shared.service_http import HttpServerError, ServiceHttp, WorkProgress, serve

pytestmark = pytest.mark.unit


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _progress(clock: Clock) -> WorkProgress:
    return WorkProgress("test", stalled_after_s=30, registry=CollectorRegistry(), clock=clock)


def test_work_that_moves_is_up_and_work_that_stops_is_stalled() -> None:
    clock = Clock()
    progress = _progress(clock)
    assert progress.health() == (True, {"status": "up"})
    clock.now += 31
    assert progress.health() == (False, {"status": "stalled"})  # stuck at start-up
    progress.committed(rows=10)
    assert progress.health() == (True, {"status": "up"})
    clock.now += 20
    progress.heartbeat()
    clock.now += 20
    assert progress.health() == (True, {"status": "up"})


def test_a_service_waiting_for_input_is_never_stalled() -> None:
    clock = Clock()
    progress = _progress(clock)
    progress.waiting()
    clock.now += 3_600
    assert progress.health() == (True, {"status": "up"})
    progress.working()  # the clock starts again when work arrives
    clock.now += 29
    assert progress.health() == (True, {"status": "up"})
    clock.now += 2
    assert progress.health() == (False, {"status": "stalled"})


def test_degraded_says_so_without_the_problem_and_recovers() -> None:
    progress = _progress(Clock())
    progress.degraded("SMTP 421 from mail.example: try later")
    healthy, body = progress.health()
    assert (healthy, body) == (False, {"status": "degraded"})
    progress.recovered()
    assert progress.health() == (True, {"status": "up"})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_server_answers_health_and_metrics_over_http() -> None:
    clock = Clock()
    registry = CollectorRegistry()
    progress = WorkProgress("test", stalled_after_s=30, registry=registry, clock=clock)
    server = serve(registry, progress.health, host="127.0.0.1", port=_free_port(), port_setting="X")
    assert server is not None
    try:
        base = f"http://127.0.0.1:{server.port}"
        progress.committed(rows=7)
        progress.committed(rows=5)
        health = httpx.get(f"{base}/healthz", timeout=5)
        assert (health.status_code, health.json()) == (200, {"status": "up"})
        metrics = httpx.get(f"{base}/metrics", timeout=5).text
        assert "prestacop_test_rows_total 12.0" in metrics
        assert "prestacop_test_commits_total 2.0" in metrics
        assert "prestacop_test_stalled 0.0" in metrics
        clock.now += 60
        stalled = httpx.get(f"{base}/healthz", timeout=5)
        assert (stalled.status_code, stalled.json()) == (503, {"status": "stalled"})
        assert "prestacop_test_stalled 1.0" in httpx.get(f"{base}/metrics", timeout=5).text
        assert httpx.get(f"{base}/other", timeout=5).status_code == 404
    finally:
        server.stop()


def test_port_zero_is_off_and_a_taken_port_names_the_setting() -> None:
    registry = CollectorRegistry()
    assert serve(registry, lambda: (True, {}), host="127.0.0.1", port=0, port_setting="X") is None
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(HttpServerError, match="STORAGE_HTTP_PORT"):
            ServiceHttp(
                registry, lambda: (True, {}), host="127.0.0.1", port=port,
                port_setting="STORAGE_HTTP_PORT",
            )  # fmt: skip

"""``prestacop-devkit kafka up/status/down`` as a developer runs them, in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from confluent_kafka.admin import AdminClient

pytestmark = pytest.mark.integration


def _no_live_process(pid: int) -> bool:
    """Gone, or a zombie waiting for init to reap it (the CLI that started it has exited)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _devkit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prestacop_devkit", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_kafka_up_status_down(
    devkit_jars: tuple[Path, list[Path]], free_port_pair: tuple[int, int], tmp_path: Path
) -> None:
    port, controller_port = free_port_pair
    data_dir = str(tmp_path / "kafka")
    up_args = ["kafka", "up", "--port", str(port), "--controller-port", str(controller_port)]
    up_args += ["--data-dir", data_dir]

    up = _devkit(*up_args)
    try:
        assert up.returncode == 0, up.stderr
        bootstrap = up.stdout.splitlines()[-1]
        assert bootstrap == f"127.0.0.1:{port}"
        assert AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).brokers

        again = _devkit(*up_args)
        assert again.returncode == 0, again.stderr
        assert f"Kafka already running at {bootstrap} (pid " in again.stderr
        assert again.stdout.splitlines()[-1] == bootstrap

        status = _devkit("kafka", "status", "--data-dir", data_dir)
        assert status.returncode == 0
        assert status.stdout.strip() == bootstrap
        pid = int((tmp_path / "kafka" / "kafka.pid").read_text())
    finally:
        down = _devkit("kafka", "down", "--data-dir", data_dir)
    assert down.returncode == 0, down.stderr
    assert "stopped" in down.stderr
    assert _no_live_process(pid)

    assert _devkit("kafka", "status", "--data-dir", data_dir).returncode == 3
    down_again = _devkit("kafka", "down", "--data-dir", data_dir)
    assert down_again.returncode == 0
    assert "No Kafka running" in down_again.stderr

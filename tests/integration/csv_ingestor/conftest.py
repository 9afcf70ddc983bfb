"""Running the real ingestor as a subprocess against the test broker, in the test's namespace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from prestacop_shared.kafka import KafkaSettings

INGESTOR = [sys.executable, "-m", "prestacop_csv_ingestor"]


def ingestor_env(settings: KafkaSettings, **ingestor: Any) -> dict[str, str]:
    """Environment for a subprocess: the test broker and namespace, plus INGESTOR_* settings."""
    env = dict(os.environ)
    env["KAFKA_BOOTSTRAP_SERVERS"] = settings.bootstrap_servers
    env["KAFKA_TOPIC_PREFIX"] = settings.topic_prefix
    env["INGESTOR_LOG_LEVEL"] = "WARNING"
    env.update({f"INGESTOR_{key.upper()}": str(value) for key, value in ingestor.items()})
    return env


@pytest.fixture
def run_ingestor(kafka_settings: KafkaSettings) -> Callable[..., tuple[int, dict[str, Any], str]]:
    """Run ``ingest --json FILES`` to the end; return (exit code, summary JSON, stderr)."""

    def run(*paths: Path, **ingestor: Any) -> tuple[int, dict[str, Any], str]:
        done = subprocess.run(
            [*INGESTOR, "ingest", "--json", *map(str, paths)],
            env=ingestor_env(kafka_settings, **ingestor),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        summary = json.loads(done.stdout) if done.stdout.strip() else {}
        return done.returncode, summary, done.stderr

    return run

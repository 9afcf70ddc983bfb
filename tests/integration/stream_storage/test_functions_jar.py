"""stream-storage refuses to start, with a clear message, when its Java function's jar is missing.

A hand-made jar folder (``SPARK_KAFKA_JARS_DIR``) with only the Kafka connector's jars, as an
image or a setup from before the function existed has, must not start storing: the message
names the variable, the jar and how to get it, and the exit status says "configuration".
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from prestacop_devkit.jars import functions_jar

pytestmark = pytest.mark.integration


def test_a_jar_folder_without_the_function_is_refused_at_start(
    spark_jars_dir: Path, tmp_path: Path
) -> None:
    connector_only = tmp_path / "jars"
    connector_only.mkdir()
    function = functions_jar()
    for jar in spark_jars_dir.glob("*.jar"):
        if jar.name != function:
            (connector_only / jar.name).symlink_to(jar)
    assert (spark_jars_dir / function).is_file()
    done = subprocess.run(
        [sys.executable, "-m", "prestacop_stream_storage", "--available-now"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={
            **os.environ,
            "SPARK_KAFKA_JARS_DIR": str(connector_only),
            "SPARK_MASTER_URL": "local[1]",
            "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",  # never reached: the start stops first
            "STORAGE_DATA_DIR": str(tmp_path / "data"),
        },
    )
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    assert "SPARK_KAFKA_JARS_DIR" in said
    assert "prestacop-spark-functions" in said
    assert "make setup" in said
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").rglob("*.txt"))

"""Where Spark services find the Kafka connector jars the devkit fetched."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark import __version__ as spark_version

from prestacop_shared.spark import SparkSettings

pytestmark = pytest.mark.unit


def _jar_folder(base: Path, name: str) -> Path:
    folder = base / ".cache" / "jars" / name
    folder.mkdir(parents=True)
    (folder / "spark-sql-kafka.jar").write_bytes(b"")
    return folder


def test_the_versioned_devkit_cache_is_found_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PRESTACOP_CACHE_DIR", raising=False)
    folder = _jar_folder(tmp_path, f"spark-kafka-{spark_version}")
    (tmp_path / "deep" / "er").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "deep" / "er")
    assert SparkSettings(kafka_jars_dir=None).connector_jars() == [folder / "spark-sql-kafka.jar"]


def test_the_devkit_cache_dir_variable_is_honoured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _jar_folder(tmp_path / "elsewhere", f"spark-kafka-{spark_version}")
    monkeypatch.setenv("PRESTACOP_CACHE_DIR", str(tmp_path / "elsewhere" / ".cache"))
    monkeypatch.chdir(tmp_path)
    assert SparkSettings(kafka_jars_dir=None).connector_jars() == [folder / "spark-sql-kafka.jar"]


def test_an_explicit_folder_wins_and_an_empty_one_names_the_variable(
    tmp_path: Path,
) -> None:
    explicit = tmp_path / "jars"
    explicit.mkdir()
    with pytest.raises(Exception, match="SPARK_KAFKA_JARS_DIR"):
        SparkSettings(kafka_jars_dir=explicit).connector_jars()
    (explicit / "a.jar").write_bytes(b"")
    assert SparkSettings(kafka_jars_dir=explicit).connector_jars() == [explicit / "a.jar"]

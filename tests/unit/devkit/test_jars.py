"""The jar cache: where it lives, fetch once, redo a half fetch, clear errors about mvn.

A fake ``mvn`` script on ``PATH`` stands in for Maven, so these tests need no network.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from prestacop_devkit.exceptions import JarFetchError, JarsNotFetchedError, MavenNotFoundError
from prestacop_devkit.jars import (
    cache_dir,
    ensure_kafka_jars,
    ensure_spark_kafka_jars,
    functions_jar,
    spark_kafka_jars_csv,
)

pytestmark = pytest.mark.unit

FAKE_MVN = """#!/bin/sh
echo run >> "{calls}"
for arg in "$@"; do
  case "$arg" in
    -DoutputDirectory=*) out="${{arg#-DoutputDirectory=}}";;
    -DbuildDirectory=*) build="${{arg#-DbuildDirectory=}}";;
  esac
done
if [ -n "$build" ]; then
  mkdir -p "$build" && touch "$build/{functions_jar}"
  exit 0
fi
touch "$out/some-lib-1.0.jar"
if [ -f "{fail_flag}" ]; then
  echo "[ERROR] Could not resolve dependencies for project io.prestacop.devkit"
  exit 1
fi
touch "$out/other-lib-2.0.jar"
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache directory, selected through PRESTACOP_CACHE_DIR."""
    directory = tmp_path / "cache"
    monkeypatch.setenv("PRESTACOP_CACHE_DIR", str(directory))
    return directory


@pytest.fixture
def fake_mvn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Put a fake mvn first on PATH; it records each call and fails while ``fail_flag`` exists."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    paths = {"calls": tmp_path / "mvn-calls", "fail_flag": tmp_path / "mvn-should-fail"}
    script = bin_dir / "mvn"
    script.write_text(FAKE_MVN.format(**paths, functions_jar=functions_jar()))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return paths


def _mvn_calls(fake_mvn: dict[str, Path]) -> int:
    calls = fake_mvn["calls"]
    return len(calls.read_text().splitlines()) if calls.exists() else 0


def test_cache_dir_comes_from_the_environment(cache: Path) -> None:
    assert cache_dir() == cache.resolve()


def test_cache_dir_defaults_to_dot_cache_at_the_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRESTACOP_CACHE_DIR", raising=False)
    assert cache_dir().name == ".cache"
    assert (cache_dir().parent / "uv.lock").is_file()


def test_spark_jars_are_never_fetched_at_run_time(cache: Path) -> None:
    with pytest.raises(JarsNotFetchedError, match="prestacop-devkit fetch-jars"):
        spark_kafka_jars_csv()


def test_missing_mvn_is_named(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(MavenNotFoundError, match="mvn not found"):
        ensure_kafka_jars()


def test_fetch_happens_once(cache: Path, fake_mvn: dict[str, Path]) -> None:
    first = ensure_kafka_jars()
    second = ensure_kafka_jars()
    assert first == second
    assert sorted(jar.name for jar in first.glob("*.jar")) == [
        "other-lib-2.0.jar",
        "some-lib-1.0.jar",
    ]
    assert _mvn_calls(fake_mvn) == 1


def test_failed_fetch_reports_mvn_output_and_is_redone(
    cache: Path, fake_mvn: dict[str, Path]
) -> None:
    fake_mvn["fail_flag"].touch()
    with pytest.raises(JarFetchError, match="Could not resolve dependencies"):
        ensure_spark_kafka_jars()
    with pytest.raises(JarsNotFetchedError):
        spark_kafka_jars_csv()

    fake_mvn["fail_flag"].unlink()
    jars = ensure_spark_kafka_jars()
    # The connector's jars, and stream-storage's function built beside them (a second mvn run).
    assert [jar.name for jar in jars] == [
        "other-lib-2.0.jar",
        "prestacop-spark-functions-1.jar",
        "some-lib-1.0.jar",
    ]
    assert functions_jar() == "prestacop-spark-functions-1.jar"  # the pom's artifactId-version
    assert spark_kafka_jars_csv() == ",".join(str(jar) for jar in jars)
    assert all(Path(path).is_absolute() for path in spark_kafka_jars_csv().split(","))
    assert _mvn_calls(fake_mvn) == 3


def test_a_changed_function_source_is_built_again(
    cache: Path, fake_mvn: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from prestacop_devkit import jars

    ensure_spark_kafka_jars()
    ensure_spark_kafka_jars()
    assert _mvn_calls(fake_mvn) == 2
    before = jars._set_digest(jars.SPARK_KAFKA_SET)
    real_read = Path.read_bytes

    def edited(path: Path) -> bytes:
        content = real_read(path)
        return content + b"// edited" if path.name == "T1StoredLine.java" else content

    monkeypatch.setattr(Path, "read_bytes", edited)
    assert jars._set_digest(jars.SPARK_KAFKA_SET) != before
    ensure_spark_kafka_jars()
    assert _mvn_calls(fake_mvn) == 4

"""Fetch, once, the Java jars the developers' tooling needs, from Maven Central.

Two sets, each described by a small pom under ``tools/devkit/maven/``:

* ``kafka``: an Apache Kafka 4.1.1 KRaft broker, its tools (perf tests) and a log4j2 binding;
* ``spark-kafka``: Spark's Kafka data source for pyspark 4.2.0, minus what pyspark ships, and
  stream-storage's own Spark function (``services/stream-storage/java``, built with ``mvn
  package``), so that ``spark.jars`` takes both from one folder.

``mvn dependency:copy-dependencies`` copies each set into ``<cache>/jars/<name>/``. The copy goes
to a temporary sibling directory that is renamed into place and stamped with a marker (the hash
of the pom, and of the function's sources) only once complete, so an interrupted fetch, or a
changed pom or source, is fetched (built) again.

Fetching is the setup step (``prestacop-devkit fetch-jars``). :func:`spark_kafka_jars_csv` is meant
for Spark run time and never fetches: it raises :class:`JarsNotFetchedError` instead.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from xml.etree import ElementTree

from prestacop_devkit.exceptions import (
    DevkitError,
    JarFetchError,
    JarsNotFetchedError,
    JavaNotFoundError,
    MavenNotFoundError,
)

logger = logging.getLogger(__name__)

KAFKA_SET = "kafka"
SPARK_KAFKA_SET = "spark-kafka"
_SET_DIRS = {KAFKA_SET: "kafka-4.1.1", SPARK_KAFKA_SET: "spark-kafka-4.2.0"}
_FUNCTIONS_PROJECT = Path("services") / "stream-storage" / "java"
_POM_NAMESPACE = "{http://maven.apache.org/POM/4.0.0}"
_MARKER = ".complete"
_MVN_TAIL_LINES = 40
_MVN_TIMEOUT_S = 900


def repo_root() -> Path:
    """Return the workspace root: the first directory holding ``uv.lock`` above this file.

    Returns:
        The repository root, or the current directory when no ``uv.lock`` is found (an
        installed, non-editable copy of the package).
    """
    for parent in Path(__file__).resolve().parents:
        if (parent / "uv.lock").is_file():
            return parent
    return Path.cwd()


def cache_dir() -> Path:
    """Return the cache directory: ``$PRESTACOP_CACHE_DIR`` or ``<repo root>/.cache``."""
    configured = os.environ.get("PRESTACOP_CACHE_DIR")
    return Path(configured).expanduser().resolve() if configured else repo_root() / ".cache"


def java_executable() -> str:
    """Return the ``java`` to run: ``$JAVA_HOME/bin/java`` if set, else the one on ``PATH``.

    Raises:
        JavaNotFoundError: there is none.
    """
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise JavaNotFoundError("java not found: install Java 17+ or set JAVA_HOME")
    return java


def _pom(name: str) -> Path:
    for base in (Path(__file__).resolve().parents[2], repo_root() / "tools" / "devkit"):
        pom = base / "maven" / name / "pom.xml"
        if pom.is_file():
            return pom
    raise DevkitError(f"pom for jar set {name!r} not found under tools/devkit/maven/{name}/")


def _jar_dir(name: str) -> Path:
    return cache_dir() / "jars" / _SET_DIRS[name]


def _functions_project() -> Path:
    project = repo_root() / _FUNCTIONS_PROJECT
    if not (project / "pom.xml").is_file():
        raise DevkitError(f"stream-storage's Spark function project not found at {project}")
    return project


def _set_digest(name: str) -> str:
    """The hash a complete set is stamped with: its pom, plus the function's pom and sources."""
    digest = hashlib.sha256(_pom(name).read_bytes())
    if name == SPARK_KAFKA_SET:
        project = _functions_project()
        for source in sorted([project / "pom.xml", *project.glob("src/**/*.java")]):
            digest.update(source.relative_to(project).as_posix().encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()


def _is_complete(dest: Path, digest: str) -> bool:
    marker = dest / _MARKER
    return marker.is_file() and marker.read_text().strip() == digest


@contextmanager
def _fetch_lock(dest: Path) -> Iterator[None]:
    """Serialise fetches of one set across processes (two test sessions, CLI + tests)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest.parent / f".{dest.name}.lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _run_mvn(pom: Path, *arguments: str) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise MavenNotFoundError(
            "mvn not found on PATH: install Maven 3.8+ (and Java 17+) to fetch the Kafka and "
            "Spark connector jars from Maven Central"
        )
    command = [mvn, "-B", "-q", "-Dstyle.color=never", "-f", str(pom), *arguments]
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            command, capture_output=True, text=True, timeout=_MVN_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise JarFetchError(f"mvn did not finish within {_MVN_TIMEOUT_S} s: {pom}") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-_MVN_TAIL_LINES:])
        raise JarFetchError(
            f"mvn {' '.join(arguments)} failed (exit {done.returncode}) for {pom}:\n{tail}"
        )


def functions_jar() -> str:
    """The file name of the jar ``services/stream-storage/java/pom.xml`` builds.

    Read from the pom itself (``<artifactId>-<version>.jar``, its ``finalName``), the one place
    that names it; the stream-storage image copies whatever jar its build made.
    """
    pom = ElementTree.parse(_functions_project() / "pom.xml").getroot()  # noqa: S314 - our pom
    names = {tag: pom.findtext(f"{_POM_NAMESPACE}{tag}") for tag in ("artifactId", "version")}
    if not all(names.values()):
        raise DevkitError(f"{_functions_project() / 'pom.xml'} names no artifactId and version")
    return f"{names['artifactId']}-{names['version']}.jar"


def _build_functions(output_dir: Path) -> None:
    """Build stream-storage's Spark function jar into ``output_dir`` (its classes: a sibling)."""
    build = output_dir.with_name(output_dir.name + ".build")
    shutil.rmtree(build, ignore_errors=True)
    _run_mvn(_functions_project() / "pom.xml", "package", f"-DbuildDirectory={build}")
    name = functions_jar()
    jar = build / name
    if not jar.is_file():
        raise JarFetchError(f"mvn package succeeded but built no {name} in {build}")
    shutil.move(jar, output_dir / name)
    shutil.rmtree(build, ignore_errors=True)


def _ensure(name: str) -> Path:
    pom = _pom(name)
    digest = _set_digest(name)
    dest = _jar_dir(name)
    if _is_complete(dest, digest):
        return dest
    with _fetch_lock(dest):
        if _is_complete(dest, digest):  # another process fetched it while we waited
            return dest
        partial = dest.with_name(dest.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        logger.info("fetching jars", extra={"jar_set": name, "pom": str(pom)})
        started = time.monotonic()
        _run_mvn(pom, "dependency:copy-dependencies", f"-DoutputDirectory={partial}")
        if not any(partial.glob("*.jar")):
            raise JarFetchError(f"mvn succeeded but copied no jar into {partial}")
        if name == SPARK_KAFKA_SET:
            _build_functions(partial)
        (partial / _MARKER).write_text(digest + "\n")
        shutil.rmtree(dest, ignore_errors=True)
        partial.rename(dest)
        logger.info(
            "jars fetched",
            extra={"jar_set": name, "dir": str(dest), "elapsed_s": time.monotonic() - started},
        )
    return dest


def _jars(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.jar"))


def ensure_kafka_jars() -> Path:
    """Make sure the Kafka broker and tools jars are in the cache, fetching them if needed.

    Returns:
        The directory holding the jars.

    Raises:
        MavenNotFoundError: ``mvn`` is not installed.
        JarFetchError: mvn failed (the message holds its output tail).
    """
    return _ensure(KAFKA_SET)


def ensure_spark_kafka_jars() -> list[Path]:
    """Make sure Spark's Kafka connector jars, and stream-storage's function jar beside them,
    are in the cache, fetching (building) them if needed.

    Returns:
        The jar files, sorted by name.

    Raises:
        MavenNotFoundError: ``mvn`` is not installed.
        JarFetchError: mvn failed (the message holds its output tail).
    """
    return _jars(_ensure(SPARK_KAFKA_SET))


def kafka_classpath() -> str:
    """Return the Java classpath of the Kafka broker and its tools (fetching jars if needed).

    Example:
        >>> cp = kafka_classpath()  # doctest: +SKIP
        >>> "kafka_2.13-4.1.1.jar" in cp  # doctest: +SKIP
        True
    """
    return os.pathsep.join(str(jar) for jar in _jars(ensure_kafka_jars()))


def spark_kafka_jars_csv() -> str:
    """Return the connector jars as comma-joined absolute paths, for Spark's ``spark.jars``.

    Never fetches: run ``prestacop-devkit fetch-jars`` (or :func:`ensure_spark_kafka_jars`)
    during setup.

    Example:
        >>> SparkSession.builder.config("spark.jars", spark_kafka_jars_csv())  # doctest: +SKIP

    Raises:
        JarsNotFetchedError: the jars are not (completely) in the cache.
    """
    dest = _jar_dir(SPARK_KAFKA_SET)
    if not _is_complete(dest, _set_digest(SPARK_KAFKA_SET)):
        raise JarsNotFetchedError(
            f"Spark Kafka connector jars missing or stale in {dest}: "
            "run `prestacop-devkit fetch-jars` first"
        )
    return ",".join(str(jar) for jar in _jars(dest))

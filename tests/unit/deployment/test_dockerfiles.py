"""The services' Dockerfiles: linted, runnable entrypoints, locked workspace installs, non-root."""

from __future__ import annotations

import fnmatch
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.deployment import stack

pytestmark = pytest.mark.unit

VENV_BIN = Path(sys.executable).parent
PYTHON_IMAGE = "python:3.11-slim-bookworm"
TINI = "/usr/bin/tini"


@pytest.mark.parametrize("name", stack.SERVICE_NAMES)
def test_dockerfile_passes_hadolint(name: str) -> None:
    done = subprocess.run(
        [str(VENV_BIN / "hadolint"), "--no-color", str(stack.SERVICES_DIR / name / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _command(dockerfile: stack.Dockerfile) -> list[str]:
    entrypoint = dockerfile.exec_form("ENTRYPOINT") or []
    if entrypoint[:2] == [TINI, "--"]:
        entrypoint = []
    cmd = dockerfile.exec_form("CMD") or []
    return entrypoint + cmd


@pytest.mark.parametrize("name", stack.SERVICE_NAMES)
def test_the_image_runs_a_console_script_its_pyproject_declares(name: str) -> None:
    command = _command(stack.service_dockerfile(name))
    assert command, f"services/{name}/Dockerfile has no CMD/ENTRYPOINT"
    assert command[0] in stack.console_scripts(name), (
        f"{command[0]!r} is not a [project.scripts] entry of services/{name}"
    )


def test_the_entrypoint_check_rejects_an_undeclared_script(tmp_path: Path) -> None:
    """The check above is not vacuous: a misspelt script name is caught."""
    bad = tmp_path / "Dockerfile"
    bad.write_text('FROM python:3.11-slim-bookworm\nCMD ["prestacop-dron"]\n', encoding="utf-8")
    assert _command(stack.parse_dockerfile(bad))[0] not in stack.console_scripts("drone")
    shell_form = tmp_path / "Dockerfile.shell"
    shell_form.write_text("FROM python:3.11-slim-bookworm\nCMD prestacop-drone\n", encoding="utf-8")
    with pytest.raises(ValueError):  # json.JSONDecodeError: not exec form
        stack.parse_dockerfile(shell_form).exec_form("CMD")


@pytest.mark.parametrize("name", stack.SERVICE_NAMES)
def test_only_this_service_is_installed_from_the_workspace_lock(name: str) -> None:
    dockerfile = stack.service_dockerfile(name)
    builder = next(s for s in dockerfile.stages if s.name == "builder")
    assert builder.base == "${PYTHON_IMAGE}"
    syncs = [args for args in builder.all("RUN") if "uv sync" in args]
    assert syncs, "the builder must install with uv sync"
    for args in syncs:
        assert "--frozen" in args and "--no-dev" in args, args
        assert f"--package {stack.project_name(name)}" in args, args
    copies = " ".join(builder.all("COPY"))
    assert "uv.lock" in copies and "shared/" in copies, "the lock and the shared package"
    for other in stack.SERVICE_NAMES:
        if other != name:
            assert f"services/{other}/" not in copies, f"{name}'s image copies {other}"


@pytest.mark.parametrize("name", stack.SERVICE_NAMES)
def test_the_image_is_python_311_slim_and_runs_as_an_unprivileged_user(name: str) -> None:
    dockerfile = stack.service_dockerfile(name)
    text = dockerfile.path.read_text(encoding="utf-8")
    assert f"ARG PYTHON_IMAGE={PYTHON_IMAGE}" in text
    assert dockerfile.final.base == "${PYTHON_IMAGE}"
    users = dockerfile.final.all("USER")
    assert users, "the image runs as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, f"USER {users[-1]}: use a numeric non-root uid"


@pytest.mark.parametrize("name", stack.SERVICE_NAMES)
def test_spark_runtime_only_where_spark_runs(name: str) -> None:
    dockerfile = stack.service_dockerfile(name)
    runs = " ".join(dockerfile.final.all("RUN"))
    env = dockerfile.final.env()
    if name in stack.SPARK_SERVICES:
        assert "openjdk-17-jre-headless" in runs
        assert env["PYSPARK_PYTHON"] == "/opt/prestacop/venv/bin/python"
        jars = env["SPARK_KAFKA_JARS_DIR"]
        assert any(
            f"--from=spark-kafka-jars {jars} {jars}" in c for c in dockerfile.final.all("COPY")
        )
        maven = next(s for s in dockerfile.stages if s.name == "spark-kafka-jars")
        fetch = " ".join(maven.all("RUN"))
        assert "dependency:copy-dependencies" in fetch and f"-DoutputDirectory={jars}" in fetch
        assert "tools/devkit/maven/spark-kafka/pom.xml" in " ".join(maven.all("COPY"))
    else:
        assert "jre" not in runs and "PYSPARK_PYTHON" not in env


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: the last matching pattern wins; ``!`` re-includes."""
    ignored = False
    parts = Path(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        body = body.rstrip("/")
        for candidate in candidates:
            if fnmatch.fnmatch(candidate, body) or (
                body.startswith("**/") and fnmatch.fnmatch(Path(candidate).name, body[3:])
            ):
                ignored = not negate
                break
    return ignored


def test_dockerignore_keeps_everything_the_dockerfiles_copy() -> None:
    lines = (stack.REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert _ignored(".venv", patterns) and _ignored("tests/conftest.py", patterns)
    for name in stack.SERVICE_NAMES:
        for stage in stack.service_dockerfile(name).stages:
            for args in stage.all("COPY"):
                if args.startswith("--from"):
                    continue
                for source in args.split()[:-1]:
                    kept = source.rstrip("/")
                    assert not _ignored(kept, patterns), f"{name}: .dockerignore drops {source}"
                    assert (stack.REPO_ROOT / kept).exists(), f"{name}: COPY {source} is missing"

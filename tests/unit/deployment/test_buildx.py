"""buildx is built only where the docker CLI needs it: fake ``docker`` and ``go`` on ``PATH``."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from prestacop_devkit.docker_images import (
    BUILDX_MODULE,
    BUILDX_VERSION,
    DockerImageError,
    buildx_plugin_path,
    ensure_buildx_plugin,
)

pytestmark = pytest.mark.unit


def _script(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder first on PATH (and a HOME of its own, where the plugin would go)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    # go records its calls and fails, so that a build attempt is seen and nothing is built.
    _script(folder, "go", f'echo "$@" >> "{tmp_path}/go-calls"; echo no network >&2; exit 1')
    return folder


def test_a_cli_that_has_buildx_is_left_alone(bin_dir: Path, tmp_path: Path) -> None:
    _script(bin_dir, "docker", 'echo "github.com/docker/buildx v0.30.0 abc"')
    assert ensure_buildx_plugin() == "buildx present: github.com/docker/buildx v0.30.0 abc"
    assert not (tmp_path / "go-calls").exists()
    assert not buildx_plugin_path().exists()


def test_a_cli_without_buildx_gets_it_built_from_the_go_module_proxy(
    bin_dir: Path, tmp_path: Path
) -> None:
    _script(bin_dir, "docker", "echo \"docker: 'buildx' is not a docker command.\" >&2; exit 1")
    with pytest.raises(DockerImageError):
        ensure_buildx_plugin()
    calls = (tmp_path / "go-calls").read_text()
    assert f"mod download -json {BUILDX_MODULE}@{BUILDX_VERSION}" in calls
    assert buildx_plugin_path() == tmp_path / "home" / ".docker" / "cli-plugins" / "docker-buildx"
    assert not buildx_plugin_path().exists()

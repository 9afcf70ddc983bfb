"""Whether a Docker engine (and the compose plugin) answers here, and why not if it does not."""

from __future__ import annotations

import shutil
import subprocess
from functools import cache


@cache
def engine_answers() -> tuple[bool, str]:
    """Ping the engine the way testcontainers will reach it (``docker.from_env()``)."""
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env(timeout=5).ping()
    except Exception as error:  # noqa: BLE001 - any failure means "no engine here"
        return False, f"no Docker engine answers ({type(error).__name__}: {error})"
    return True, "a Docker engine answers"


@cache
def compose_available() -> tuple[bool, str]:
    """An engine and the ``docker compose`` v2 plugin (testcontainers' DockerCompose runs it)."""
    engine, why = engine_answers()
    if not engine:
        return False, why
    docker_cli = shutil.which("docker")
    if docker_cli is None:
        return False, "the docker CLI is not on PATH"
    done = subprocess.run(
        [docker_cli, "compose", "version"], capture_output=True, text=True, timeout=30, check=False
    )
    if done.returncode != 0:
        return False, f"`docker compose` is not available: {done.stderr.strip()[:200]}"
    return True, done.stdout.strip()


@cache
def base_images_present() -> tuple[bool, str]:
    """An engine, and every base image the Dockerfiles and compose file name, present locally.

    Without a registry nothing can be pulled: ``make docker-images`` builds stand-ins under the
    public names (prestacop_devkit.docker_images).
    """
    engine, why = engine_answers()
    if not engine:
        return False, why
    import docker

    from prestacop_devkit.docker_images import STANDINS

    client = docker.from_env(timeout=30)
    missing = []
    for standin in STANDINS:
        try:
            client.images.get(standin.name)
        except docker.errors.ImageNotFound:
            missing.append(standin.name)
    if missing:
        return (
            False,
            f"base images missing ({', '.join(missing)}): build them with `make docker-images`",
        )
    return True, "every base image is present"


@cache
def stack_available() -> tuple[bool, str]:
    """What the compose tests need: the compose plugin and every base image."""
    ready, why = compose_available()
    return base_images_present() if ready else (ready, why)

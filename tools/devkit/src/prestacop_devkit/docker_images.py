"""Build, where no registry answers, the base images the project's Dockerfiles and compose file name.

``prestacop-devkit docker-images`` (``make docker-images``) makes every image of :data:`STANDINS`
present under its public name, in order (later ones are built ``FROM`` earlier ones):

1. an image that is already present and carries no stand-in label is an official one: kept;
2. a stand-in whose ``org.prestacop.standin.recipe`` label equals the hash of its recipe (the
   files under ``compose/standins/<name>/``, the inputs named in :class:`Standin`, the parent
   image's id) is reused: a second run on the same machine costs seconds;
3. otherwise ``docker pull`` is tried once; where it fails (no registry), the stand-in is built
   from this machine's own registries: Debian's packages (debootstrap, apt), PyPI (the uv wheel),
   Maven Central (the broker jars) and the Go module proxy (Mailpit).

The stand-ins are test infrastructure: ``compose/standins/README.md`` says what each one is and how
it differs from the official image. The project's Dockerfiles and compose file are never changed.

The machine's local CA certificates (``/usr/local/share/ca-certificates``, where an egress re-signs
TLS) go into the Python stand-in only, so builds in containers can reach PyPI and Maven Central;
no project Dockerfile names them, and images built on official bases carry none.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from prestacop_devkit.exceptions import DevkitError
from prestacop_devkit.jars import ensure_kafka_jars, repo_root

logger = logging.getLogger(__name__)

RECIPE_LABEL = "org.prestacop.standin.recipe"
UV_VERSION = "0.13.9"
KAFKA_VERSION = "4.1.1"
MAILPIT_MODULE = "github.com/axllent/mailpit"
MAILPIT_VERSION = "v1.27.11"
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
PYTHON_PACKAGES = ("python3", "python3-venv", "python-is-python3", "ca-certificates")
LOCAL_CA_DIR = Path("/usr/local/share/ca-certificates")
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
_PULL_TIMEOUT_S = 60
_BUILD_TIMEOUT_S = 3600


class DockerImageError(DevkitError):
    """A stand-in image could not be built; the message ends with the failing command's output."""


@dataclass(frozen=True)
class Standin:
    """One image the project names, and how to build it without a registry.

    Attributes:
        name: Public image reference (``repository:tag``), exactly as the Dockerfiles name it.
        recipe: Folder under ``compose/standins/`` holding its Dockerfile and files.
        inputs: Versions and other facts the image depends on beyond the recipe's files.
        parent: Public name of the stand-in it is built ``FROM`` (its id enters the hash).
    """

    name: str
    recipe: str
    inputs: tuple[str, ...] = ()
    parent: str | None = None
    builder: str = field(default="dockerfile", compare=False)


PYTHON = Standin(
    "python:3.11-slim-bookworm",
    "python",
    (DEBIAN_SUITE, DEBIAN_MIRROR, *PYTHON_PACKAGES),
    builder="debootstrap",
)
STANDINS: tuple[Standin, ...] = (
    PYTHON,
    Standin(f"ghcr.io/astral-sh/uv:{UV_VERSION}", "uv", (f"uv=={UV_VERSION}",), builder="uv"),
    Standin("maven:3.9-eclipse-temurin-17", "maven", parent=PYTHON.name),
    Standin(f"apache/kafka:{KAFKA_VERSION}", "kafka", parent=PYTHON.name, builder="kafka"),
    Standin(
        "axllent/mailpit:v1.27", "mailpit", (f"{MAILPIT_MODULE}@{MAILPIT_VERSION}",), builder="go"
    ),
)


def _run(command: Sequence[str], *, stdin: bytes | None = None, cwd: Path | None = None) -> str:
    """Run ``command``; return its stdout, or raise with the tail of its output."""
    logger.debug("running %s", " ".join(command))
    done = subprocess.run(  # noqa: S603 - fixed argument lists
        list(command),
        input=stdin,
        capture_output=True,
        cwd=cwd,
        timeout=_BUILD_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).decode(errors="replace")[-4000:]
        raise DockerImageError(f"{' '.join(command[:4])} ... failed ({done.returncode}):\n{tail}")
    return done.stdout.decode(errors="replace")


def _docker() -> str:
    docker = shutil.which("docker")
    if docker is None:
        raise DockerImageError("docker not found on PATH: install docker.io (or Docker Engine)")
    return docker


def image_labels(name: str) -> dict[str, str] | None:
    """Return the labels of local image ``name``, or ``None`` when it is not present."""
    done = subprocess.run(  # noqa: S603 - fixed argument list
        [_docker(), "image", "inspect", "--format", "{{json .Config.Labels}}", name],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    labels = json.loads(done.stdout or "null")
    return dict(labels) if labels else {}


def _image_id(name: str) -> str:
    return _run([_docker(), "image", "inspect", "--format", "{{.Id}}", name]).strip()


def _local_ca_files() -> list[Path]:
    return sorted(LOCAL_CA_DIR.rglob("*.crt")) if LOCAL_CA_DIR.is_dir() else []


def recipe_hash(standin: Standin, recipes: Path) -> str:
    """Hash of everything the stand-in is made of: recipe files, inputs, parent id, local CAs."""
    digest = hashlib.sha256()
    for item in standin.inputs:
        digest.update(f"input:{item}\n".encode())
    folder = recipes / standin.recipe
    if folder.is_dir():
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(f"file:{path.relative_to(folder)}\n".encode())
            digest.update(path.read_bytes())
    if standin.parent is not None:
        digest.update(f"parent:{_image_id(standin.parent)}\n".encode())
    if standin.builder == "debootstrap":
        for ca in _local_ca_files():
            digest.update(ca.read_bytes())
    if standin.builder == "kafka":
        digest.update("\n".join(sorted(p.name for p in ensure_kafka_jars().glob("*.jar"))).encode())
    return digest.hexdigest()[:24]


def _build_python(standin: Standin, context: Path, label: str) -> None:
    """debootstrap a minimal bookworm with Python 3.11, add the local CAs, ``docker import`` it."""
    if shutil.which("debootstrap") is None:
        raise DockerImageError("debootstrap not found: apt-get install debootstrap")
    rootfs = context / "rootfs"
    _run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(PYTHON_PACKAGES)}",
            DEBIAN_SUITE,
            str(rootfs),
            DEBIAN_MIRROR,
        ]
    )
    target = rootfs / "usr/local/share/ca-certificates"
    target.mkdir(parents=True, exist_ok=True)
    for ca in _local_ca_files():
        shutil.copy2(ca, target / ca.name)
    _run(["chroot", str(rootfs), "update-ca-certificates"])
    _run(["chroot", str(rootfs), "apt-get", "clean"])
    shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)
    (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True)
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)  # noqa: S603, S607
    assert tar.stdout is not None  # noqa: S101 - Popen with PIPE
    done = subprocess.run(  # noqa: S603 - fixed argument list
        [
            _docker(),
            "import",
            "--change",
            f"ENV SSL_CERT_FILE={CA_BUNDLE}",
            "--change",
            "ENV LANG=C.UTF-8",
            "--change",
            f"LABEL {RECIPE_LABEL}={label}",
            "--change",
            'CMD ["python3"]',
            "-",
            standin.name,
        ],
        stdin=tar.stdout,
        capture_output=True,
        check=False,
    )
    tar.wait()
    if done.returncode != 0 or tar.returncode != 0:
        raise DockerImageError(f"docker import failed:\n{done.stderr.decode(errors='replace')}")


def _prepare_uv(context: Path) -> None:
    """Put the ``uv`` and ``uvx`` binaries of the pinned wheel (from PyPI) in the context."""
    wheels = context / "wheels"
    _run(
        [
            "python3",
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--platform",
            "manylinux_2_17_x86_64",
            "--dest",
            str(wheels),
            f"uv=={UV_VERSION}",
        ]
    )
    (wheel,) = wheels.glob("uv-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        for binary in ("uv", "uvx"):
            (member,) = [n for n in archive.namelist() if n.endswith(f".data/scripts/{binary}")]
            path = context / binary
            path.write_bytes(archive.read(member))
            path.chmod(0o755)


def _prepare_kafka(context: Path) -> None:
    shutil.copytree(ensure_kafka_jars(), context / "libs", ignore=shutil.ignore_patterns(".*"))


def _prepare_mailpit(context: Path) -> None:
    """Mailpit's binary, built from the Go module proxy, and the empty ``tmp/`` it needs."""
    _go_build_module(MAILPIT_MODULE, MAILPIT_VERSION, ".", context / "mailpit", "-s -w")
    (context / "tmp").mkdir()


def _go_build_module(module: str, version: str, package: str, output: Path, ldflags: str) -> None:
    """``go build`` ``package`` of ``module@version`` from the Go module proxy into ``output``.

    The downloaded module folder is read-only, and ``go install ...@version`` refuses modules with
    ``exclude`` directives (Compose has some): a writable copy is built instead.
    """
    if shutil.which("go") is None:
        raise DockerImageError(f"go not found: {module} is built from the Go module proxy")
    info = json.loads(_run(["go", "mod", "download", "-json", f"{module}@{version}"]))
    with tempfile.TemporaryDirectory(prefix="go-build-") as tmp:
        source = Path(tmp) / "src"
        shutil.copytree(info["Dir"], source)
        for path in [source, *source.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
        output.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(  # noqa: S603 - fixed argument list
            ["go", "build", "-trimpath", "-ldflags", ldflags, "-o", str(output), package],  # noqa: S607
            cwd=source,
            env={**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"},
            capture_output=True,
            timeout=_BUILD_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace")[-4000:]
            raise DockerImageError(f"go build of {module}@{version} failed:\n{tail}")


_PREPARE: dict[str, Callable[[Path], None]] = {
    "uv": _prepare_uv,
    "kafka": _prepare_kafka,
    "go": _prepare_mailpit,
}


def build_standin(standin: Standin, recipes: Path, label: str) -> None:
    """Build one stand-in under its public name, labelled with its recipe hash."""
    with tempfile.TemporaryDirectory(prefix=f"standin-{standin.recipe}-") as tmp:
        context = Path(tmp)
        if standin.builder == "debootstrap":
            _build_python(standin, context, label)
            return
        shutil.copytree(recipes / standin.recipe, context, dirs_exist_ok=True)
        prepare = _PREPARE.get(standin.builder)
        if prepare is not None:
            prepare(context)
        _run(
            [
                _docker(),
                "build",
                "--pull=false",
                "--label",
                f"{RECIPE_LABEL}={label}",
                "--tag",
                standin.name,
                str(context),
            ]
        )


def _pull(name: str) -> bool:
    try:
        done = subprocess.run(  # noqa: S603 - fixed argument list
            [_docker(), "pull", "--quiet", name],
            capture_output=True,
            timeout=_PULL_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def ensure_images(
    *, recipes: Path | None = None, force: bool = False, pull: bool = True
) -> dict[str, str]:
    """Make every image of :data:`STANDINS` present; return ``{name: what was done}``.

    Args:
        recipes: Folder of the recipes (default ``compose/standins`` of the repository).
        force: Rebuild the stand-ins even when their hash is unchanged.
        pull: Try ``docker pull`` before building a missing image.

    Raises:
        DockerImageError: a build failed (the message names the image and the command's output).
    """
    folder = recipes or repo_root() / "compose" / "standins"
    outcome: dict[str, str] = {}
    for standin in STANDINS:
        labels = image_labels(standin.name)
        if labels is not None and RECIPE_LABEL not in labels:
            outcome[standin.name] = "official image present"
            continue
        label = recipe_hash(standin, folder)
        if labels is not None and labels.get(RECIPE_LABEL) == label and not force:
            outcome[standin.name] = "stand-in reused"
            continue
        if labels is None and pull and _pull(standin.name):
            outcome[standin.name] = "pulled"
            continue
        logger.info("building stand-in %s", standin.name)
        build_standin(standin, folder, label)
        outcome[standin.name] = "stand-in built"
    return outcome


COMPOSE_MODULE = "github.com/docker/compose/v2"
COMPOSE_VERSION = "v2.40.3"


BUILDX_MODULE = "github.com/docker/buildx"
BUILDX_VERSION = "v0.29.1"
"""The buildx Compose :data:`COMPOSE_VERSION` is built against."""


def compose_plugin_path() -> Path:
    """Where the Docker CLI looks for the compose plugin of this user."""
    return Path.home() / ".docker" / "cli-plugins" / "docker-compose"


def buildx_plugin_path() -> Path:
    """Where the Docker CLI looks for the buildx plugin of this user."""
    return Path.home() / ".docker" / "cli-plugins" / "docker-buildx"


def ensure_buildx_plugin() -> str:
    """Install buildx as the CLI plugin when the ``docker`` on ``PATH`` has none; say what was done.

    The Dockerfiles need BuildKit (``RUN --mount=type=cache``). Docker's 20.10 CLI (Debian's
    ``docker.io``) has a BuildKit client built in; from 23.0 on, ``docker build`` with BuildKit
    is the buildx plugin, which Debian 12 does not package. A machine whose ``docker`` is a newer
    CLI without it (as this project's development machines have beside Debian's engine) gets it
    built from the Go module proxy, like Compose.
    """
    docker = _docker()
    probe = subprocess.run(  # noqa: S603 - fixed argument list
        [docker, "buildx", "version"], capture_output=True, text=True, check=False
    )
    if probe.returncode == 0:
        return f"buildx present: {probe.stdout.strip()}"
    plugin = buildx_plugin_path()
    staged = plugin.with_suffix(".new")
    version_flag = f"-X {BUILDX_MODULE}/version.Version={BUILDX_VERSION}"
    _go_build_module(BUILDX_MODULE, BUILDX_VERSION, "./cmd/buildx", staged, f"-s -w {version_flag}")
    staged.replace(plugin)
    return f"buildx {BUILDX_VERSION} built into {plugin} (the docker CLI on PATH had none)"


def ensure_compose_plugin() -> str:
    """Install Compose v2 as the CLI plugin, built from the Go module proxy; return what was done.

    Debian ships only Compose v1, and ``go install ...@version`` refuses the module (its
    ``exclude`` directives), so a writable copy of the downloaded module is built with
    ``go build ./cmd``. An installed plugin that reports :data:`COMPOSE_VERSION` is kept.
    """
    plugin = compose_plugin_path()
    if plugin.is_file():
        done = subprocess.run(  # noqa: S603 - fixed argument list
            [str(plugin), "version", "--short"], capture_output=True, text=True, check=False
        )
        if done.returncode == 0 and done.stdout.strip().lstrip("v") == COMPOSE_VERSION[1:]:
            return f"compose {COMPOSE_VERSION} already installed"
    staged = plugin.with_suffix(".new")
    version_flag = f"-X {COMPOSE_MODULE}/internal.Version={COMPOSE_VERSION}"
    _go_build_module(COMPOSE_MODULE, COMPOSE_VERSION, "./cmd", staged, f"-s -w {version_flag}")
    staged.replace(plugin)
    return f"compose {COMPOSE_VERSION} built into {plugin}"

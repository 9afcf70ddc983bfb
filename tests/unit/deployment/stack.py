"""Read the deployment files the way Docker reads them, and the settings the services know.

Used by the deployment checks: the compose files (YAML with merge keys, as compose reads it),
the Dockerfiles (instructions per stage, line continuations joined), ``.env.example``, and the
environment variable names every service's pydantic-settings classes accept.
"""

from __future__ import annotations

import importlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]
from pydantic import AliasChoices, AliasPath
from pydantic_settings import BaseSettings

from prestacop_shared.kafka import KafkaSettings

REPO_ROOT = Path(__file__).resolve().parents[3]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
OVERRIDE_FILE = REPO_ROOT / "docker-compose.override.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
SERVICES_DIR = REPO_ROOT / "services"

SERVICE_NAMES = ("drone", "alert-mailer", "csv-ingestor", "stream-storage", "analytics")
"""Every deployable under services/ (one Dockerfile and one compose service each)."""

SPARK_SERVICES = frozenset({"stream-storage", "analytics"})

RUNTIME_VARIABLES = frozenset({"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"})
"""Interpreter variables the images set for every service (not Prestacop settings)."""

PYSPARK_VARIABLES = frozenset({"PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON"})
"""Read by pyspark itself: which Python its workers and driver run (Spark images only)."""

SPARK_DAEMON_VARIABLES = frozenset(
    {"SPARK_WORKER_DIR", "SPARK_WORKER_CORES", "SPARK_WORKER_MEMORY", "SPARK_MASTER_OPTS"}
)
"""Spark standalone's own daemon variables (spark-env), set on the spark-cluster daemons only."""

COMPOSE_KNOB_PREFIX = "PRESTACOP_"
"""Variables interpolated by docker-compose.yml itself and read by no service."""

_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")
_ENV_LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=")


def load_yaml(path: Path) -> dict[str, Any]:
    """A compose file as compose sees it before interpolation (YAML merge keys applied)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path} is not a YAML mapping"
    return data


def compose_services(path: Path = COMPOSE_FILE) -> dict[str, dict[str, Any]]:
    """The ``services`` mapping of a compose file."""
    services = load_yaml(path).get("services") or {}
    assert isinstance(services, dict)
    return services


def environment_of(service: dict[str, Any]) -> dict[str, Any]:
    """A compose service's ``environment`` as a mapping (list form ``K=V`` / ``K`` accepted)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return {
            item.split("=", 1)[0]: item.split("=", 1)[1] if "=" in item else None for item in env
        }
    return dict(env)


def interpolated_names(text: str) -> set[str]:
    """Names of the variables ``${...}`` in a compose file's text."""
    return {match.group(1) for match in _INTERPOLATION.finditer(text)}


def with_defaults(value: str) -> str:
    """Resolve ``${VAR:-default}`` to its default (what compose does when VAR is unset)."""
    return _INTERPOLATION.sub(lambda m: m.group(3) or "", value)


def env_example_keys(path: Path = ENV_EXAMPLE) -> list[str]:
    """Every variable .env.example sets or documents (``KEY=`` and commented ``#KEY=`` lines)."""
    keys = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _ENV_LINE.match(line)
        if match:
            keys.append(match.group(1))
    return keys


def built_from(service: dict[str, Any]) -> str | None:
    """The services/<name> a compose service is built from, or None for pulled images."""
    build = service.get("build")
    if not isinstance(build, dict):
        return None
    parts = Path(str(build.get("dockerfile", ""))).parts
    if len(parts) == 3 and parts[0] == "services" and parts[2] == "Dockerfile":
        return parts[1]
    return None


# ----------------------------------------------------------------------------------------------
# Dockerfiles


@dataclass
class Stage:
    """One ``FROM`` stage: its base, alias and instructions (``(KEYWORD, arguments)``)."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        """Arguments of every instruction ``keyword`` of this stage."""
        return [args for kw, args in self.instructions if kw == keyword]

    def env(self) -> dict[str, str]:
        """The ``ENV key=value`` pairs of this stage."""
        pairs: dict[str, str] = {}
        for args in self.all("ENV"):
            for token in re.findall(r'([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)', args):
                pairs[token[0]] = token[1].strip('"')
        return pairs


@dataclass
class Dockerfile:
    """A parsed Dockerfile: its stages, in order; the last one is the image."""

    path: Path
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        """The stage the image is built from."""
        return self.stages[-1]

    def exec_form(self, keyword: str) -> list[str] | None:
        """The last ``CMD``/``ENTRYPOINT`` of the final stage as a JSON list, None if absent.

        Raises:
            AssertionError: the instruction is in shell form.
        """
        values = self.final.all(keyword)
        if not values:
            return None
        parsed = json.loads(values[-1])
        assert isinstance(parsed, list), f"{self.path}: {keyword} is not in exec form"
        return [str(item) for item in parsed]

    def healthcheck(self) -> str | None:
        """The final stage's ``HEALTHCHECK`` arguments, None if it has none."""
        values = self.final.all("HEALTHCHECK")
        return values[-1] if values else None


def parse_dockerfile(path: Path) -> Dockerfile:
    """Split a Dockerfile into stages of instructions (continuations joined, comments dropped)."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        args = args.strip()
        if keyword == "FROM":
            words = args.split()
            words = [w for w in words if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        elif stages:
            stages[-1].instructions.append((keyword, args))
    assert stages, f"{path} has no FROM"
    return Dockerfile(path, stages)


def service_dockerfile(name: str) -> Dockerfile:
    """The parsed Dockerfile of services/<name>."""
    return parse_dockerfile(SERVICES_DIR / name / "Dockerfile")


def console_scripts(name: str) -> dict[str, str]:
    """``[project.scripts]`` of services/<name>/pyproject.toml."""
    data = tomllib.loads((SERVICES_DIR / name / "pyproject.toml").read_text(encoding="utf-8"))
    return dict(data["project"].get("scripts", {}))


def project_name(name: str) -> str:
    """The distribution name of services/<name> (``prestacop-<name>``)."""
    data = tomllib.loads((SERVICES_DIR / name / "pyproject.toml").read_text(encoding="utf-8"))
    return str(data["project"]["name"])


# ----------------------------------------------------------------------------------------------
# Settings


def env_names(settings_cls: type[BaseSettings]) -> set[str]:
    """The environment variables a pydantic-settings class reads (prefix + field, or aliases)."""
    prefix = str(settings_cls.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for field_name, info in settings_cls.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, str):
            names.add(alias.upper())
        elif isinstance(alias, AliasChoices):
            names.update(
                str(choice if isinstance(choice, str) else choice.path[0]).upper()
                for choice in alias.choices
            )
        elif isinstance(alias, AliasPath):
            names.add(str(alias.path[0]).upper())
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


def _package(name: str) -> str:
    return "prestacop_" + name.replace("-", "_")


def _package_source(name: str) -> str:
    src = SERVICES_DIR / name / "src" / _package(name)
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(src.rglob("*.py")))


@cache
def service_settings_classes(name: str) -> tuple[type[BaseSettings], ...]:
    """The settings classes services/<name> loads: its own ``config`` module's, plus the shared
    Kafka/Spark settings when its code uses them."""
    module = importlib.import_module(f"{_package(name)}.config")
    own = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseSettings)
        and value.__module__ == module.__name__
    ]
    assert own, f"{module.__name__} defines no pydantic-settings class"
    source = _package_source(name)
    shared: list[type[BaseSettings]] = []
    if "KafkaSettings" in source:
        shared.append(KafkaSettings)
    if "SparkSettings" in source or "build_spark_session" in source:
        from prestacop_shared.spark import SparkSettings

        shared.append(SparkSettings)
    return (*own, *shared)


@cache
def service_env_names(name: str) -> frozenset[str]:
    """Every environment variable services/<name> reads as a setting."""
    names: set[str] = set()
    for settings_cls in service_settings_classes(name):
        names |= env_names(settings_cls)
    return frozenset(names)


def allowed_variables(name: str) -> frozenset[str]:
    """The settings of services/<name> plus the documented non-setting variables of its image."""
    allowed = service_env_names(name) | RUNTIME_VARIABLES
    if name in SPARK_SERVICES:
        allowed |= PYSPARK_VARIABLES
    return allowed


def unknown_variables(variables: dict[str, Any] | list[str], allowed: frozenset[str]) -> list[str]:
    """The variables of ``variables`` that are not in ``allowed``, sorted."""
    return sorted(set(variables) - allowed)

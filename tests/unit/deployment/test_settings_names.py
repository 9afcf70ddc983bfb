"""Every variable the deployment sets is a setting its service reads: no typo goes unnoticed.

A misspelt variable (``DRONE_CONT=50``) is silently ignored by pydantic-settings
(``extra="ignore"``), so the service would run on its default. These checks compare the names in
docker-compose.yml, .env.example and the Dockerfiles' ``ENV`` lines with the names the services'
own settings classes accept (introspected, not copied), plus a short documented allow-list
(``stack.RUNTIME_VARIABLES``, ``PYSPARK_VARIABLES``, ``SPARK_DAEMON_VARIABLES``, ``PRESTACOP_*``).
"""

from __future__ import annotations

import pytest

from prestacop_shared.config import load_settings
from prestacop_shared.exceptions import ConfigError
from prestacop_shared.kafka import KafkaSettings
from tests.unit.deployment import stack

pytestmark = pytest.mark.unit


def _compose_service_allowed(name: str, service: dict[str, object]) -> frozenset[str]:
    """What a compose service may set: its settings, or the fixed set of a known tool role."""
    source = stack.built_from(service)
    if name == "kafka-init":  # the topic-creation script: reads KafkaSettings only
        return frozenset(stack.env_names(KafkaSettings))
    if name.startswith("spark-"):  # Spark standalone daemons run from the stream-storage image
        return stack.SPARK_DAEMON_VARIABLES
    assert source is not None, f"{name} is not built from services/: no settings to check"
    assert "command" not in service, f"{name} overrides the image's command: add its role here"
    return stack.allowed_variables(source)


def _prestacop_compose_services() -> list[str]:
    return [
        name
        for name, service in stack.compose_services().items()
        if stack.built_from(service) is not None
    ]


@pytest.mark.parametrize("name", _prestacop_compose_services())
def test_every_variable_a_compose_service_sets_is_a_setting_it_reads(name: str) -> None:
    service = stack.compose_services()[name]
    allowed = _compose_service_allowed(name, service)
    unknown = stack.unknown_variables(stack.environment_of(service), allowed)
    assert not unknown, f"compose service {name} sets variables nothing reads: {unknown}"


@pytest.mark.parametrize("name", stack.SERVICE_NAMES)
def test_every_env_line_of_a_dockerfile_is_a_setting_of_its_service(name: str) -> None:
    env = stack.service_dockerfile(name).final.env()
    unknown = stack.unknown_variables(env, stack.allowed_variables(name))
    assert not unknown, f"services/{name}/Dockerfile sets variables nothing reads: {unknown}"


def test_every_env_example_key_is_a_setting_or_a_documented_compose_knob() -> None:
    every_setting = frozenset().union(*(stack.service_env_names(s) for s in stack.SERVICE_NAMES))
    compose_text = stack.COMPOSE_FILE.read_text(encoding="utf-8")
    problems = []
    for key in stack.env_example_keys():
        if key.startswith(stack.COMPOSE_KNOB_PREFIX) or key in stack.SPARK_DAEMON_VARIABLES:
            if key not in stack.interpolated_names(compose_text):
                problems.append(f"{key}: documented but docker-compose.yml never uses it")
        elif key not in every_setting:
            problems.append(f"{key}: no service reads it")
    assert not problems, "\n".join(problems)


def test_env_example_settings_reach_the_service_that_reads_them() -> None:
    """A setting in .env.example that its service's compose entry does not pass is dead."""
    services = stack.compose_services()
    passed: set[str] = set()
    for service in services.values():
        passed |= set(stack.environment_of(service))
    compose_text = stack.COMPOSE_FILE.read_text(encoding="utf-8")
    unreachable = [
        key
        for key in stack.env_example_keys()
        if key not in passed and key not in stack.interpolated_names(compose_text)
    ]
    assert not unreachable, f".env.example keys compose never hands to a service: {unreachable}"


def test_every_variable_compose_interpolates_is_documented_in_env_example() -> None:
    documented = set(stack.env_example_keys())
    for path in (stack.COMPOSE_FILE, stack.OVERRIDE_FILE):
        missing = stack.interpolated_names(path.read_text(encoding="utf-8")) - documented
        assert not missing, f"{path.name} interpolates undocumented variables: {sorted(missing)}"


def test_the_check_catches_a_misspelt_setting() -> None:
    """The comparison above is not vacuous: a typo of a real setting is reported."""
    allowed = stack.allowed_variables("drone")
    assert "DRONE_COUNT" in allowed
    assert stack.unknown_variables({"DRONE_COUNT": 5, "DRONE_CONT": 5}, allowed) == ["DRONE_CONT"]
    assert "MAILER_OPERATOR_TOKEN" not in allowed, "a service must not accept another's settings"


@pytest.mark.parametrize(
    ("service", "variable"),
    [("alert-mailer", "MAILER_OPERATOR_TOKEN"), ("analytics", "ANALYTICS_API_TOKEN")],
)
def test_the_placeholder_tokens_of_env_example_are_refused_by_the_services(
    service: str, variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Copying .env.example without editing it must not start an open API."""
    lines = stack.ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    placeholder = next(line.split("=", 1)[1] for line in lines if line.startswith(f"{variable}="))
    monkeypatch.setenv(variable, placeholder)
    monkeypatch.setenv("MAILER_MAIL_TO", "operators@prestacop.example")
    settings_cls = stack.service_settings_classes(service)[0]
    with pytest.raises(ConfigError, match=variable.split("_", 1)[1]):
        load_settings(settings_cls)

"""docker-compose.yml and its development override: valid, healthy, scalable, wired."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.deployment import stack

pytestmark = pytest.mark.unit

VENV_BIN = Path(sys.executable).parent
ONE_SHOT = frozenset({"kafka-init"})
"""Services that run to completion; dependants wait with service_completed_successfully."""

CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


@pytest.mark.parametrize("path", [stack.COMPOSE_FILE, stack.OVERRIDE_FILE], ids=lambda p: p.name)
def test_compose_file_validates_against_the_compose_spec(path: Path) -> None:
    done = subprocess.run(
        [str(VENV_BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_service_of_the_repository_is_deployed_from_its_own_dockerfile() -> None:
    services = stack.compose_services()
    for name in stack.SERVICE_NAMES:
        assert name in services, f"services/{name} has no compose service"
        build = services[name]["build"]
        assert build["context"] == ".", f"{name}: the build context must be the workspace root"
        assert build["dockerfile"] == f"services/{name}/Dockerfile"


def test_every_long_running_service_has_a_healthcheck() -> None:
    """`up --wait` and `depends_on: service_healthy` need one; an image's HEALTHCHECK counts."""
    missing = []
    for name, service in stack.compose_services().items():
        if name in ONE_SHOT:
            continue
        check = service.get("healthcheck")
        if check and not check.get("disable"):
            continue
        source = stack.built_from(service)
        if check is None and source and stack.service_dockerfile(source).healthcheck():
            continue
        missing.append(name)
    assert not missing, f"services without a healthcheck: {missing}"


def test_depends_on_names_existing_services_with_valid_conditions() -> None:
    services = stack.compose_services()
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: use the long depends_on form with a condition"
        for target, spec in depends.items():
            assert target in services, f"{name} depends on unknown service {target}"
            assert spec.get("condition") in CONDITIONS, f"{name} -> {target}: {spec}"
            if target in ONE_SHOT:
                assert spec["condition"] == "service_completed_successfully", (
                    f"{name} must wait for the one-shot {target} to finish, not to start"
                )
            elif spec["condition"] == "service_completed_successfully":
                pytest.fail(f"{name} waits for {target} to exit, but {target} runs forever")


def test_every_kafka_client_waits_for_the_topics() -> None:
    """Services that talk to Kafka start only after kafka-init created every topic."""
    for name, service in stack.compose_services().items():
        source = stack.built_from(service)
        if name in ONE_SHOT or source is None or "command" in service:
            continue
        if "KAFKA_BOOTSTRAP_SERVERS" in stack.environment_of(service):
            condition = (service.get("depends_on") or {}).get("kafka-init", {}).get("condition")
            assert condition == "service_completed_successfully", name


def test_drone_scales_without_container_name_or_fixed_host_port() -> None:
    for path in (stack.COMPOSE_FILE, stack.OVERRIDE_FILE):
        drone = stack.compose_services(path).get("drone", {})
        assert "container_name" not in drone, f"{path.name}: container_name blocks --scale"
        assert "ports" not in drone, f"{path.name}: a host port blocks --scale"
        assert "hostname" not in drone, f"{path.name}: replicas need their own host names"
        assert "DRONE_HOST" not in stack.environment_of(drone), "drone ids come from host names"
        assert "DRONE_IDS" not in stack.environment_of(drone), "replicas would share drone ids"


def test_no_service_pins_a_container_name() -> None:
    """Two projects (a dev stack and a test run) can then live side by side."""
    named = [n for n, s in stack.compose_services().items() if "container_name" in s]
    assert not named


def test_host_ports_are_published_only_by_the_override_and_only_on_localhost() -> None:
    published = {n: s["ports"] for n, s in stack.compose_services().items() if "ports" in s}
    assert not published, f"docker-compose.yml publishes ports: {published}"
    override = stack.compose_services(stack.OVERRIDE_FILE)
    for name, service in override.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port} is open to the network"
    people_facing = {"analytics", "alert-mailer", "mailpit", "kafka-ui"}
    assert people_facing <= {n for n, s in override.items() if s.get("ports")}


def test_containers_reach_kafka_on_an_advertised_internal_listener() -> None:
    services = stack.compose_services()
    kafka_env = stack.environment_of(services["kafka"])
    advertised = {
        entry.split("://", 1)[1] for entry in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    }
    for name, service in services.items():
        bootstrap = stack.environment_of(service).get("KAFKA_BOOTSTRAP_SERVERS")
        if bootstrap is not None and not name.startswith("kafka-ui"):
            assert set(stack.with_defaults(str(bootstrap)).split(",")) <= advertised, name
    port = next(a.rsplit(":", 1)[1] for a in advertised)
    assert f"localhost:{port}" in services["kafka"]["healthcheck"]["test"]


def test_the_host_listener_is_advertised_as_localhost_in_the_override_only() -> None:
    base = stack.environment_of(stack.compose_services()["kafka"])
    dev = stack.environment_of(stack.compose_services(stack.OVERRIDE_FILE)["kafka"])
    assert "localhost" not in base["KAFKA_ADVERTISED_LISTENERS"]
    assert "EXTERNAL://localhost:9092" in dev["KAFKA_ADVERTISED_LISTENERS"]
    assert "127.0.0.1:9092:9092" in stack.compose_services(stack.OVERRIDE_FILE)["kafka"]["ports"]
    # The override replaces these variables whole: it must keep the internal listeners.
    for key in ("KAFKA_LISTENERS", "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"):
        for listener in ("INTERNAL", "CONTROLLER"):
            assert listener in dev[key], f"override {key} drops {listener}"


def test_the_data_volume_is_shared_by_ingestor_storage_and_analytics() -> None:
    services = stack.compose_services()
    for name in ("csv-ingestor", "stream-storage", "analytics"):
        assert "prestacop-data:/data" in services[name]["volumes"], name
    inbox = stack.service_dockerfile("csv-ingestor").exec_form("CMD")
    assert inbox is not None and inbox[inbox.index("--inbox") + 1].startswith("/data/")
    storage_env = stack.service_dockerfile("stream-storage").final.env()
    analytics_env = stack.service_dockerfile("analytics").final.env()
    assert storage_env["STORAGE_DATA_DIR"] == analytics_env["ANALYTICS_DATA_DIR"] == "/data"
    assert "prestacop-data" in stack.load_yaml(stack.COMPOSE_FILE)["volumes"]


def test_the_mailer_keeps_its_sent_record_on_a_volume() -> None:
    """Without it a recreated container forgets what it mailed and could mail twice."""
    mailer = stack.compose_services()["alert-mailer"]
    state_dir = stack.service_dockerfile("alert-mailer").final.env()["MAILER_STATE_DIR"]
    assert any(str(v).endswith(f":{state_dir}") for v in mailer["volumes"])


def test_stop_grace_covers_stream_storage_own_stop_timeout() -> None:
    from prestacop_stream_storage.config import Settings

    grace = stack.compose_services()["stream-storage"]["stop_grace_period"]
    seconds = int(re.fullmatch(r"(\d+)s", grace).group(1))  # type: ignore[union-attr]
    assert seconds > Settings.model_fields["stop_timeout_s"].default


def test_spark_cluster_profile_runs_the_drivers_own_spark_and_python() -> None:
    services = stack.compose_services()
    for name in ("spark-master", "spark-worker"):
        assert services[name]["profiles"] == ["spark-cluster"]
        # The image of the driver that runs Python in Spark tasks (analytics' mapInArrow).
        assert services[name]["build"] == services["analytics"]["build"], name
        assert services[name]["command"][0] == "spark-class"
    assert "spark://spark-master:7077" in services["spark-worker"]["command"]
    assert "prestacop-data:/data" in services["spark-worker"]["volumes"]
    text = stack.ENV_EXAMPLE.read_text(encoding="utf-8")
    assert "SPARK_MASTER_URL=spark://spark-master:7077" in text


def test_kafka_cluster_profile_adds_brokers_to_the_same_cluster() -> None:
    services = stack.compose_services()
    base = stack.environment_of(services["kafka"])
    ids = {base["KAFKA_NODE_ID"]}
    for name in ("kafka-2", "kafka-3"):
        env = stack.environment_of(services[name])
        assert services[name]["profiles"] == ["kafka-cluster"]
        assert env["CLUSTER_ID"] == base["CLUSTER_ID"]
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == base["KAFKA_CONTROLLER_QUORUM_VOTERS"]
        ids.add(env["KAFKA_NODE_ID"])
    assert len(ids) == 3, "node ids must differ"


def test_ui_profile_holds_kafka_ui_on_the_internal_listener() -> None:
    ui = stack.compose_services()["kafka-ui"]
    assert ui["profiles"] == ["ui"]
    assert ui["environment"]["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"] == "kafka:19092"

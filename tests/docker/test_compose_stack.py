"""The whole compose stack, built from this checkout: drones to emails, CSV to files, reports.

Runs docker-compose.yml alone (no development override: no host port is published, so a
developer's running stack never collides), under a project name of its own, with real tokens in a
throwaway env file. Everything is observed from inside the project network with
``docker compose exec``: Mailpit's API, Kafka, the shared data volume. Skipped with the reason
where no Docker engine (or no compose plugin) answers.
"""

from __future__ import annotations

import csv
import json
import secrets
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from testcontainers.compose import DockerCompose

from tests.docker.engine import compose_available

AVAILABLE, WHY = compose_available()
pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(not AVAILABLE, reason=WHY),
    # First build of the Spark images downloads pyspark, a JRE and the connector: a hang guard.
    pytest.mark.timeout(3600),
]

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE = REPO_ROOT / "tests" / "data" / "nyc" / "fy2017_head_99_rows.csv"
MAIL_TO = "operators@prestacop.example"
T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], *, what: str, timeout_s: float = 300) -> T:
    """Call ``probe`` until it returns something truthy (a hang guard, not a speed assertion)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout_s:.0f} s")
        time.sleep(3)


def run_python(stack: DockerCompose, service: str, code: str) -> str:
    """Run Python in a service's container; return its stdout (fails on a non-zero exit)."""
    stdout, stderr, code_ = stack.exec_in_container(["python", "-c", code], service_name=service)
    assert code_ == 0, f"python in {service} failed ({code_}):\n{stderr[-3000:]}"
    return stdout


def compose(stack: DockerCompose, *args: str) -> None:
    """Run another ``docker compose`` command on the same project."""
    subprocess.run([*stack.compose_command_property, *args], check=True, timeout=900)


@pytest.fixture(scope="module")
def tokens() -> dict[str, str]:
    return {
        "MAILER_OPERATOR_TOKEN": secrets.token_hex(24),
        "ANALYTICS_API_TOKEN": secrets.token_hex(24),
    }


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, tokens: dict[str, str]
) -> Iterator[DockerCompose]:
    env_file = tmp_path_factory.mktemp("compose") / "stack.env"
    settings = {
        **tokens,
        "MAILER_MAIL_TO": MAIL_TO,
        "DRONE_COUNT": "3",
        "DRONE_INTERVAL_S": "0.5",
        # Many offences, half of them alerts: emails within seconds.
        "DRONE_VIOLATION_PROBABILITY": "0.5",
        "DRONE_ALERT_PROBABILITY": "0.5",
        "STORAGE_TRIGGER_INTERVAL_S": "2",
    }
    env_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        # Not the `prestacop` project of docker-compose.yml: `down -v` must only touch ours.
        patch.setenv("COMPOSE_PROJECT_NAME", f"prestacop-test-{uuid.uuid4().hex[:8]}")
        stack = DockerCompose(
            REPO_ROOT,
            compose_file_name=["docker-compose.yml"],
            build=True,
            wait=True,
            env_file=str(env_file),
        )
        stack.start()
        try:
            yield stack
        finally:
            stack.stop()  # down --volumes


def test_drone_alerts_arrive_once_each_as_emails_in_mailpit(stack: DockerCompose) -> None:
    read_messages = (
        "import json, urllib.request; print(json.dumps(json.load(urllib.request.urlopen("
        "'http://mailpit:8025/api/v1/messages?limit=500', timeout=10))))"
    )

    def messages() -> list[dict[str, Any]] | None:
        listing = json.loads(run_python(stack, "alert-mailer", read_messages))
        return listing["messages"] or None

    mails = wait_for(messages, what="a first alert email in Mailpit")

    assert all(any(to["Address"] == MAIL_TO for to in m["To"]) for m in mails)
    message_ids = [m["MessageID"] for m in mails]
    assert len(message_ids) == len(set(message_ids)), "an alert was mailed twice"


def test_scaled_drone_replicas_fly_drones_with_distinct_ids(stack: DockerCompose) -> None:
    compose(stack, "up", "--detach", "--wait", "--no-recreate", "--scale", "drone=3", "drone")
    read_ids = """
import json, time, uuid
from confluent_kafka import Consumer
from prestacop_shared import topics
from prestacop_shared.kafka import KafkaSettings
settings = KafkaSettings()
consumer = Consumer(settings.consumer_config("docker-test-" + uuid.uuid4().hex))
consumer.subscribe([settings.topic(topics.DRONE_STATUS)])
ids, end = set(), time.monotonic() + 30
while time.monotonic() < end:
    message = consumer.poll(1)
    if message is not None and message.error() is None:
        ids.add(json.loads(message.value())["drone_id"])
consumer.close()
print(json.dumps(sorted(ids)))
"""

    def hosts() -> set[str] | None:
        ids = json.loads(run_python(stack, "alert-mailer", read_ids))
        found = {drone_id.rsplit("-", 1)[0] for drone_id in ids}
        return found if len(found) >= 3 else None

    found = wait_for(hosts, what="statuses from three drone replicas")

    assert len(found) >= 3, f"replicas share drone ids: {sorted(found)}"


def test_a_csv_file_dropped_in_the_inbox_is_stored_exactly_once(stack: DockerCompose) -> None:
    with SAMPLE.open(newline="", encoding="utf-8") as handle:
        rows = sum(1 for _ in csv.reader(handle)) - 1
    compose(stack, "cp", str(SAMPLE), f"csv-ingestor:/data/inbox/{SAMPLE.name}")
    wait_for(
        lambda: run_python(
            stack,
            "csv-ingestor",
            f"import os; print(os.path.exists('/data/inbox/done/{SAMPLE.name}') or '')",
        ).strip(),
        what="the ingestor to finish the file",
    )
    count_stored = f"""
from prestacop_analytics.config import AnalyticsSettings
from prestacop_shared.spark import SparkSettings, build_spark_session, read_dataset
from prestacop_shared.tickets import HistoricalTicket
spark = build_spark_session("docker-test", SparkSettings(master_url="local[1]"))
rows = read_dataset(spark, AnalyticsSettings().tickets_dir, HistoricalTicket)
mine = rows.where(rows.source_file == "{SAMPLE.name}")
print(mine.count(), mine.select("source_line").distinct().count())
"""

    def stored() -> tuple[int, int] | None:
        try:
            total, distinct = map(int, run_python(stack, "analytics", count_stored).split()[-2:])
        except AssertionError:  # no committed batch yet: the dataset folder is not there
            return None
        return (total, distinct) if total >= rows else None

    total, distinct = wait_for(stored, what=f"{rows} stored rows", timeout_s=600)

    assert total == distinct == rows


def test_the_analytics_report_is_written_and_served(
    stack: DockerCompose, tokens: dict[str, str]
) -> None:
    trigger = f"""
import urllib.request
request = urllib.request.Request(
    "http://127.0.0.1:8090/api/runs", method="POST",
    headers={{"Authorization": "Bearer {tokens["ANALYTICS_API_TOKEN"]}"}},
)
print(urllib.request.urlopen(request, timeout=30).status)
"""
    assert run_python(stack, "analytics", trigger).strip() in {"200", "201", "202"}
    list_reports = (
        "import os; d = '/data/reports'; "
        "print(' '.join(sorted(os.listdir(d))) if os.path.isdir(d) else '')"
    )
    wait_for(
        lambda: run_python(stack, "analytics", list_reports).strip(),
        what="a report in /data/reports",
        timeout_s=600,
    )
    dashboard = (
        "import urllib.request; r = urllib.request.urlopen('http://127.0.0.1:8090/', timeout=30); "
        "print(r.status, len(r.read()))"
    )
    status, size = run_python(stack, "analytics", dashboard).split()
    assert status == "200" and int(size) > 0

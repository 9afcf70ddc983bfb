"""The default compose stack, brought up by ``make up`` from this checkout: drones to emails, ten
drone replicas, CSV to stored files to the dashboard's report, and SIGKILLed services.

One stack for the module (started once, on fresh volumes, under a project name of its own; down
with its volumes at the end). docker-compose.yml is used as users have it, without the
development override (no host port). Skipped with the reason where no engine, no compose plugin
or no base image is there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from prestacop_shared import topics
from tests.docker.engine import stack_available
from tests.docker.stack import (
    MAIL_TO,
    NYC,
    REPO_ROOT,
    Stack,
    data_lines,
    record_timing,
    wait_for,
)

AVAILABLE, WHY = stack_available()
pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(not AVAILABLE, reason=WHY),
    # The first build of the Spark images compiles pyspark from its sdist: a hang guard.
    pytest.mark.timeout(2400),
]

SMALL = NYC / "fy2017_head_99_rows.csv"
LARGE = NYC / "fy2017_head_10212_rows.csv"
DRONES_PER_CONTAINER = 2
REPLICAS = 10


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack.create(
        tmp_path_factory.mktemp("compose"),
        {
            "DRONE_COUNT": str(DRONES_PER_CONTAINER),
            "DRONE_INTERVAL_S": "1",
            # Many offences, a third of them alerts: emails within seconds.
            "DRONE_VIOLATION_PROBABILITY": "0.3",
            "DRONE_ALERT_PROBABILITY": "0.3",
            "STORAGE_TRIGGER_INTERVAL_S": "2",
            # The large file takes ~50 s, read 64 KiB (~330 rows) at a time: it is still mid-file
            # however slow the probes of a loaded machine are.
            "INGESTOR_MAX_ROWS_PER_S": "200",
            "INGESTOR_BLOCK_BYTES": "65536",
            "INGESTOR_COMMIT_INTERVAL_S": "1",
        },
    )
    env_file = stack.command[stack.command.index("--env-file") + 1]
    compose = " ".join(c for c in stack.command if c != "--env-file" and c != env_file)
    started = time.monotonic()
    try:
        subprocess.run(
            ["make", "--no-print-directory", "up", f"COMPOSE={compose}", f"ENV_FILE={env_file}"],
            cwd=REPO_ROOT,
            check=True,
            timeout=2400,
            env={**os.environ, "COMPOSE_PROJECT_NAME": stack.project},
        )
        record_timing("make up (build + start) to all healthy", time.monotonic() - started)
        yield stack
    finally:
        stack.down()


def test_make_up_brings_every_service_up_healthy(stack: Stack) -> None:
    states = {
        c.Service: (c.State, c.Health) for c in stack.compose.get_containers(include_all=True)
    }
    expected = {"kafka", "kafka-init", "mailpit", "drone", "alert-mailer", "csv-ingestor"}
    expected |= {"stream-storage", "analytics"}

    assert set(states) == expected
    assert states.pop("kafka-init")[0] == "exited"
    done = subprocess.run(
        ["docker", "inspect", "--format", "{{.State.ExitCode}}", *stack.run("ps", "-aq", "kafka-init").split()],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.split() == ["0"]
    assert states == dict.fromkeys(states, ("running", "healthy"))


def test_ten_drone_replicas_fly_disjoint_sets_of_drones(stack: Stack) -> None:
    started = time.monotonic()
    stack.run("up", "--detach", "--wait", "--no-recreate", "--scale", f"drone={REPLICAS}", "drone")
    record_timing(f"--scale drone={REPLICAS} to all healthy", time.monotonic() - started)
    hostnames = {c["Config"]["Hostname"] for c in stack.containers("drone")}
    assert len(hostnames) == REPLICAS

    def sets_by_replica() -> dict[str, set[str]] | None:
        ids = set(stack.read_topic(topics.DRONE_STATUS, "drone_id"))
        by_host: dict[str, set[str]] = {}
        for drone_id in ids:
            fleet_and_host, _index = drone_id.rsplit("-", 1)
            by_host.setdefault(fleet_and_host.split("-", 1)[1], set()).add(drone_id)
        complete = all(len(by_host.get(h, ())) == DRONES_PER_CONTAINER for h in hostnames)
        return by_host if complete else None

    by_host = wait_for(sets_by_replica, what=f"statuses of every drone of {REPLICAS} replicas")

    assert set(by_host) == hostnames, "a drone id names no running replica"
    every_id = [drone_id for ids in by_host.values() for drone_id in ids]
    assert len(every_id) == len(set(every_id)) == REPLICAS * DRONES_PER_CONTAINER


def test_every_alert_in_kafka_is_one_email_in_mailpit(stack: Stack) -> None:
    # Stop the drones (they flush what they produced): the set of alerts is then final.
    stack.run("stop", "drone", timeout_s=300)
    alert_ids = set(stack.read_topic(topics.DRONE_ALERTS, "event_id"))
    assert alert_ids, "the drones raised no alert"
    read_mails = (
        "import json, urllib.request; print(json.dumps(json.load(urllib.request.urlopen("
        "'http://mailpit:8025/api/v1/messages?limit=5000', timeout=20))))"
    )

    def mails() -> list[dict[str, object]] | None:
        listing = json.loads(stack.python("alert-mailer", read_mails))
        return listing["messages"] if listing["total"] >= len(alert_ids) else None

    messages = wait_for(mails, what=f"{len(alert_ids)} emails in Mailpit")

    mailed = [str(m["MessageID"]).strip("<>") for m in messages]
    assert sorted(mailed) == sorted(f"alert-{alert_id}@prestacop" for alert_id in alert_ids)
    assert all(any(to["Address"] == MAIL_TO for to in m["To"]) for m in messages)  # type: ignore[attr-defined]


def test_a_sample_file_in_the_inbox_is_stored_and_its_report_served(stack: Stack) -> None:
    rows = data_lines(SMALL)
    stack.drop_in_inbox(SMALL)

    total, distinct = stack.stored_tickets(SMALL.name, rows)

    assert total == distinct == rows
    trigger = """
import os, sys, urllib.request
request = urllib.request.Request("http://analytics:8090/api/runs", method="POST",
    headers={"Authorization": "Bearer " + sys.argv[1]})
print(urllib.request.urlopen(request, timeout=30).status)
"""
    token = stack.env["ANALYTICS_API_TOKEN"]
    assert stack.python("alert-mailer", trigger, token).strip() == "202"
    get = (
        "import sys, urllib.request; "
        "print(urllib.request.urlopen('http://analytics:8090' + sys.argv[1], timeout=30).read().decode())"
    )

    def finished() -> dict[str, object] | None:
        state = json.loads(stack.python("alert-mailer", get, "/api/runs/current"))
        return state if state["finished_at"] and not state["running"] else None

    state = wait_for(finished, what="the report run to finish", timeout_s=600)
    assert state["last_error"] is None and state["last_run_id"], state
    report = json.loads(stack.python("alert-mailer", get, "/api/reports/latest"))
    assert report["inputs"]["tickets"]["rows"] == rows
    assert "<html" in stack.python("alert-mailer", get, "/").lower()


def _sigkill_main_process(stack: Stack, service: str) -> None:
    """SIGKILL the container's PID 1 from the host, as a crash or the OOM killer would.

    ``docker kill`` would not do: the engine marks a container it kills itself as stopped on
    purpose and cancels its restart policy.
    """
    (container,) = stack.containers(service)
    os.kill(container["State"]["Pid"], signal.SIGKILL)


def test_sigkilled_ingestor_and_storage_come_back_and_store_the_file_exactly_once(
    stack: Stack,
) -> None:
    if os.geteuid() != 0:
        pytest.skip("SIGKILL of a container's process from the host needs root")
    rows = data_lines(LARGE)
    restarts_before = {
        s: stack.containers(s)[0]["RestartCount"] for s in ("csv-ingestor", "stream-storage")
    }
    sent_before = len(stack.read_topic(topics.NYPD_TICKETS, "summons_number", "csv-ingestor"))
    stack.drop_in_inbox(LARGE)

    def mid_file() -> bool:
        sent = len(stack.read_topic(topics.NYPD_TICKETS, "summons_number", "csv-ingestor"))
        assert not stack.file_done(LARGE.name), "the file was done before the kill: no fault tested"
        return sent - sent_before >= 1000

    wait_for(mid_file, what="the ingestor to be part-way through the file", timeout_s=240)
    _sigkill_main_process(stack, "csv-ingestor")
    _sigkill_main_process(stack, "stream-storage")

    def back(service: str) -> bool:
        (container,) = stack.containers(service)
        return bool(
            container["RestartCount"] > restarts_before[service] and container["State"]["Running"]
        )

    wait_for(lambda: back("csv-ingestor") and back("stream-storage"), what="the restart policy")
    wait_for(
        lambda: stack.file_done(LARGE.name), what="the ingestor to finish the file", timeout_s=600
    )
    total, distinct = stack.stored_tickets(LARGE.name, rows)

    assert total == distinct == rows

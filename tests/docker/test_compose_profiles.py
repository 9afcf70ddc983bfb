"""The ``spark-cluster`` and ``kafka-cluster`` profiles together, the whole stack driven through
testcontainers' ``DockerCompose``: drivers share the standalone cluster, topics live on three
brokers, and a broker stopped mid-file loses nothing.

One stack for the module (fresh volumes, a project name of its own, down with its volumes at the
end), docker-compose.yml without the development override.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from prestacop_shared import topics
from tests.docker.engine import stack_available
from tests.docker.stack import NYC, Stack, data_lines, record_timing, wait_for

AVAILABLE, WHY = stack_available()
pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(not AVAILABLE, reason=WHY),
    pytest.mark.timeout(2400),
]

SMALL = NYC / "fy2017_head_99_rows.csv"
LARGE = NYC / "fy2017_head_10212_rows.csv"
STORAGE_APP, ANALYTICS_APP = "prestacop-stream-storage", "prestacop-analytics"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack.create(
        tmp_path_factory.mktemp("compose-profiles"),
        {
            "SPARK_MASTER_URL": "spark://spark-master:7077",
            "PRESTACOP_TOPIC_REPLICATION_FACTOR": "3",
            "DRONE_COUNT": "2",
            "STORAGE_TRIGGER_INTERVAL_S": "2",
            # The large file takes ~50 s, read 64 KiB (~330 rows) at a time: still mid-file when
            # a loaded machine's probe sees it started.
            "INGESTOR_MAX_ROWS_PER_S": "200",
            "INGESTOR_BLOCK_BYTES": "65536",
            "INGESTOR_COMMIT_INTERVAL_S": "1",
            # Every partial by Spark tasks, so the tickets are counted on the workers (Python
            # code of analytics, mapInArrow), not on the driver as a small increment would be.
            "ANALYTICS_COLLECT_PARTIAL_MAX_MB": "0",
        },
        profiles=["spark-cluster", "kafka-cluster"],
    )
    started = time.monotonic()
    try:
        stack.compose.start()  # up --build --wait
        record_timing("spark-cluster + kafka-cluster up to all healthy", time.monotonic() - started)
        yield stack
    finally:
        stack.down()


def _get(stack: Stack, url: str) -> Any:
    code = (
        "import sys, urllib.request; "
        "print(urllib.request.urlopen(sys.argv[1], timeout=20).read().decode())"
    )
    return json.loads(stack.python("alert-mailer", code, url))


RUN_URL = "http://analytics:8090/api/runs/current"


def _trigger_report(stack: Stack) -> str:
    """POST /api/runs with the stack's token, from inside the network; the HTTP status."""
    trigger = """
import sys, urllib.request
request = urllib.request.Request("http://analytics:8090/api/runs", method="POST",
    headers={"Authorization": "Bearer " + sys.argv[1]})
print(urllib.request.urlopen(request, timeout=30).status)
"""
    return stack.python("alert-mailer", trigger, stack.env["ANALYTICS_API_TOKEN"]).strip()


def _apps(stack: Stack) -> dict[str, dict[str, Any]]:
    master = _get(stack, "http://spark-master:8080/json/")
    return {app["name"]: app for app in master["activeapps"]}


def test_every_topic_has_three_replicas_on_three_brokers(stack: Stack) -> None:
    describe = """
import json
from confluent_kafka.admin import AdminClient
from prestacop_shared.kafka import KafkaSettings
meta = AdminClient(KafkaSettings().common_config()).list_topics(timeout=20)
print(json.dumps({"brokers": sorted(meta.brokers), "replicas": {
    name: sorted({len(p.replicas) for p in t.partitions.values()}) for name, t in meta.topics.items()}}))
"""
    found = json.loads(stack.python("alert-mailer", describe))

    assert found["brokers"] == [1, 2, 3]
    for name in topics.ALL_TOPICS:
        assert found["replicas"][name] == [3], name
    # Created at first use, after kafka-init waited for the three brokers.
    assert found["replicas"]["__consumer_offsets"] == [3]


def test_storage_and_analytics_share_the_spark_cluster(stack: Stack) -> None:
    storage = wait_for(
        lambda: (_apps(stack).get(STORAGE_APP) or {}).get("cores"),
        what="stream-storage holding cores on the cluster",
    )
    assert _trigger_report(stack) == "202"

    def both() -> dict[str, dict[str, Any]] | None:
        apps = _apps(stack)
        busy = all(
            (apps.get(name) or {}).get("cores", 0) > 0 for name in (STORAGE_APP, ANALYTICS_APP)
        )
        return apps if busy else None

    apps = wait_for(both, what="both drivers holding cores at once")
    rows = data_lines(SMALL)
    stack.drop_in_inbox(SMALL)
    total, distinct = stack.stored_tickets(SMALL.name, rows)

    assert storage > 0 and apps[STORAGE_APP]["cores"] >= 1 and apps[ANALYTICS_APP]["cores"] >= 1
    assert total == distinct == rows
    assert _get(stack, "http://analytics:8090/healthz")  # the dashboard is up meanwhile
    (app,) = _get(stack, "http://stream-storage:4040/api/v1/applications")
    executors = _get(stack, f"http://stream-storage:4040/api/v1/applications/{app['id']}/executors")
    workers = {
        c["NetworkSettings"]["Networks"][n]["IPAddress"]
        for c in stack.containers("spark-worker")
        for n in c["NetworkSettings"]["Networks"]
    }
    on_workers = [
        e for e in executors if e["id"] != "driver" and e["hostPort"].rsplit(":", 1)[0] in workers
    ]
    assert on_workers and sum(e["completedTasks"] for e in on_workers) > 0, executors

    # A report run after the tickets are stored counts them in Spark tasks on the workers.
    wait_for(lambda: not _get(stack, RUN_URL)["running"], what="the first report run to end")
    runs_before = _get(stack, RUN_URL)["runs"]
    assert _trigger_report(stack) == "202"

    def ended() -> dict[str, Any] | None:
        run: dict[str, Any] = _get(stack, RUN_URL)
        return run if run["runs"] > runs_before and not run["running"] else None

    run = wait_for(ended, what="the report run after storing")
    assert run["last_error"] is None, run
    latest = _get(stack, "http://analytics:8090/api/reports/latest")
    assert latest["run_id"] == run["last_run_id"]
    by_hour = _get(
        stack, f"http://analytics:8090/api/reports/{latest['run_id']}/tables/tickets_by_hour"
    )
    assert sum(row["tickets"] for row in by_hour["rows"]) == rows


def test_a_broker_stopped_mid_file_loses_no_record(stack: Stack) -> None:
    rows = data_lines(LARGE)
    stack.drop_in_inbox(LARGE)

    def mid_file() -> bool:
        sent = len(stack.read_topic(topics.NYPD_TICKETS, "summons_number", "csv-ingestor"))
        assert not stack.file_done(LARGE.name), "the file was done before the broker stopped"
        return sent >= 1000

    wait_for(mid_file, what="the ingestor to be part-way through the file", timeout_s=240)
    stack.run("stop", "kafka-2", timeout_s=120)
    try:
        assert not stack.file_done(LARGE.name), "the file was done before kafka-2 stopped"
        wait_for(
            lambda: stack.file_done(LARGE.name), what="the file done on two brokers", timeout_s=600
        )
        total, distinct = stack.stored_tickets(LARGE.name, rows)
    finally:
        stack.run("start", "kafka-2", timeout_s=300)

    assert total == distinct == rows

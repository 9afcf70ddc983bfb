"""Driving and observing a compose project of this checkout from the docker tests.

Everything is observed from inside the project's own network with ``docker compose exec``:
Mailpit's API, Kafka (through the services' own client and settings), the shared data volume.
No host port is published (docker-compose.yml alone, without the development override), so a
developer's running stack never collides and no test sends traffic anywhere else.
"""

from __future__ import annotations

import csv
import json
import os
import re
import secrets
import subprocess
import time
import uuid
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from testcontainers.compose import DockerCompose

REPO_ROOT = Path(__file__).resolve().parents[2]
NYC = REPO_ROOT / "tests" / "data" / "nyc"
MAIL_TO = "operators@prestacop.example"
TIMINGS = REPO_ROOT / "test-artifacts" / "docker-timings.jsonl"
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


def record_timing(what: str, seconds: float) -> None:
    """Append a measured duration to test-artifacts/docker-timings.jsonl (for the README)."""
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    with TIMINGS.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"what": what, "seconds": round(seconds, 1)}) + "\n")


def data_lines(path: Path) -> int:
    """Data rows of a CSV file (its records minus the header)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


# Reads a topic from its start to its current end, with the services' own client and settings;
# prints one JSON list of the chosen field of every record.
_READ_TOPIC = """
import json, sys, time, uuid
from confluent_kafka import Consumer, TopicPartition
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.topics import CATALOGUE, Encoding
settings = KafkaSettings()
topic, field = settings.topic(sys.argv[1]), sys.argv[2]
if CATALOGUE[sys.argv[1]].encoding is Encoding.TICKET_LINES:
    from prestacop_shared.ticket_lines import decode_ticket
    def read(value): return getattr(decode_ticket(value), field)
else:
    def read(value): return json.loads(value)[field]
consumer = Consumer(settings.consumer_config("docker-test-" + uuid.uuid4().hex))
partitions = consumer.list_topics(topic, timeout=20).topics[topic].partitions
ends, start = {}, []
for p in partitions:
    low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=20)
    if high > low:
        ends[p] = high
        start.append(TopicPartition(topic, p, low))
consumer.assign(start)
values, deadline = [], time.monotonic() + 240
while ends and time.monotonic() < deadline:
    message = consumer.poll(1)
    if message is not None and message.error() is None:
        values.append(read(message.value()))
    for tp in consumer.position([TopicPartition(topic, p) for p in list(ends)]):
        if tp.offset >= ends[tp.partition]:
            del ends[tp.partition]
consumer.close()
assert not ends, f"partitions not read to their end: {ends}"
print(json.dumps(values))
"""

# Counts the stored tickets of one source file (committed files only, through the project's own
# reader), waiting inside one Spark session until at least the expected number is there.
_COUNT_STORED = """
import sys, time
from prestacop_analytics.config import AnalyticsSettings
from prestacop_shared.spark import SparkSettings, build_spark_session, read_dataset
from prestacop_shared.tickets import HistoricalTicket
source, expected, deadline = sys.argv[1], int(sys.argv[2]), time.monotonic() + float(sys.argv[3])
spark = build_spark_session("docker-test-count", SparkSettings(master_url="local[1]"))
total = distinct = -1
while time.monotonic() < deadline:
    try:
        rows = read_dataset(spark, AnalyticsSettings().tickets_dir, HistoricalTicket)
    except Exception:  # no committed batch yet: the dataset folder is not there
        time.sleep(5)
        continue
    mine = rows.where(rows.source_file == source)
    total, distinct = mine.count(), mine.select("source_line").distinct().count()
    if total >= expected:
        break
    time.sleep(5)
print(total, distinct)
"""


@dataclass
class Stack:
    """One compose project of this checkout, under a project name of its own.

    Attributes:
        compose: testcontainers' handle on the project (exec, ps, down).
        project: The project name (never ``prestacop``: ``down -v`` only touches ours).
        env: The variables of its env file.
    """

    compose: DockerCompose
    project: str
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        env_dir: Path,
        settings: Mapping[str, str],
        *,
        profiles: list[str] | None = None,
    ) -> Stack:
        """A not yet started project of docker-compose.yml, with real tokens in its env file."""
        env = {
            "MAILER_OPERATOR_TOKEN": secrets.token_hex(24),
            "ANALYTICS_API_TOKEN": secrets.token_hex(24),
            "MAILER_MAIL_TO": MAIL_TO,
            **settings,
        }
        env_file = env_dir / "stack.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()), encoding="utf-8")
        project = f"prestacop-test-{uuid.uuid4().hex[:8]}"
        os.environ["COMPOSE_PROJECT_NAME"] = project  # testcontainers runs compose with our env
        compose = DockerCompose(
            REPO_ROOT,
            compose_file_name=["docker-compose.yml"],
            build=True,
            wait=True,
            env_file=str(env_file),
            profiles=profiles,
        )
        return cls(compose, project, env)

    @property
    def command(self) -> list[str]:
        """``docker compose -f docker-compose.yml [--profile ...] --env-file ...``."""
        return list(self.compose.compose_command_property)

    def _compose(self, *args: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command, *args],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            env={**os.environ, "COMPOSE_PROJECT_NAME": self.project},
        )

    def run(self, *args: str, timeout_s: float = 900) -> str:
        """Run another ``docker compose`` command on this project; return its stdout."""
        done = self._compose(*args, timeout_s=timeout_s)
        assert done.returncode == 0, f"compose {args} failed:\n{done.stderr[-3000:]}"
        return done.stdout

    def python(self, service: str, code: str, *args: str) -> str:
        """Run Python in a service's container; return its stdout (fails on a non-zero exit)."""
        stdout, stderr, code_ = self.compose.exec_in_container(
            ["python", "-c", code, *args], service_name=service
        )
        assert code_ == 0, f"python in {service} failed ({code_}):\n{stderr[-3000:]}"
        return stdout

    def read_topic(self, topic: str, field_name: str, service: str = "alert-mailer") -> list[Any]:
        """Every record of ``topic`` (start to current end): the ``field_name`` of each.

        Values are decoded as the catalogue says the topic is encoded (JSON, or T1 ticket lines,
        which only a service with polars, the csv-ingestor, can decode).
        """
        return list(json.loads(self.python(service, _READ_TOPIC, topic, field_name)))

    def stored_tickets(
        self, source_file: str, expected: int, timeout_s: float = 600
    ) -> tuple[int, int]:
        """(stored rows, distinct source lines) of one file, once ``expected`` are stored."""
        out = self.python("analytics", _COUNT_STORED, source_file, str(expected), str(timeout_s))
        total, distinct = out.split()[-2:]
        return int(total), int(distinct)

    def containers(self, service: str) -> list[dict[str, Any]]:
        """``docker inspect`` of the service's containers."""
        ids = self.run("ps", "-q", "-a", service).split()
        if not ids:
            return []
        done = subprocess.run(
            ["docker", "inspect", *ids], capture_output=True, text=True, check=True, timeout=60
        )
        return list(json.loads(done.stdout))

    def drop_in_inbox(self, sample: Path) -> None:
        """Copy a file into the inbox of the shared data volume, atomically (rename in place)."""
        self.run("cp", str(sample), f"csv-ingestor:/data/{sample.name}")
        self.python(
            "csv-ingestor",
            "import os, sys; os.replace('/data/' + sys.argv[1], '/data/inbox/' + sys.argv[1])",
            sample.name,
        )

    def down(self) -> None:
        """Remove the project's containers, networks, volumes and images (20 s to stop, not 150 s).

        Docker 20.10 sometimes keeps a stale endpoint on a network after every container on it
        is gone (moby/moby#42119, seen here once after the SIGKILL test): ``docker network rm``
        then answers "has active endpoints" until the engine restarts. Such a network is left
        behind with a warning (its name is this run's own, and .ci/run clears old projects);
        any other failure, or a container or volume left, fails the teardown.
        """
        args = ("down", "--volumes", "--rmi", "local", "--remove-orphans", "--timeout", "20")
        done = self._compose(*args, timeout_s=600)
        if done.returncode == 0:
            return
        errors = [line for line in done.stderr.splitlines() if "rror" in line]
        stale = any("has active endpoints" in e for e in errors) and all(
            "has active endpoints" in e or re.fullmatch(r"\s*Network \S+\s+Error", e)
            for e in errors
        )
        assert stale, f"compose {args} failed:\n{done.stderr[-3000:]}"
        label = f"label=com.docker.compose.project={self.project}"
        for kind in ("container", "volume"):
            left = subprocess.run(
                ["docker", kind, "ls", "-q", *(["-a"] if kind == "container" else []),
                 "--filter", label],
                capture_output=True, text=True, check=True, timeout=60,
            ).stdout.split()  # fmt: skip
            assert not left, f"compose down left {kind}s of {self.project}: {left}"
        warnings.warn(
            f"{self.project}: Docker kept a stale endpoint on its network (moby/moby#42119); "
            "the network is left behind",
            stacklevel=2,
        )

    def file_done(self, name: str) -> bool:
        """Whether the ingestor has moved ``name`` to ``inbox/done/``."""
        probe = "import os, sys; print(os.path.exists('/data/inbox/done/' + sys.argv[1]))"
        return self.python("csv-ingestor", probe, name).strip() == "True"

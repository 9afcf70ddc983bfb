"""``make demo``: the whole system as local processes, on a machine without Docker.

A real KRaft broker from the jars, a real SMTP server (aiosmtpd writing a Maildir), a drone fleet,
the alert-mailer with its operator API, the csv-ingestor watching an inbox that holds a
generated FY2017 file and the real 10,212-row sample, stream-storage, and analytics with its
dashboard — all run under honcho for a bounded time (or, with ``keep_running``, until Ctrl-C).
Then stream-storage catches up once (``--available-now``), analytics writes a report, and a
summary says what happened and where to look.

While they run, each service's output goes to its own file under ``<workdir>/logs/`` and the
screen shows the live view of :mod:`prestacop_devkit.demo_view` (figures from the services'
``/metrics`` and ``/healthz``). Ctrl-C stops everything cleanly at any moment; with
``keep_running`` the first Ctrl-C ends the run as the timer would (report and summary), a second
one stops at once.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from rich.console import Console

from prestacop_devkit.broker import LocalKafka, free_ports
from prestacop_devkit.demo_fleet import FleetPlan, FleetStopped, run_fleet
from prestacop_devkit.demo_status import Endpoints, StatusReader, count_data_rows, http_fetch
from prestacop_devkit.demo_view import DemoAddresses, ViewThread, choose_view
from prestacop_devkit.jars import ensure_spark_kafka_jars, repo_root
from prestacop_shared import topics
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.topic_admin import ensure_topics

log = logging.getLogger(__name__)

DRONE_TOPICS = (topics.DRONE_STATUS, topics.DRONE_VIOLATIONS, topics.DRONE_ALERTS)


@dataclass(frozen=True)
class DemoOptions:
    """What the demo runs and for how long."""

    workdir: Path
    duration_s: float = 120.0
    drones: int = 20
    rows: int = 200_000
    csv_files: tuple[Path, ...] = ()
    alert_probability: float = 0.2
    keep_running: bool = False


@dataclass(frozen=True)
class DemoPorts:
    """Every port the demo listens on (all on 127.0.0.1, distinct, free when chosen)."""

    kafka: int
    controller: int
    smtp: int
    mailer_api: int
    dashboard: int
    drone_http: int
    ingestor_http: int
    storage_http: int

    @classmethod
    def choose(cls) -> DemoPorts:
        """Pick eight distinct free ports."""
        return cls(*free_ports(8))

    def endpoints(self) -> Endpoints:
        """Where the live view reads each service's ``/metrics`` and ``/healthz``."""
        return Endpoints(
            drones=f"http://127.0.0.1:{self.drone_http}",
            mailer=f"http://127.0.0.1:{self.mailer_api}",
            ingestor=f"http://127.0.0.1:{self.ingestor_http}",
            storage=f"http://127.0.0.1:{self.storage_http}",
            dashboard=f"http://127.0.0.1:{self.dashboard}",
        )


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


DEMO_PARTITIONS = 4
"""Partitions of the demo's data and state topics: enough for its 2-core machine."""


def _create_topics(bootstrap: str) -> None:
    """Create every catalogue topic, at the demo's size."""
    ensure_topics(
        KafkaSettings(bootstrap_servers=bootstrap),
        topics.topic_plan(partitions=DEMO_PARTITIONS, replication_factor=1),
    )


MALFORMED_SAMPLES = (
    b"this is not JSON",
    b'{"schema_version": 1, "drone_id": "nypd-demo-0000"}',
    b'{"schema_version": 1, "drone_id": "x", "latitude": 123.0, "longitude": -73.9}',
)
"""Broken messages the demo puts on ``drone.status`` so the quarantine has something to show."""


def _inject_malformed(bootstrap: str) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for value in MALFORMED_SAMPLES:
        producer.produce(topics.DRONE_STATUS, key=b"demo-malformed", value=value)
    producer.flush(30)


def _prepare_inbox(options: DemoOptions, inbox: Path) -> list[Path]:
    inbox.mkdir(parents=True, exist_ok=True)
    files = []
    for source in options.csv_files:
        target = inbox / source.name
        shutil.copyfile(source, target)
        files.append(target)
    if not options.csv_files:
        generated = inbox.parent / "generated" / "fy2017_demo.csv"
        generated.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(  # noqa: S603 - our own console script
            [
                _bin("prestacop-csv-ingestor"),
                "generate",
                "--rows",
                str(options.rows),
                "--year",
                "2017",
                "--seed",
                "7",
                "--bad-lines",
                "3",
                "--out",
                str(generated),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        shutil.move(generated, inbox / generated.name)
        files.append(inbox / generated.name)
        sample = repo_root() / "tests" / "data" / "nyc" / "fy2017_head_10212_rows.csv"
        if sample.is_file():
            shutil.copyfile(sample, inbox / sample.name)
            files.append(inbox / sample.name)
    return files


def _environment(options: DemoOptions, ports: DemoPorts, token: str) -> dict[str, str]:
    workdir = options.workdir.resolve()
    jars_dir = ensure_spark_kafka_jars()[0].parent
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            ("KAFKA_", "MAILER_", "DRONE_", "INGESTOR_", "STORAGE_", "ANALYTICS_")
        )
    }
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{ports.kafka}",
            "SPARK_KAFKA_JARS_DIR": str(jars_dir),
            "SPARK_MASTER_URL": "local[2]",
            "PYSPARK_PYTHON": sys.executable,
            "MAILER_SMTP_HOST": "127.0.0.1",
            "MAILER_SMTP_PORT": str(ports.smtp),
            "MAILER_MAIL_TO": "dispatch@prestacop.example",
            "MAILER_OPERATOR_TOKEN": token,
            "MAILER_HTTP_PORT": str(ports.mailer_api),
            "MAILER_PUBLIC_URL": f"http://127.0.0.1:{ports.mailer_api}",
            "MAILER_STATE_DIR": str(workdir / "alert-mailer"),
            "DRONE_HTTP_HOST": "127.0.0.1",
            "DRONE_HTTP_PORT": str(ports.drone_http),
            "INGESTOR_INBOX": str(workdir / "inbox"),
            "INGESTOR_HTTP_HOST": "127.0.0.1",
            "INGESTOR_HTTP_PORT": str(ports.ingestor_http),
            "STORAGE_DATA_DIR": str(workdir / "data"),
            "STORAGE_HTTP_HOST": "127.0.0.1",
            "STORAGE_HTTP_PORT": str(ports.storage_http),
            "STORAGE_TRIGGER_INTERVAL_S": "10",
            "ANALYTICS_DATA_DIR": str(workdir / "data"),
            # No ANALYTICS_API_TOKEN: the dashboard is served read-only, as `make dashboard`
            # serves it afterwards (the demo computes its report with `prestacop-analytics run`).
            "ANALYTICS_HTTP_PORT": str(ports.dashboard),
        }
    )
    return env


def _processes(options: DemoOptions, ports: DemoPorts) -> dict[str, list[str]]:
    mail_dir = options.workdir.resolve() / "mail"
    return {
        "smtp": [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{ports.smtp}",
            "-c",
            "aiosmtpd.handlers.Mailbox",
            str(mail_dir),
        ],
        "drones": [
            _bin("prestacop-drone"),
            "--drones",
            str(options.drones),
            "--interval-s",
            "1",
            "--violation-probability",
            "0.2",
            "--alert-probability",
            str(options.alert_probability),
            "--host",
            "demo",
        ],
        "alert-mailer": [_bin("prestacop-alert-mailer")],
        "csv-ingestor": [_bin("prestacop-csv-ingestor"), "watch"],
        "stream-storage": [_bin("prestacop-stream-storage")],
        "analytics": [_bin("prestacop-analytics"), "serve"],
    }


def _run_step(command: list[str], env: dict[str, str], log_file: Path) -> str:
    """Run one of the final steps, its logs appended to ``log_file``; return its stdout."""
    with log_file.open("a", encoding="utf-8") as log_output:
        result = subprocess.run(  # noqa: S603 - our own console scripts
            command, env=env, check=True, stdout=subprocess.PIPE, stderr=log_output, text=True
        )
    return result.stdout


def _messages_in(bootstrap: str, topics: tuple[str, ...]) -> dict[str, int]:
    """Committed messages per topic, counted by reading each topic to its end.

    Watermarks would over-count: every Kafka transaction (the ingestor's, the operator API's)
    leaves a commit marker that takes an offset but is no message.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "prestacop-demo-summary",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
        }
    )
    counts = dict.fromkeys(topics, 0)
    try:
        metadata = consumer.list_topics(timeout=10)
        partitions = [
            TopicPartition(topic, partition, OFFSET_BEGINNING)
            for topic in topics
            if topic in metadata.topics
            for partition in metadata.topics[topic].partitions
        ]
        consumer.assign(partitions)
        remaining = {(p.topic, p.partition) for p in partitions}
        while remaining:
            for message in consumer.consume(10_000, timeout=5):
                error = message.error()
                if error is not None and error.code() == KafkaError._PARTITION_EOF:
                    remaining.discard((message.topic(), message.partition()))
                elif error is None and (topic := message.topic()) is not None:
                    counts[topic] += 1
    finally:
        consumer.close()
    return counts


def _mails_in(maildir: Path) -> int:
    """Emails the demo's SMTP server has delivered to its Maildir, read or not."""
    return sum(1 for folder in ("new", "cur") for _ in (maildir / folder).glob("*"))


def _every_alert_mailed(bootstrap: str, maildir: Path) -> Callable[[], bool]:
    """Whether the Maildir holds an email for each alert in Kafka (the summary's own counts)."""

    def every_alert_mailed() -> bool:
        alerts = _messages_in(bootstrap, (topics.DRONE_ALERTS,))[topics.DRONE_ALERTS]
        return _mails_in(maildir) >= alerts

    return every_alert_mailed


def _summary(options: DemoOptions, bootstrap: str, report_dir: Path, resolved: int) -> str:
    workdir = options.workdir.resolve()
    sent = _messages_in(bootstrap, (*DRONE_TOPICS, topics.NYPD_TICKETS_DLQ))
    sent[topics.DRONE_STATUS] -= len(MALFORMED_SAMPLES)
    mails = _mails_in(workdir / "mail")
    manifest = json.loads((report_dir / "manifest.json").read_text(encoding="utf-8"))
    inputs = manifest.get("inputs", {})
    top_codes = json.loads((report_dir / "top_violation_codes.json").read_text(encoding="utf-8"))
    rows = top_codes["rows"] if isinstance(top_codes, dict) else top_codes
    lines = [
        "",
        "Prestacop demo — summary",
        f"  drone messages sent      status {sent[topics.DRONE_STATUS]}, violations "
        f"{sent[topics.DRONE_VIOLATIONS]}, alerts {sent[topics.DRONE_ALERTS]}",
        f"  emails delivered         {mails} (one per alert; Maildir {workdir / 'mail'})",
        f"  alerts resolved          {resolved} by the demo's operator, through the operator API",
        f"  bad CSV lines            {sent[topics.NYPD_TICKETS_DLQ]} quarantined in "
        f"{topics.NYPD_TICKETS_DLQ}; "
        f"{len(MALFORMED_SAMPLES)} malformed drone messages injected for the quarantine dataset",
        "  rows stored per dataset  "
        + ", ".join(f"{name} {_rows(value)}" for name, value in sorted(inputs.items())),
        "  top violation codes      "
        + ", ".join(
            f"{row['violation_code']} ({row.get('definition') or '?'}): {row['tickets']}"
            for row in rows[:5]
        ),
        "",
        f"  report                   {report_dir}",
        f"  CSV datasets             {workdir / 'data'}",
        "  dashboard                `make dashboard` (read-only, no token needed), then "
        "http://127.0.0.1:8090/",
        f"  mail                     {workdir / 'mail' / 'new'} (one .eml-style file per email)",
    ]
    return "\n".join(lines)


def _rows(value: object) -> object:
    if isinstance(value, dict):
        return value.get("rows", value)
    return value


def _addresses(options: DemoOptions, ports: DemoPorts) -> DemoAddresses:
    workdir = options.workdir.resolve()
    return DemoAddresses(
        console_url=f"http://127.0.0.1:{ports.mailer_api}/console",
        dashboard_url=f"http://127.0.0.1:{ports.dashboard}/",
        api_docs_url=f"http://127.0.0.1:{ports.mailer_api}/docs",
        token_file=str(workdir / TOKEN_FILE),
        logs_dir=str(workdir / "logs"),
        duration_s=options.duration_s,
        keep_running=options.keep_running,
    )


TOKEN_FILE = "operator-token"  # noqa: S105 - a file name, not a secret
"""The demo's operator token, for signing in to the console (owner-readable only)."""


def _say(message: str) -> None:
    print(message, flush=True)  # noqa: T201 - the CLI's user-facing output


def run_demo(options: DemoOptions) -> int:
    """Run the demo end to end; return the process exit code."""
    workdir = options.workdir.resolve()
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    (workdir / "logs").mkdir()
    ports = DemoPorts.choose()
    token = secrets.token_urlsafe(24)
    token_file = workdir / TOKEN_FILE
    token_file.touch(mode=0o600)
    token_file.write_text(token + "\n", encoding="utf-8")
    broker = LocalKafka(workdir / "kafka", port=ports.kafka, controller_port=ports.controller)
    _say(f"demo: starting Kafka at 127.0.0.1:{ports.kafka} …")
    broker.start(timeout_s=120)
    try:
        _create_topics(broker.bootstrap_servers)
        env = _environment(options, ports, token)
        files = _prepare_inbox(options, workdir / "inbox")
        _say(f"demo: inbox holds {', '.join(f.name for f in files)}")
        _inject_malformed(broker.bootstrap_servers)
        addresses = _addresses(options, ports)
        _say(
            f"demo: dashboard {addresses.dashboard_url} (once a report exists), operator console "
            f"{addresses.console_url} (token in {addresses.token_file}), operator API "
            f"{addresses.api_docs_url}"
        )
        _say(f"demo: each service logs to {addresses.logs_dir}/<service>.log")
        with httpx.Client(timeout=2) as client:
            reader = StatusReader(
                ports.endpoints(),
                http_fetch(client),
                rows_expected=count_data_rows([str(f) for f in files]),
                malformed_injected=len(MALFORMED_SAMPLES),
            )
            view = ViewThread(reader, choose_view(Console(), addresses, sys.stdout)).start()
            plan = FleetPlan(
                commands=_processes(options, ports),
                env=env,
                logs_dir=workdir / "logs",
                duration_s=options.duration_s,
                keep_running=options.keep_running,
                mailer_url=f"http://127.0.0.1:{ports.mailer_api}",
                token=token,
                first_report=[_bin("prestacop-analytics"), "run"],
                every_alert_mailed=_every_alert_mailed(broker.bootstrap_servers, workdir / "mail"),
            )
            try:
                resolved = run_fleet(plan, view)
            except FleetStopped as stopped:
                view.stop()
                _say(str(stopped))
                return stopped.exit_code
            view.stop()
        _say("demo: storing what is left in Kafka, then the report …")
        logs = workdir / "logs"
        _run_step(
            [_bin("prestacop-stream-storage"), "--available-now"],
            env,
            logs / "stream-storage-final.log",
        )
        output = _run_step([_bin("prestacop-analytics"), "run"], env, logs / "analytics-run.log")
        report_dir = Path(output.strip().splitlines()[-1])
        summary = _summary(options, broker.bootstrap_servers, report_dir, resolved)
        _say(summary)
        (workdir / "summary.txt").write_text(summary + "\n", encoding="utf-8")
        return 0
    except KeyboardInterrupt:
        _say("demo: interrupted, everything stopped")
        return 130
    finally:
        broker.stop()

"""SIGKILL the ingestor at random points: in the end every line is in Kafka exactly once."""

from __future__ import annotations

import json
import logging
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from prestacop_csv_ingestor.generate import generate_file
from prestacop_shared import topics
from prestacop_shared.ticket_lines import decode_ticket
from tests.integration.csv_ingestor.conftest import INGESTOR, ingestor_env
from tests.support.kafka import consume_all

pytestmark = pytest.mark.integration
log = logging.getLogger(__name__)

ROWS = 200_000
KILLS = 4


def test_killed_four_times_every_line_lands_exactly_once(
    tmp_path: Path, kafka_settings, run_ingestor
) -> None:
    path = tmp_path / "fy2017_synthetic.csv"
    generate_file(path, ROWS, year=2017, seed=11)
    # Small blocks and frequent commits: many transactions, so kills land between and inside them.
    # The rate limit keeps the killed runs from finishing the file however fast the machine is
    # (4 runs x at most ~2.1 s x 10k rows/s, with room for bursts and start-up, < ROWS); the last
    # run goes at full speed. At 20k rows/s a quiet CI machine once finished the file in a run
    # that was about to be killed.
    env = ingestor_env(
        kafka_settings, block_bytes=256 * 1024, commit_interval_s=0.3, log_every_s=0.1,
        log_level="INFO", max_rows_per_s=10_000,
    )  # fmt: skip
    chooser = random.Random()
    seed = chooser.randrange(1_000_000)
    chooser.seed(seed)
    log.info("kill delays seeded with %s", seed)
    killed_mid_work = 0
    for attempt in range(KILLS):
        log_file = tmp_path / f"run-{attempt}.log"
        with log_file.open("w") as stderr:
            process = subprocess.Popen(  # noqa: S603
                [*INGESTOR, "ingest", "--json", str(path)],
                env=env, stdout=subprocess.DEVNULL, stderr=stderr,
            )  # fmt: skip
            deadline = time.monotonic() + 120
            while process.poll() is None and time.monotonic() < deadline:
                if '"progress"' in log_file.read_text():  # it is sending: kill at a random point
                    time.sleep(chooser.uniform(0.0, 2.0))
                    break
                time.sleep(0.05)
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                killed_mid_work += 1
            process.wait(timeout=60)
    assert killed_mid_work >= 2, f"the ingestor finished too early to be killed (seed {seed})"

    code, summary, stderr = run_ingestor(path, block_bytes=256 * 1024, commit_interval_s=0.3)
    assert code == 0, stderr
    assert summary["files"][0]["status"] == "ingested"
    assert summary["files"][0]["resumed_from_line"] > 2  # it really resumed

    records = consume_all(
        kafka_settings, kafka_settings.topic(topics.NYPD_TICKETS),
        expected=ROWS, timeout_s=300, idle_s=5,
    )  # fmt: skip
    lines = [decode_ticket(record.value).source_line for record in records]
    assert len(lines) == ROWS, f"{len(lines) - len(set(lines))} duplicates (seed {seed})"
    assert set(lines) == set(range(2, ROWS + 2))

    code, summary, stderr = run_ingestor(path)
    assert code == 0, stderr
    assert summary["files"][0]["status"] == "already ingested"
    progress = consume_all(kafka_settings, kafka_settings.topic(topics.NYPD_INGEST_PROGRESS))
    final = json.loads(progress[-1].value)
    assert final["done"] and final["sent"] == ROWS and final["lines_read"] == ROWS


def test_sigterm_commits_what_was_sent_and_a_rerun_finishes_the_file(
    tmp_path: Path, kafka_settings, run_ingestor
) -> None:
    rows = 100_000
    path = tmp_path / "fy2016_synthetic.csv"
    generate_file(path, rows, year=2016, seed=12)
    env = ingestor_env(
        kafka_settings, block_bytes=256 * 1024, max_rows_per_s=20_000, log_every_s=0.2,
        log_level="INFO",
    )  # fmt: skip
    process = subprocess.Popen(  # noqa: S603
        [*INGESTOR, "ingest", "--json", str(path)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stderr is not None
    for line in process.stderr:  # wait until it is sending (signal handlers are installed)
        if '"progress"' in line and '"sent": 0,' not in line:
            break
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    interrupted = json.loads(stdout)["files"][0]
    assert interrupted["status"] == "interrupted" and 0 < interrupted["sent"] < rows

    code, summary, stderr = run_ingestor(path)
    assert code == 0, stderr
    assert summary["files"][0]["resumed_from_line"] == interrupted["sent"] + 2
    assert summary["files"][0]["sent"] == rows - interrupted["sent"]
    records = consume_all(
        kafka_settings, kafka_settings.topic(topics.NYPD_TICKETS), expected=rows, timeout_s=300
    )
    lines = [decode_ticket(record.value).source_line for record in records]
    assert sorted(lines) == list(range(2, rows + 2))

"""The watch loop never dies on one file: bad files go to failed/, a fenced producer recovers."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer

from prestacop_csv_ingestor.fingerprint import file_fingerprint
from prestacop_csv_ingestor.generate import generate_file
from prestacop_shared import topics
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.ticket_lines import decode_ticket
from tests.integration.csv_ingestor.conftest import INGESTOR, ingestor_env
from tests.support.kafka import consume_all

pytestmark = pytest.mark.integration

# Root reads any file whatever its mode: take away that capability from the watcher only.
NO_DAC = ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
          "--bounding-set=-dac_override,-dac_read_search"]  # fmt: skip


def wait_for(condition: Callable[[], bool], timeout_s: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.fixture
def start_watch(
    tmp_path: Path, kafka_settings: KafkaSettings
) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start ``watch`` on ``tmp_path/inbox`` (stopped with SIGTERM after the test)."""
    processes: list[subprocess.Popen[str]] = []

    def start(*prefix: str, **ingestor: object) -> subprocess.Popen[str]:
        settings = {"poll_interval_s": 0.2, "log_level": "INFO"} | ingestor
        log = (tmp_path / f"watch-{len(processes)}.log").open("w")
        process = subprocess.Popen(  # noqa: S603
            [*prefix, *INGESTOR, "watch", "--inbox", str(tmp_path / "inbox")],
            env=ingestor_env(kafka_settings, **settings),
            stdout=subprocess.DEVNULL, stderr=log, text=True,
        )  # fmt: skip
        processes.append(process)
        return process

    (tmp_path / "inbox").mkdir()
    yield start
    for process in processes:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=60)


def test_an_unreadable_file_goes_to_failed_and_the_next_file_is_ingested(
    tmp_path: Path, nyc_data: Path, kafka_settings: KafkaSettings, start_watch
) -> None:
    """On the old main the PermissionError killed watch, and the next file waited forever."""
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: no file is unreadable to the watcher")
    inbox = tmp_path / "inbox"
    unreadable = inbox / "a_unreadable.csv"
    shutil.copy(nyc_data / "fy2017_head_99_rows.csv", unreadable)
    unreadable.chmod(0)
    shutil.copy(nyc_data / "fy2016_head_99_rows.csv", inbox / "b_good.csv")
    process = start_watch(*(NO_DAC if os.geteuid() == 0 else []))
    failed = inbox / "failed" / "a_unreadable.csv"
    assert wait_for(lambda: (inbox / "done" / "b_good.csv").exists() or process.poll() is not None)
    assert process.poll() is None, (tmp_path / "watch-0.log").read_text()[-2000:]
    assert failed.exists() and not unreadable.exists()
    reason = (inbox / "failed" / "a_unreadable.csv.reason.txt").read_text()
    assert "Permission denied" in reason
    tickets = consume_all(kafka_settings, kafka_settings.topic(topics.NYPD_TICKETS), expected=99)
    assert len(tickets) == 99


def test_a_fenced_producer_is_replaced_and_every_line_lands_exactly_once(
    tmp_path: Path, nyc_data: Path, kafka_settings: KafkaSettings, start_watch
) -> None:
    """On the old main the fenced producer's KafkaException ended the watch loop."""
    rows = 30_000
    source = tmp_path / "fenced.csv"
    generate_file(source, rows, year=2017, seed=21)
    fingerprint = file_fingerprint(source)
    process = start_watch(max_rows_per_s=6_000, commit_interval_s=3, block_bytes=64 * 1024)
    inbox = tmp_path / "inbox"
    shutil.move(source, inbox / "fenced.csv")
    log = tmp_path / "watch-0.log"
    assert wait_for(lambda: '"progress"' in log.read_text())  # it is sending
    time.sleep(1.0)
    zombie_killer = Producer(
        kafka_settings.producer_config(transactional_id=f"prestacop-csv-ingestor-{fingerprint}")
    )
    zombie_killer.init_transactions(60)  # fences the watcher's producer mid-file
    done = inbox / "done" / "fenced.csv"
    assert wait_for(lambda: done.exists() or process.poll() is not None, timeout_s=300)
    assert process.poll() is None, log.read_text()[-3000:]
    shutil.copy(nyc_data / "fy2016_head_99_rows.csv", inbox / "after.csv")
    assert wait_for(lambda: (inbox / "done" / "after.csv").exists() or process.poll() is not None)
    assert process.poll() is None, log.read_text()[-3000:]

    records = consume_all(
        kafka_settings, kafka_settings.topic(topics.NYPD_TICKETS), expected=rows + 99,
        timeout_s=120,
    )  # fmt: skip
    lines = [
        decode_ticket(r.value).source_line
        for r in records
        if decode_ticket(r.value).source_file == "fenced.csv"
    ]
    assert len(records) == rows + 99
    assert sorted(lines) == list(range(2, rows + 2))


def test_a_file_still_being_written_is_taken_only_once_it_has_settled(
    tmp_path: Path, nyc_data: Path, kafka_settings: KafkaSettings, start_watch
) -> None:
    """On the old main a pause of one poll was taken for the end: half the file was sent."""
    rows = 4_000
    source = tmp_path / "slow.csv"
    generate_file(source, rows, year=2016, seed=22)
    data = source.read_bytes()
    start_watch(settle_s=5)
    inbox = tmp_path / "inbox"
    shutil.copy(nyc_data / "fy2016_head_99_rows.csv", inbox / "warm_up.csv")  # topics created
    assert wait_for(lambda: (inbox / "done" / "warm_up.csv").exists())
    with (inbox / "slow.csv").open("wb") as writer:  # a slow copy, pausing under the settle time
        for piece in range(8):
            writer.write(data[piece * len(data) // 8 : (piece + 1) * len(data) // 8])
            writer.flush()
            time.sleep(1.0)
    assert wait_for(lambda: (inbox / "done" / "slow.csv").exists())
    records = consume_all(
        kafka_settings, kafka_settings.topic(topics.NYPD_TICKETS), expected=rows + 99
    )
    tickets = [decode_ticket(r.value) for r in records]
    lines = sorted(t.source_line for t in tickets if t.source_file == "slow.csv")
    assert lines == list(range(2, rows + 2))


def test_a_file_appended_to_after_it_was_ingested_is_refused_not_sent_again(
    tmp_path: Path, nyc_data: Path, kafka_settings: KafkaSettings, start_watch
) -> None:
    """On the old main the longer file was a new file: its 99 old lines were sent again."""
    start_watch()
    inbox = tmp_path / "inbox"
    shutil.copy(nyc_data / "fy2016_head_99_rows.csv", inbox / "grows.csv")
    assert wait_for(lambda: (inbox / "done" / "grows.csv").exists())
    lines = (nyc_data / "fy2016_head_99_rows.csv").read_bytes().split(b"\n")
    grown = tmp_path / "grows.csv"
    shutil.copy(inbox / "done" / "grows.csv", grown)
    with grown.open("ab") as writer:
        writer.write(b"\n".join(lines[1:4]))
    shutil.move(grown, inbox / "grows.csv")
    assert wait_for(lambda: (inbox / "refused" / "grows.csv").exists())
    reason = (inbox / "refused" / "grows.csv.reason.txt").read_text()
    assert "appended to after it was ingested" in reason
    records = consume_all(kafka_settings, kafka_settings.topic(topics.NYPD_TICKETS), expected=99)
    assert len(records) == 99

"""Files that are not tickets are refused; a changed file is never mixed with old progress."""

from __future__ import annotations

import shutil
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


def test_wrong_header_is_refused_with_a_clear_message(nyc_data: Path, run_ingestor) -> None:
    code, summary, stderr = run_ingestor(nyc_data / "dof_violation_codes.csv")
    assert code == 3
    assert "not a parking-violations header" in stderr
    assert summary["files"][0]["status"] == "refused"


def test_changed_file_under_the_same_name_is_ingested_as_a_new_file(
    tmp_path: Path, kafka_settings, run_ingestor
) -> None:
    path = tmp_path / "tickets.csv"
    generate_file(path, 3000, year=2017, seed=1)
    assert run_ingestor(path)[0] == 0
    generate_file(path, 2000, year=2016, seed=2)
    code, summary, stderr = run_ingestor(path)
    assert code == 0, stderr
    assert summary["files"][0]["status"] == "ingested"
    assert summary["files"][0]["sent"] == 2000 and summary["files"][0]["resumed_from_line"] == 2
    tickets = [
        decode_ticket(r.value)
        for r in consume_all(
            kafka_settings, kafka_settings.topic(topics.NYPD_TICKETS), expected=5000
        )
    ]
    by_version: dict[str, set[int]] = {}
    for ticket in tickets:
        by_version.setdefault(ticket.event_id.split(":")[0], set()).add(ticket.source_line)
    assert sorted(len(lines) for lines in by_version.values()) == [2000, 3000]


def test_watch_mode_moves_finished_and_refused_files(
    tmp_path: Path, nyc_data: Path, kafka_settings
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    process = subprocess.Popen(  # noqa: S603
        [*INGESTOR, "watch", "--inbox", str(inbox)],
        # INFO: the per-file summary line must be logged (it once crashed the service).
        env=ingestor_env(kafka_settings, poll_interval_s=0.2, log_level="INFO"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        shutil.copy(nyc_data / "fy2016_head_99_rows.csv", inbox)
        shutil.copy(nyc_data / "dof_violation_codes.csv", inbox)
        deadline = time.monotonic() + 120
        done = inbox / "done" / "fy2016_head_99_rows.csv"
        refused = inbox / "refused" / "dof_violation_codes.csv"
        while not (done.exists() and refused.exists()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert done.exists() and refused.exists()
        reason = (inbox / "refused" / "dof_violation_codes.csv.reason.txt").read_text()
        assert "not a parking-violations header" in reason
        tickets = consume_all(
            kafka_settings, kafka_settings.topic(topics.NYPD_TICKETS), expected=99
        )
        assert len(tickets) == 99
    finally:
        process.terminate()
        assert process.wait(timeout=60) == 0

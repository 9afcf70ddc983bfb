"""Bad lines go to the DLQ with their line number and reason; every good line is sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from prestacop_csv_ingestor.generate import BAD_KINDS, generate_file
from prestacop_shared import topics
from prestacop_shared.events import DeadLetter
from prestacop_shared.serde import decode
from prestacop_shared.ticket_lines import decode_ticket
from tests.support.kafka import consume_all

pytestmark = pytest.mark.integration

ROWS = 20_000


def test_every_kind_of_bad_line_is_quarantined_and_the_run_finishes(
    tmp_path: Path, kafka_settings, run_ingestor
) -> None:
    path = tmp_path / "with_bad_lines.csv"
    generated = generate_file(path, ROWS, year=2017, seed=5, bad_lines=3)
    code, summary, stderr = run_ingestor(path)
    assert code == 0, stderr
    bad = generated.bad_lines
    file_summary = summary["files"][0]
    assert file_summary["lines_read"] == ROWS
    assert file_summary["sent"] == ROWS - len(bad)
    assert file_summary["quarantined"] == dict.fromkeys(BAD_KINDS, 3)

    letters = [
        decode(DeadLetter, r.value)
        for r in consume_all(
            kafka_settings, kafka_settings.topic(topics.NYPD_TICKETS_DLQ), expected=len(bad)
        )
    ]
    found = {int(letter.source.rsplit(":", 1)[1]): letter for letter in letters}
    assert len(letters) == len(bad)
    assert {line: letter.reason.split(":")[0] for line, letter in found.items()} == bad
    for line, letter in found.items():
        assert letter.source == f"{path.name}:{line}" and letter.service == "csv-ingestor"
        assert len(letter.raw) <= letter.raw_truncated_to
        if bad[line] == "line too long":
            assert letter.raw_length > 100_000
        if bad[line] == "not an integer":
            assert "violation_code=" in letter.reason

    tickets = consume_all(
        kafka_settings, kafka_settings.topic(topics.NYPD_TICKETS), expected=ROWS - len(bad)
    )
    lines = {decode_ticket(r.value).source_line for r in tickets}
    assert len(tickets) == ROWS - len(bad)
    assert lines == set(range(2, ROWS + 2)) - set(bad)


def test_a_line_of_megabytes_is_skipped_without_losing_the_next_lines(
    tmp_path: Path, nyc_data: Path, kafka_settings, run_ingestor
) -> None:
    lines = (nyc_data / "fy2016_head_99_rows.csv").read_bytes().split(b"\n")
    huge = lines[1][:40] + b"X" * 3_000_000 + b'"' + lines[1][40:]
    path = tmp_path / "huge_line.csv"
    path.write_bytes(b"\n".join([lines[0], lines[1], huge, lines[2], lines[3]]))
    code, summary, stderr = run_ingestor(path, block_bytes=256 * 1024)
    assert code == 0, stderr
    assert summary["files"][0]["sent"] == 3
    assert summary["files"][0]["quarantined"] == {"line too long": 1}
    (letter,) = [
        decode(DeadLetter, r.value)
        for r in consume_all(kafka_settings, kafka_settings.topic(topics.NYPD_TICKETS_DLQ))
    ]
    assert letter.source == "huge_line.csv:3" and letter.raw_length == len(huge)
    tickets = consume_all(kafka_settings, kafka_settings.topic(topics.NYPD_TICKETS), expected=3)
    assert sorted(decode_ticket(r.value).source_line for r in tickets) == [2, 4, 5]

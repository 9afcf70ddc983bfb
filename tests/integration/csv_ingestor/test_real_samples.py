"""Every real sample lands in Kafka once per data line, field for field equal to the source."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from prestacop_csv_ingestor.enrich import archive_fleet, ticket_enrichment
from prestacop_csv_ingestor.fingerprint import file_fingerprint
from prestacop_shared import topics
from prestacop_shared.ticket_lines import decode_ticket
from prestacop_shared.tickets import (
    detect_layout,
    ticket_from_source_row,
    ticket_to_source_row,
)
from tests.support.kafka import consume_all

pytestmark = pytest.mark.integration

FLEET = archive_fleet("nypd", 100)


def test_each_real_sample_lands_once_per_line_equal_to_the_source(
    nyc_data: Path, kafka_settings, run_ingestor
) -> None:
    samples = sorted(nyc_data.glob("fy*.csv"))
    code, summary, stderr = run_ingestor(*samples)
    assert code == 0, stderr
    by_file = {entry["file"]: entry for entry in summary["files"]}
    expected_rows = {}
    for path in samples:
        rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
        expected_rows[path.name] = (detect_layout(rows[0]), rows[1:])
        assert by_file[path.name]["sent"] == len(rows) - 1
        assert by_file[path.name]["quarantined"] == {}
    assert by_file["fy2015_head_99_rows.csv"]["repeated_summons"] == 6
    assert by_file["fy2014_head_99_rows.csv"]["repeated_summons"] == 0

    total = sum(len(rows) for _, rows in expected_rows.values())
    records = consume_all(
        kafka_settings, kafka_settings.topic(topics.NYPD_TICKETS), expected=total, timeout_s=120
    )
    assert len(records) == total
    fingerprints = {path.name: file_fingerprint(path) for path in samples}
    seen: set[tuple[str, int]] = set()
    for record in records:
        ticket = decode_ticket(record.value)
        layout, rows = expected_rows[ticket.source_file]
        row = rows[ticket.source_line - 2]
        drone, latitude, longitude = ticket_enrichment(
            ticket.summons_number, ticket.violation_county, ticket.violation_precinct, FLEET
        )
        fingerprint = fingerprints[ticket.source_file]
        assert ticket == ticket_from_source_row(
            layout, row, drone_id=drone, latitude=latitude, longitude=longitude,
            source_file=ticket.source_file, source_line=ticket.source_line,
            event_id=f"{fingerprint}:{ticket.source_line}", emitted_at=ticket.emitted_at,
        )  # fmt: skip
        assert ticket_to_source_row(ticket, layout) == row
        assert record.key == str(ticket.summons_number).encode()
        seen.add((ticket.source_file, ticket.source_line))
    assert len(seen) == total  # the FY2015 duplicate rows stay distinct messages

    code, summary, _ = run_ingestor(*samples)
    assert code == 0
    assert {entry["status"] for entry in summary["files"]} == {"already ingested"}
    assert len(consume_all(kafka_settings, kafka_settings.topic(topics.NYPD_TICKETS))) == total

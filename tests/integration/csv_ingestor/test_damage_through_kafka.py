"""A few damaged files through the real ingestor and broker: every line lands once, as one
ticket or one dead letter (the bulk of the cases run without Kafka in the unit tests)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from prestacop_csv_ingestor.config import Settings
from prestacop_csv_ingestor.ingest import FileIngestor
from prestacop_shared import topics
from prestacop_shared.events import DeadLetter
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.ticket_lines import decode_ticket
from prestacop_shared.tickets import TicketLayout
from tests.support.kafka import consume_all
from tests.unit.csv_ingestor.test_damage import MAX_RECORD_BYTES, Line, damaged_files

pytestmark = pytest.mark.integration

EXAMPLES = 40 if os.environ.get("INGESTOR_FUZZ_PROFILE") == "fuzz" else 4
_names = itertools.count()


@given(generated=damaged_files())
@settings(
    max_examples=EXAMPLES, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip
def test_damaged_files_through_kafka_every_line_lands_once(
    generated: tuple[TicketLayout, list[Line], bytes, int],
    kafka_settings_factory: Callable[..., KafkaSettings],
    topic_prefix: str,
    tmp_path: Path,
) -> None:
    _, lines, data, _ = generated
    number = next(_names)
    kafka_settings = kafka_settings_factory(topic_prefix=f"{topic_prefix}{number}.")
    path = tmp_path / f"damaged-{number}.csv"
    path.write_bytes(data)
    ingestor = FileIngestor(Settings(max_record_bytes=MAX_RECORD_BYTES), kafka_settings)
    summary = ingestor.ingest(path)
    assert summary.status == "ingested"
    assert summary.lines_read == len(lines)

    def read(topic: str, expected: int) -> list[bytes]:
        records = consume_all(
            kafka_settings, kafka_settings.topic(topic), expected=expected, idle_s=1.0
        )
        return [r.value for r in records if r.value]

    covered: list[int] = []
    for value in read(topics.NYPD_TICKETS, summary.sent):
        ticket = decode_ticket(value)
        text = ticket.model_dump(include=set(TicketLayout(summary.layout).fields))
        span = 1 + sum(v.count("\n") for v in text.values() if isinstance(v, str))
        covered.extend(range(ticket.source_line, ticket.source_line + span))
    for value in read(topics.NYPD_TICKETS_DLQ, sum(summary.quarantined.values())):
        letter = DeadLetter.model_validate_json(value)
        first = int(letter.source.rsplit(":", 1)[1])
        covered.extend(range(first, first + 1 + letter.raw.count("\n")))
    assert sorted(covered) == list(range(2, len(lines) + 2))  # each line once, none lost
    assert summary.sent + sum(summary.quarantined.values()) <= len(lines)

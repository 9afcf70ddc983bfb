"""stream-storage's structural check of T1 values agrees with the encoding's own definition."""

from __future__ import annotations

from prestacop_shared import ticket_lines
from prestacop_stream_storage import transform


def test_the_prefix_and_field_count_checked_are_those_of_ticket_lines() -> None:
    assert transform._T1_PREFIX == ticket_lines.PREFIX + ","
    assert transform._T1_DATE_END == ticket_lines.FIELDS_OFFSET
    assert transform.TICKET_FIELD_COUNT == len(ticket_lines.COLUMNS)

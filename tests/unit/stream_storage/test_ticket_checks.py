"""stream-storage's structural check of T1 values agrees with the encoding's own definition."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from prestacop_shared import ticket_lines
from prestacop_stream_storage import transform

pytestmark = pytest.mark.unit

JAVA_CHECK = (
    Path(__file__).resolve().parents[3]
    / "services/stream-storage/java/src/main/java/io/prestacop/storage/T1StoredLine.java"
)


def test_the_prefix_and_field_count_checked_are_those_of_ticket_lines() -> None:
    assert transform._T1_PREFIX == ticket_lines.PREFIX + ","
    assert transform.TICKET_FIELD_COUNT == len(ticket_lines.COLUMNS)


def test_the_java_check_cuts_the_ticket_fields_where_ticket_lines_puts_them() -> None:
    source = JAVA_CHECK.read_text(encoding="utf-8")
    offset = re.search(r"static final int FIELDS_OFFSET = (\d+);", source)
    assert offset is not None, "FIELDS_OFFSET not found in the Java check"
    assert int(offset.group(1)) == ticket_lines.FIELDS_OFFSET
    assert transform.STORED_LINE_CLASS == "io.prestacop.storage." + JAVA_CHECK.stem

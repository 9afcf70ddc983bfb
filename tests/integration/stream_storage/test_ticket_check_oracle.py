"""stream-storage's one-pass Java check of T1 values against an independent regex oracle.

The check (``io.prestacop.storage.T1StoredLine`` through :func:`check_ticket_lines`, real Spark)
must accept exactly the values the T1 grammar accepts, and store exactly their ticket fields
followed by the Kafka position. The oracle is that grammar written as one regex (possessive, so
it cannot backtrack its way into a different reading), over the decoded text; hypothesis
generates values near the grammar's edges: quotes doubled or not, commas and line breaks inside
and outside quotes, one field too few or too many, prefixes that are almost right.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prestacop_stream_storage.transform import (
    BAD_DATE_REASON,
    BAD_FIELDS_REASON,
    EMPTY_REASON,
    TICKET_FIELD_COUNT,
    TICKET_LINE_COLUMN,
    UNKNOWN_PREFIX_REASON,
    VERDICT_COLUMN,
    check_ticket_lines,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = pytest.mark.integration

_FIELD: Final = r'(?:"(?:[^"]++|"")*+"|[^",\r\n]*+)'
_T1: Final = re.compile(
    r"\AT1,([0-9]{4}-[0-9]{2}-[0-9]{2}),"
    + _FIELD
    + "(?:,"
    + _FIELD
    + "){"
    + str(TICKET_FIELD_COUNT - 1)
    + r"}\Z"
)
"""A well-formed T1 value: the prefix, a date's shape, exactly the ticket's field count."""

TOPIC: Final = "nypd.tickets"
PARTITION: Final = 1


def _calendar_day(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def expected_line(value: str, offset: int) -> str | None:
    """The stored line of ``value`` by the grammar, or None when it must be quarantined."""
    match = _T1.match(value)
    if match is None or not _calendar_day(match.group(1)):
        return None
    return f"{value[len('T1,2016-07-01,') :]},{TOPIC},{PARTITION},{offset}"


def expected_reason(value: str) -> str:
    """Why a value the grammar rejects is quarantined: the first check it fails."""
    if value == "":
        return EMPTY_REASON
    if not value.startswith("T1,"):
        return UNKNOWN_PREFIX_REASON + value[:16].split(",", 1)[0]
    if not (re.match(r"\AT1,[0-9]{4}-[0-9]{2}-[0-9]{2},", value) and _calendar_day(value[3:13])):
        return BAD_DATE_REASON
    return BAD_FIELDS_REASON


_CLEAN = st.text(alphabet="ab1 é€", max_size=4)
_ANY = st.text(alphabet='ab1 ,"\r\né€', max_size=4)
_FIELD_TEXT = st.one_of(
    _CLEAN,  # bare
    _ANY.map(lambda text: '"' + text.replace('"', '""') + '"'),  # quoted, may hold , " CR LF
)


@st.composite
def _fields(draw: st.DrawFn) -> str:
    """The ticket fields of a value: well formed, or with one defect in one place."""
    fields = draw(st.lists(_FIELD_TEXT, min_size=TICKET_FIELD_COUNT, max_size=TICKET_FIELD_COUNT))
    defect = draw(st.sampled_from(["none", "insert", "insert", "more", "fewer", "unquoted"]))
    where = draw(st.integers(0, TICKET_FIELD_COUNT - 1))
    if defect == "insert":  # one of the bytes the check looks for, anywhere in one field
        field = fields[where]
        at = draw(st.integers(0, len(field)))
        fields[where] = field[:at] + draw(st.sampled_from([",", '"', "\r", "\n"])) + field[at:]
    elif defect == "more":
        fields.insert(where, draw(_FIELD_TEXT))
    elif defect == "fewer":
        del fields[where]
    elif defect == "unquoted":  # quoted, but an inner quote not doubled
        fields[where] = '"' + draw(_CLEAN) + '"' + draw(_CLEAN) + '"'
    return ",".join(fields)


_GOOD_PREFIXES = st.sampled_from(["T1,2016-07-01,", "T1,2017-12-31,", "T1,2000-02-29,"])
_PREFIXES = st.sampled_from(
    [
        "T1,2016-02-30,",  # the shape of a date, not a day
        "T1,1900-02-29,",
        "T1,0000-01-01,",
        "T1,2016-07-00,",
        "T2,2016-07-01,",
        "T1,2016-7-01,,",
        "T1,20160701,xx",
        "T1,2016-07-01;",
        "t1,2016-07-01,",
        "T1,",
        "",
    ]
)
VALUES = st.lists(
    st.one_of(
        st.builds(lambda prefix, fields: prefix + fields, _GOOD_PREFIXES, _fields()),
        st.builds(lambda prefix, fields: prefix + fields, _GOOD_PREFIXES, _fields()),
        st.builds(lambda prefix, fields: prefix + fields, _PREFIXES, _fields()),
        st.text(max_size=40),
    ),
    min_size=20,
    max_size=80,
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(values=VALUES)
def test_the_one_pass_check_stores_exactly_what_the_grammar_accepts(
    spark: SparkSession, values: list[str]
) -> None:
    at = datetime(2026, 12, 1, 12, tzinfo=UTC)
    rows = [(TOPIC, PARTITION, offset, at, v.encode()) for offset, v in enumerate(values)]
    frame = spark.createDataFrame(
        rows, "topic string, partition int, offset long, timestamp timestamp, value binary"
    )
    checked = check_ticket_lines(frame).select("kafka_offset", TICKET_LINE_COLUMN, VERDICT_COLUMN)
    got = {
        row.kafka_offset: (row[TICKET_LINE_COLUMN], row[VERDICT_COLUMN])
        for row in checked.collect()
    }
    assert sorted(got) == list(range(len(values)))
    for offset, value in enumerate(values):
        line, reason = got[offset]
        want = expected_line(value, offset)
        assert (line, reason) == (want, None if want else expected_reason(value)), value

"""Cutting CSV bytes into records: exact line numbers whatever the line endings and quotes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from prestacop_csv_ingestor.records import (
    REASON_QUOTE,
    REASON_TOO_LONG,
    _comma_counts,
    find_undecodable,
    record_bytes,
    split_records,
)

pytestmark = pytest.mark.unit


def cut(
    data: bytes, *, eof: bool = True, columns: int = 3, max_bytes: int = 1000, max_lines: int = 4
):
    """All records of ``data`` as (line, text, columns, reason), cutting again after each stop."""
    found = []
    begin, line = 0, 1
    while begin < len(data):
        split = split_records(
            data, begin, line, eof=eof, expected_columns=columns,
            max_record_bytes=max_bytes, max_record_lines=max_lines,
        )  # fmt: skip
        if not len(split):
            break
        for i in range(len(split)):
            text = record_bytes(data, int(split.starts[i]), int(split.ends[i]))
            found.append((int(split.lines[i]), text, int(split.columns[i]), split.reasons.get(i)))
        begin, line = split.consumed, split.next_line
    return found, begin


def test_crlf_and_quoted_commas_keep_physical_line_numbers() -> None:
    records, consumed = cut(b'h1,h2,h3\r\n1,"a, b",3\r\n2,x,y\r\n')
    assert [(r[0], r[1], r[2]) for r in records] == [
        (1, b"h1,h2,h3", 3), (2, b'1,"a, b",3', 3), (3, b"2,x,y", 3),
    ]  # fmt: skip
    assert consumed == len(b'h1,h2,h3\r\n1,"a, b",3\r\n2,x,y\r\n')


def test_quoted_newline_is_one_record_and_the_next_line_number_skips_it() -> None:
    records, _ = cut(b'1,"two\nlines",3\n4,5,6\n')
    assert [(r[0], r[1]) for r in records] == [(1, b'1,"two\nlines",3'), (3, b"4,5,6")]


def test_last_line_without_newline_is_a_record_only_at_end_of_file() -> None:
    assert [r[1] for r in cut(b"1,2,3\n4,5,6", eof=True)[0]] == [b"1,2,3", b"4,5,6"]
    records, consumed = cut(b"1,2,3\n4,5,6", eof=False)
    assert [r[1] for r in records] == [b"1,2,3"] and consumed == 6


def test_unterminated_quote_costs_only_its_own_line() -> None:
    data = b'1,2,3\n4,"open,6\n7,8,9\n10,"x, y",12\n13,14,15\n16,17,18\n19,20,21\n'
    records, _ = cut(data)
    assert [(r[0], r[3]) for r in records] == [
        (1, None), (2, REASON_QUOTE), (3, None), (4, None), (5, None), (6, None), (7, None),
    ]  # fmt: skip
    assert records[3][2] == 3


def test_unterminated_quote_at_end_of_file_is_quarantined() -> None:
    records, _ = cut(b'1,2,3\n4,"open,6\n7,8,9')
    assert [(r[0], r[3]) for r in records] == [(1, None), (2, REASON_QUOTE), (3, None)]


def test_over_long_line_is_marked_or_reported_oversized() -> None:
    long_line = b"1," + b"x" * 2000 + b",3\n"
    records, _ = cut(b"1,2,3\n" + long_line + b"4,5,6\n")
    assert [(r[0], r[3]) for r in records] == [(1, None), (2, REASON_TOO_LONG), (3, None)]
    split = split_records(
        b"y" * 5000, 0, 7, eof=False, expected_columns=3, max_record_bytes=1000, max_record_lines=4
    )
    assert split.oversized and split.consumed == 0 and split.next_line == 7


def test_column_counts_ignore_commas_inside_quotes_and_escaped_quotes() -> None:
    records, _ = cut(b'a,"b,""c"",d",e\n,,\n\n1,2,3,4\n')
    assert [r[2] for r in records] == [3, 3, 1, 4]


def test_undecodable_records_are_found_with_the_offending_byte() -> None:
    data = b"ok,1,2\nbad,caf\xe9,2\nok,3,4\n"
    split = split_records(
        data, 0, 1, eof=True, expected_columns=3, max_record_bytes=1000, max_record_lines=4
    )
    assert find_undecodable(data, split.starts, split.ends) == {
        1: "not UTF-8: byte 0xE9 at position 8"
    }


def test_undecodable_bytes_are_reported_per_record_with_the_first_offending_byte() -> None:
    data = "ok,né,1\n".encode() + b"a,\xc3\n" + b"b,\xff\xfe,x\r\n" + "c,日本,2\n".encode()
    split = split_records(
        data, 0, 1, eof=True, expected_columns=3, max_record_bytes=1000, max_record_lines=4
    )
    assert find_undecodable(data, split.starts, split.ends) == {
        1: "not UTF-8: byte 0xC3 at position 3",  # a sequence cut short by the line end
        2: "not UTF-8: byte 0xFF at position 3",
    }


@given(
    st.binary(max_size=300).map(lambda raw: bytes(b",a\n"[byte % 3] for byte in raw)),
    st.lists(st.integers(min_value=0, max_value=300), max_size=12),
)
def test_comma_counts_are_the_commas_of_each_span(data: bytes, cuts: list[int]) -> None:
    view = np.frombuffer(data, dtype=np.uint8)
    bounds = sorted(min(cut, len(data)) for cut in cuts)
    starts = np.array(bounds[0::2][: len(bounds) // 2], dtype=np.int64)
    ends = np.array(bounds[1::2], dtype=np.int64)
    expected = [data[start:end].count(b",") for start, end in zip(starts, ends, strict=True)]
    assert _comma_counts(view, starts, ends).tolist() == expected


def test_comma_counts_past_a_uint16_sum() -> None:
    data = b"," * 70_000 + b"\n" + b"a,b"
    view = np.frombuffer(data, dtype=np.uint8)
    counts = _comma_counts(view, np.array([0, 70_001]), np.array([70_000, 70_004]))
    assert counts.tolist() == [70_000, 1]

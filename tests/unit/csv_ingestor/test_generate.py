"""Synthetic files look like the real ones, to the byte conventions, and are reproducible."""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

import pytest

from prestacop_csv_ingestor.generate import BAD_KINDS, generate_file
from prestacop_shared.tickets import SOURCE_HEADER, TicketLayout, detect_layout

pytestmark = pytest.mark.unit


def test_fy2017_file_has_the_real_header_crlf_and_no_final_newline(tmp_path: Path) -> None:
    out = tmp_path / "fy2017.csv"
    generate_file(out, 5000, year=2017, seed=1)
    data = out.read_bytes()
    assert data.startswith(",".join(SOURCE_HEADER[:43]).encode() + b"\r\n")
    assert not data.endswith(b"\n") and data.count(b"\r\n") == 5000
    rows = list(csv.reader(io.StringIO(data.decode(), newline="")))
    assert detect_layout(rows[0]) is TicketLayout.FY2017
    assert all(len(row) == 43 for row in rows[1:]) and len(rows) == 5001
    assert len({row[0] for row in rows[1:]}) == 5000
    codes = Counter(row[5] for row in rows[1:]).most_common(3)
    assert {code for code, _ in codes} <= {"21", "36", "38", "14"}
    generate_file(tmp_path / "again.csv", 5000, year=2017, seed=1)
    assert (tmp_path / "again.csv").read_bytes() == data


def test_fy2015_file_has_51_columns_lf_and_that_years_date_format(tmp_path: Path) -> None:
    out = tmp_path / "fy2015.csv"
    generate_file(out, 2000, year=2015, seed=2)
    rows = list(csv.reader(io.StringIO(out.read_text(), newline="")))
    assert b"\r" not in out.read_bytes() and out.read_bytes().endswith(b"\n")
    assert detect_layout(rows[0]) is TicketLayout.FY2014_2016
    assert all(len(row) == 51 for row in rows[1:])
    assert sum(row[12].endswith("12:00:00 PM") for row in rows[1:]) > 1900


def test_bad_lines_are_where_the_report_says(tmp_path: Path) -> None:
    out = tmp_path / "bad.csv"
    result = generate_file(out, 3000, year=2017, seed=3, bad_lines=2)
    assert Counter(result.bad_lines.values()) == dict.fromkeys(BAD_KINDS, 2)
    lines = out.read_bytes().split(b"\r\n")
    for number, kind in result.bad_lines.items():
        line = lines[number - 1]
        if kind == "not UTF-8":
            with pytest.raises(UnicodeDecodeError):
                line.decode()
        elif kind == "line too long":
            assert len(line) > 100_000
        elif kind == "empty summons number":
            assert line.startswith(b",")

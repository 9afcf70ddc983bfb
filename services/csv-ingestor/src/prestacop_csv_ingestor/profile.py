"""The value distributions synthetic files are drawn from, derived once from the real samples.

``python -m prestacop_csv_ingestor.profile tests/data/nyc`` rebuilds ``data/profile.json`` from
the untouched real slices in ``tests/data/nyc`` (see ``data/README.md``): per column, the most
frequent values of the FY2017 head (10,212 rows) with their counts; joint tuples where columns go
together (code and description; county, precinct and location); the hour-of-day distribution of
``Violation Time``; and, per fiscal year, the date columns whose format changed between years.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

from prestacop_shared.tickets import SOURCE_HEADER, TicketLayout

TOP_VALUES = 200
GENERATED = ("summons_number", "plate_id", "issue_date", "violation_time")
JOINT_GROUPS: dict[str, tuple[str, ...]] = {
    "code": ("violation_code", "violation_description"),
    "place": ("violation_county", "violation_precinct", "violation_location", "issuer_precinct"),
}
YEAR_COLUMNS = ("vehicle_expiration_date", "date_first_observed")


def _read(path: Path) -> pl.DataFrame:
    frame = pl.read_csv(path, infer_schema=False).fill_null("")
    fields = TicketLayout.FY2017.fields if frame.width == 43 else TicketLayout.FY2014_2016.fields
    return frame.rename(dict(zip(frame.columns, fields, strict=True)))


def _top(frame: pl.DataFrame, columns: tuple[str, ...], keep: int) -> list[list[Any]]:
    counts = frame.group_by(list(columns)).len().sort(["len", *columns], descending=True)
    return [list(row) for row in counts.head(keep).iter_rows()]


def build_profile(samples: Path) -> dict[str, Any]:
    """Derive the profile from the real sample folder."""
    fy2017 = _read(samples / "fy2017_head_10212_rows.csv")
    grouped = {column for group in JOINT_GROUPS.values() for column in group}
    columns = {
        name: _top(fy2017, (name,), TOP_VALUES)
        for name in TicketLayout.FY2017.fields
        if name not in grouped and name not in GENERATED
    }
    joint = {group: _top(fy2017, names, TOP_VALUES) for group, names in JOINT_GROUPS.items()}
    hours = Counter(
        f"{value[:2]}{value[-1]}"
        for value in fy2017["violation_time"].to_list()
        if len(value) == 5 and value[:4].isdigit() and value[-1] in "AP"
    )
    per_year: dict[str, dict[str, list[list[Any]]]] = {}
    for year in (2014, 2015, 2016):
        frame = _read(samples / f"fy{year}_head_99_rows.csv")
        per_year[str(year)] = {name: _top(frame, (name,), TOP_VALUES) for name in YEAR_COLUMNS}
    return {
        "source": "tests/data/nyc: fy2017_head_10212_rows.csv (columns, groups, hours) and "
        "fy2014/2015/2016_head_99_rows.csv (per-year date formats); real NYC DOF rows",
        "header": list(SOURCE_HEADER),
        "columns": columns,
        "joint": {group: {"columns": list(JOINT_GROUPS[group]), "rows": rows}
                  for group, rows in joint.items()},
        "violation_hours": sorted([hour, count] for hour, count in hours.items()),
        "per_year": per_year,
    }  # fmt: skip


@cache
def load_profile() -> dict[str, Any]:
    """The committed profile (package data)."""
    text = resources.files("prestacop_csv_ingestor").joinpath("data/profile.json").read_text()
    profile: dict[str, Any] = json.loads(text)
    return profile


if __name__ == "__main__":
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/nyc")
    target = Path(__file__).parent / "data" / "profile.json"
    target.write_text(json.dumps(build_profile(source), separators=(",", ":")) + "\n")
    sys.stdout.write(f"wrote {target} ({target.stat().st_size} bytes)\n")

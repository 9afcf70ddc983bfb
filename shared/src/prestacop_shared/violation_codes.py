"""The DOF violation-code table (code, definition, fines), shipped as package data.

Two official tables are merged: the short one (97 codes, short definitions, both fines) and the
long one (86 codes, long official definitions). Fines are in US dollars: ``fine_manhattan_usd``
applies in Manhattan at or below 96th Street, ``fine_elsewhere_usd`` everywhere else.
"""

from __future__ import annotations

import csv
import io
from functools import cache
from importlib import resources

from pydantic import BaseModel, ConfigDict

from prestacop_shared.exceptions import UnknownViolationCode


class ViolationCode(BaseModel):
    """One row of the DOF table."""

    model_config = ConfigDict(frozen=True)

    code: int
    definition: str
    long_definition: str | None
    fine_manhattan_usd: int
    fine_elsewhere_usd: int


def _read(name: str) -> list[dict[str, str]]:
    text = resources.files("prestacop_shared").joinpath("data", name).read_text(encoding="utf-8")
    reader = csv.reader(io.StringIO(text))
    header = [" ".join(h.split()) for h in next(reader)]
    return [dict(zip(header, row, strict=True)) for row in reader if row]


@cache
def load_violation_codes() -> dict[int, ViolationCode]:
    """Return the DOF table keyed by code (cached; the files never change at run time)."""
    long_rows = {int(row["CODE"]): row for row in _read("dof_violation_codes_long.csv")}
    table: dict[int, ViolationCode] = {}
    for row in _read("dof_violation_codes.csv"):
        code = int(row["CODE"])
        long_row = long_rows.get(code)
        table[code] = ViolationCode(
            code=code,
            definition=row["DEFINITION"].strip(),
            long_definition=long_row["DEFINITION"].strip() if long_row else None,
            fine_manhattan_usd=int(row["Manhattan 96th St. & below"]),
            fine_elsewhere_usd=int(row["All Other Areas"]),
        )
    return table


def violation_code(code: int) -> ViolationCode:
    """Look up one code.

    Raises:
        UnknownViolationCode: the code is not in the DOF table.

    Example:
        >>> violation_code(21).definition
        'NO PARKING-STREET CLEANING'
    """
    try:
        return load_violation_codes()[code]
    except KeyError:
        raise UnknownViolationCode(f"violation code {code} is not in the DOF table") from None

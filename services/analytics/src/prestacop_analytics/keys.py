"""The key sets of the report's partial aggregates, and how a partial names each set.

A partial holds the counts of several key sets in one table: the keys of every set (null where a
set does not group by them) and ``set_id``, Spark's ``grouping_id()`` of the set over
:func:`key_columns` (bit i, first column highest, set when column i is not grouped). The Spark
aggregates (:mod:`prestacop_analytics.partials`), the Arrow one
(:mod:`prestacop_analytics.ticket_counts`) and the merge (:mod:`prestacop_analytics.merge`) all
name sets by it.
"""

from __future__ import annotations

from collections.abc import Sequence

SUMMONS_KEY = "summons_number"
ZONES = ("drone_id", "violation_code", "fine_zone")
DATES = ("weekday", "hour", "month", "fiscal_year", "issue_day_in_range")
PRECINCTS = ("violation_precinct", "borough")
SUMMONS = (SUMMONS_KEY,)
STATES = ("registration_state",)
MAKES = ("vehicle_make",)
BODY_TYPES = ("vehicle_body_type",)
CELLS = ("lat_cell", "lon_cell")
SUMMARY_KEYS: tuple[tuple[str, ...], ...] = (
    ZONES,
    DATES,
    PRECINCTS,
    STATES,
    MAKES,
    BODY_TYPES,
    CELLS,
    SUMMONS,
)
"""The ticket counts the ticket tables are derived from (each a key set of one scan)."""

DRONE_CODES = ("drone_id", "violation_code")
VIOLATION_KEYS: tuple[tuple[str, ...], ...] = (DRONE_CODES, CELLS)
"""The live violation counts: per (drone, code) and per map cell."""


def key_columns(key_sets: Sequence[Sequence[str]]) -> tuple[str, ...]:
    """Every key of ``key_sets``, each once, in first-seen order (the grouping columns)."""
    return tuple(dict.fromkeys(key for keys in key_sets for key in keys))


def set_id(key_sets: Sequence[Sequence[str]], keys: Sequence[str]) -> int:
    """Spark's ``grouping_id()`` of ``keys``: bit i (first column highest) set if not grouped."""
    columns = key_columns(key_sets)
    return sum(1 << (len(columns) - 1 - i) for i, c in enumerate(columns) if c not in keys)

"""Driver side of a run: merge the committed partials (Parquet) into what the tables need.

Every partial is an aggregate whose merge is exact, so merging the partials of any split of the
files equals the aggregate of all of them, and an incremental report equals a full one:

* counts (tickets by key set, live violations, status messages, quarantined records) are summed
  per key, null keys kept as their own key;
* the latest status of a drone is the maximum of (``emitted_us``, ``event_id``) over partials,
  the order the full computation uses;
* the resolution times need the alert-resolution join, which does not split by file: the
  partials keep the join keys (alert id, drone, time in integer microseconds) and the join is
  done here over all of them; the mean is an integer sum of microseconds over a count, so it
  does not depend on the order the partials come in;
* the repeated summons numbers need a count per summons number over everything: the partials
  keep those counts, summed here with Arrow and filtered to those above one.

Arrow does the merging (vectorised, no Python loop over rows) because the summons counts hold one
row per ticket number, millions at full size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from prestacop_analytics.keys import (
    CELLS,
    DATES,
    DRONE_CODES,
    SUMMARY_KEYS,
    SUMMONS,
    SUMMONS_KEY,
    VIOLATION_KEYS,
    set_id,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
REPEATED_SUMMONS = "repeated_summons.parquet"


def partial_files(partial_dirs: Sequence[Path], kind: str) -> list[Path]:
    """The Parquet files of one kind in the given published partial folders."""
    return sorted(
        file for folder in partial_dirs for file in (folder / kind).glob("*/part-*.parquet")
    )


def _read(files: Sequence[Path]) -> pa.Table | None:
    if not files:
        return None
    return pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive")


def _sum_by(table: pa.Table, keys: Sequence[str], measures: Sequence[str]) -> list[dict[str, Any]]:
    summed = table.group_by(list(keys), use_threads=False).aggregate([(m, "sum") for m in measures])
    rows: list[dict[str, Any]] = _unsuffixed(summed).to_pylist()
    return rows


def _unsuffixed(summed: pa.Table) -> pa.Table:
    return summed.rename_columns([name.removesuffix("_sum") for name in summed.column_names])


def _of_set(table: pa.Table, key_sets: Sequence[Sequence[str]], keys: Sequence[str]) -> pa.Table:
    return table.filter(pc.equal(table["set_id"], set_id(key_sets, keys)))


@dataclass
class Status:
    """A drone's status messages and its latest status."""

    messages: int
    latest: tuple[int, str]
    battery_pct: float | None
    state: str | None
    latitude: float | None
    longitude: float | None

    @property
    def latest_at(self) -> datetime:
        """When the latest status was emitted (UTC)."""
        return EPOCH + timedelta(microseconds=self.latest[0])


@dataclass
class MergedState:
    """Everything the tables are computed from, merged over every committed partial."""

    counts: dict[tuple[str, ...], list[dict[str, Any]]] = field(default_factory=dict)
    """Ticket counts by each key set of SUMMARY_KEYS (summons: only numbers seen twice or more)."""
    live_by_drone_code: Counter[tuple[Any, ...]] = field(default_factory=Counter)
    live_by_cell: Counter[tuple[Any, ...]] = field(default_factory=Counter)
    live_by_drone: Counter[str] = field(default_factory=Counter)
    drone_classified_by_drone: Counter[str] = field(default_factory=Counter)
    statuses: dict[str, Status] = field(default_factory=dict)
    alerts_by_drone: Counter[str] = field(default_factory=Counter)
    resolutions_by_drone: Counter[str] = field(default_factory=Counter)
    resolved: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    """Per drone: (resolved alerts, sum and max of resolution times in microseconds)."""
    quarantine: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def quarantined_records(self) -> int:
        """All quarantined records."""
        return sum(self.quarantine.values())


def merge_partials(partial_dirs: Sequence[Path]) -> MergedState:
    """Merge the partials of the given published partial folders."""
    merged = MergedState()
    _merge_tickets(merged, partial_dirs)
    _merge_violations(merged, _read(partial_files(partial_dirs, "violations")))
    _merge_statuses(merged, _read(partial_files(partial_dirs, "statuses")))
    _merge_fleet_joins(
        merged,
        _read(partial_files(partial_dirs, "alerts")),
        _read(partial_files(partial_dirs, "resolutions")),
    )
    quarantine = _read(partial_files(partial_dirs, "quarantine"))
    if quarantine is not None:
        for row in _sum_by(quarantine, ("kafka_topic", "reason"), ("records",)):
            merged.quarantine[(row["kafka_topic"], row["reason"])] += row["records"]
    return merged


def _set_files(partial_dirs: Sequence[Path], keys: Sequence[str]) -> list[Path]:
    folder = f"set_id={set_id(SUMMARY_KEYS, keys)}"
    return sorted(
        file
        for partial in partial_dirs
        for file in (partial / "tickets").glob(f"*/{folder}/part-*.parquet")
    )


def _merge_tickets(merged: MergedState, partial_dirs: Sequence[Path]) -> None:
    for keys in SUMMARY_KEYS:
        if keys == SUMMONS:
            merged.counts[keys] = repeated_summons(partial_dirs).to_pylist()
            continue
        table = _read(_set_files(partial_dirs, keys))
        merged.counts[keys] = [] if table is None else _sum_by(table, keys, ("tickets",))


def _summons_totals(files: Sequence[Path], only: pa.Array | None = None) -> pa.Table:
    """Tickets per summons number in ``files`` (restricted to the numbers in ``only``)."""
    tables = []
    for file in files:
        table = pq.read_table(file, columns=[SUMMONS_KEY, "tickets"])
        if only is not None:
            table = table.filter(pc.is_in(table[SUMMONS_KEY], value_set=only))
        tables.append(table)
    if not tables:
        return pa.table(
            {SUMMONS_KEY: pa.array([], pa.int64()), "tickets": pa.array([], pa.int64())}
        )
    summed = pa.concat_tables(tables).group_by([SUMMONS_KEY], use_threads=False)
    totals = _unsuffixed(summed.aggregate([("tickets", "sum")]))
    return totals.select([SUMMONS_KEY, "tickets"])


def repeated_summons(partial_dirs: Sequence[Path]) -> pa.Table:
    """The summons numbers counted more than once over ``partial_dirs``, with their counts.

    Kept beside each partial as ``repeated_summons.parquet`` (derived, written atomically):
    a run adds its own summons counts to the previous partial's repeated numbers, looking up in
    the older partials only the numbers it adds, instead of summing one row per ticket number.
    """
    if not partial_dirs:
        return _summons_totals([])
    kept = partial_dirs[-1] / REPEATED_SUMMONS
    if kept.exists():
        return pq.read_table(kept)
    new = _summons_totals(_set_files(partial_dirs[-1:], SUMMONS))
    previous = partial_dirs[-2] / REPEATED_SUMMONS if len(partial_dirs) > 1 else None
    if previous is not None and previous.exists():
        numbers = new[SUMMONS_KEY]
        older = _summons_totals(_set_files(partial_dirs[:-1], SUMMONS), only=numbers)
        totals = _summons_totals_of(pa.concat_tables([new, older]))
        before = pq.read_table(previous)
        unchanged = before.filter(pc.invert(pc.is_in(before[SUMMONS_KEY], value_set=numbers)))
        repeated = pa.concat_tables([unchanged, totals.filter(pc.greater(totals["tickets"], 1))])
    else:
        totals = _summons_totals(_set_files(partial_dirs, SUMMONS))
        repeated = totals.filter(pc.greater(totals["tickets"], 1))
    temporary = kept.with_name(f".tmp-{kept.name}")
    pq.write_table(repeated, temporary)
    temporary.replace(kept)
    return repeated


def _summons_totals_of(table: pa.Table) -> pa.Table:
    summed = table.group_by([SUMMONS_KEY], use_threads=False).aggregate([("tickets", "sum")])
    return _unsuffixed(summed).select([SUMMONS_KEY, "tickets"])


def _merge_violations(merged: MergedState, table: pa.Table | None) -> None:
    if table is None:
        return
    by_drone_code = _of_set(table, VIOLATION_KEYS, DRONE_CODES)
    for row in _sum_by(by_drone_code, DRONE_CODES, ("n", "drone_classified")):
        merged.live_by_drone_code[(row["drone_id"], row["violation_code"])] += row["n"]
        merged.live_by_drone[row["drone_id"]] += row["n"]
        merged.drone_classified_by_drone[row["drone_id"]] += row["drone_classified"]
    for row in _sum_by(_of_set(table, VIOLATION_KEYS, CELLS), CELLS, ("n",)):
        merged.live_by_cell[(row["lat_cell"], row["lon_cell"])] += row["n"]


def _merge_statuses(merged: MergedState, table: pa.Table | None) -> None:
    if table is None:
        return
    for row in table.to_pylist():
        latest = (row["emitted_us"], row["event_id"])
        known = merged.statuses.get(row["drone_id"])
        messages = row["n"] + (known.messages if known else 0)
        if known is None or latest > known.latest:
            merged.statuses[row["drone_id"]] = Status(
                messages,
                latest,
                row["battery_pct"],
                row["state"],
                row["latitude"],
                row["longitude"],
            )
        else:
            known.messages = messages


def _merge_fleet_joins(
    merged: MergedState, alerts: pa.Table | None, resolutions: pa.Table | None
) -> None:
    alert_rows = alerts.to_pylist() if alerts is not None else []
    resolution_rows = resolutions.to_pylist() if resolutions is not None else []
    by_alert_id: dict[str, list[tuple[str, int]]] = {}
    for alert in alert_rows:
        merged.alerts_by_drone[alert["drone_id"]] += 1
        by_alert_id.setdefault(alert["event_id"], []).append(
            (alert["drone_id"], alert["emitted_us"])
        )
    for resolution in resolution_rows:
        merged.resolutions_by_drone[resolution["drone_id"]] += 1
        for drone, alert_us in by_alert_id.get(resolution["alert_id"], []):
            took = resolution["emitted_us"] - alert_us
            count, total, longest = merged.resolved.get(drone, (0, 0, took))
            merged.resolved[drone] = (count + 1, total + took, max(longest, took))


def input_rows(kind: str, partial: pa.Table) -> int:
    """How many stored rows a partial of ``kind`` counts."""
    if kind == "tickets":
        return int(pc.sum(partial["tickets"]).as_py() or 0)
    if kind == "violations":
        return int(pc.sum(_of_set(partial, VIOLATION_KEYS, CELLS)["n"]).as_py() or 0)
    if kind == "statuses":
        return int(pc.sum(partial["n"]).as_py() or 0)
    if kind == "quarantine":
        return int(pc.sum(partial["records"]).as_py() or 0)
    return int(partial.num_rows)


def read_partial(folder: Path, kind: str) -> pa.Table | None:
    """One input's partial of one run (``None`` if Spark wrote no file).

    For the tickets only the weekday/hour counts (every ticket once, a small set).
    """
    if kind == "tickets":
        folder = folder / f"set_id={set_id(SUMMARY_KEYS, DATES)}"
    return _read(sorted(folder.glob("part-*.parquet")))

"""The report's tables, each derived on the driver from the merged partials (merge.py).

Every table is small (an aggregate) and fully ordered, so two runs over the same data give the
same files. Null keys are kept as their own row (an unparseable hour, an unknown county): nothing
is dropped silently.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from prestacop_analytics.inputs import FINE_ZONE_MANHATTAN
from prestacop_analytics.keys import (
    BODY_TYPES,
    CELLS,
    DATES,
    MAKES,
    PRECINCTS,
    STATES,
    SUMMONS,
    SUMMONS_KEY,
    ZONES,
)
from prestacop_analytics.merge import MergedState
from prestacop_shared.violation_codes import load_violation_codes

QUARANTINE = "quarantine"
TICKETS = "tickets"
LIVE_VIOLATIONS = "drone_violations"
FLEET_INPUTS = ("drone_status", "drone_violations", "drone_alerts", "drone_alert_resolutions")


@dataclass(frozen=True)
class TableContext:
    """What the table functions are computed from: the merged state and the report settings."""

    merged: MergedState
    top_repeated_summons: int
    position_cell_deg: float

    @property
    def counts(self) -> Mapping[tuple[str, ...], list[dict[str, Any]]]:
        """The merged ticket counts by each key of :data:`SUMMARY_KEYS`."""
        return self.merged.counts


@dataclass(frozen=True)
class Rows:
    """A table derived on the driver from the merged state: its columns and ordered rows."""

    columns: list[str]
    rows: list[tuple[Any, ...]]


@dataclass(frozen=True)
class TableSpec:
    """A named report table, how to compute it, and which inputs it reads (its "as of")."""

    name: str
    description: str
    compute: Callable[[TableContext], Rows]
    reads: tuple[str, ...] = (TICKETS,)


def _sum_by(ctx: TableContext, summary: tuple[str, ...], *keys: str) -> Counter[tuple[Any, ...]]:
    totals: Counter[tuple[Any, ...]] = Counter()
    for row in ctx.counts[summary]:
        totals[tuple(row[key] for key in keys)] += row["tickets"]
    return totals


def _asc(value: Any) -> tuple[bool, Any]:
    """Sort key: ascending, nulls last (Spark's ``asc_nulls_last``)."""
    return (value is None, value)


def _by_key(totals: Counter[tuple[Any, ...]], *keys: str) -> Rows:
    """Counts ordered by their keys, nulls last."""
    rows = sorted(totals.items(), key=lambda item: tuple(_asc(v) for v in item[0]))
    return Rows([*keys, "tickets"], [(*key, n) for key, n in rows])


def _by_tickets(totals: Counter[tuple[Any, ...]], *keys: str) -> Rows:
    """Counts ordered by tickets (most first), then by their keys, nulls last."""
    rows = sorted(totals.items(), key=lambda item: (-item[1], *(_asc(v) for v in item[0])))
    return Rows([*keys, "tickets"], [(*key, n) for key, n in rows])


def _code_counts(ctx: TableContext) -> dict[Any, tuple[int, int]]:
    """Tickets per violation code: (all, in the Manhattan-at-or-below-96th fine zone)."""
    counts: dict[Any, tuple[int, int]] = {}
    for row in ctx.counts[ZONES]:
        tickets, manhattan = counts.get(row["violation_code"], (0, 0))
        in_zone = row["tickets"] if row["fine_zone"] == FINE_ZONE_MANHATTAN else 0
        counts[row["violation_code"]] = (tickets + row["tickets"], manhattan + in_zone)
    return counts


def top_violation_codes(ctx: TableContext) -> Rows:
    """Every violation code by number of tickets, with its definition, fines and estimated total."""
    codes = load_violation_codes()
    counts = _code_counts(ctx)
    total = sum(tickets for tickets, _ in counts.values()) or 1
    rows = []
    for code, (tickets, manhattan) in counts.items():
        known = codes.get(code) if code is not None else None
        fine_m = known.fine_manhattan_usd if known else None
        fine_e = known.fine_elsewhere_usd if known else None
        fines = (
            manhattan * fine_m + (tickets - manhattan) * fine_e
            if fine_m is not None and fine_e is not None
            else None
        )
        definition = known.definition if known else None
        rows.append((code, definition, fine_m, fine_e, tickets, tickets / total, fines))
    rows.sort(key=lambda row: (-row[4], _asc(row[0])))
    columns = [
        "violation_code",
        "definition",
        "fine_manhattan_usd",
        "fine_elsewhere_usd",
        "tickets",
        "share",
        "estimated_fines_usd",
    ]
    return Rows(columns, rows)


def estimated_fines(ctx: TableContext) -> Rows:
    """Fines the tickets would bring, by fine zone (tickets with a code outside the table: unpriced)."""
    codes = load_violation_codes()
    zones: dict[str, tuple[int, int, int]] = {}
    for row in ctx.counts[ZONES]:
        known = codes.get(row["violation_code"]) if row["violation_code"] is not None else None
        tickets, priced, fines = zones.get(row["fine_zone"], (0, 0, 0))
        if known is not None:
            fine = (
                known.fine_manhattan_usd
                if row["fine_zone"] == FINE_ZONE_MANHATTAN
                else known.fine_elsewhere_usd
            )
            priced, fines = priced + row["tickets"], fines + row["tickets"] * fine
        zones[row["fine_zone"]] = (tickets + row["tickets"], priced, fines)
    rows = [(zone, *zones[zone]) for zone in sorted(zones)]
    return Rows(["fine_zone", "tickets", "priced_tickets", "estimated_fines_usd"], rows)


def violations_per_drone(ctx: TableContext) -> Rows:
    """Violation codes per drone: historical tickets and live drone violations side by side."""
    historical = _sum_by(ctx, ZONES, "drone_id", "violation_code")
    live = ctx.merged.live_by_drone_code
    keys = sorted(
        set(historical) | set(live), key=lambda key: ((key[0] is not None, key[0]), _asc(key[1]))
    )
    rows = [
        (*key, historical[key], live.get(key, 0), historical[key] + live.get(key, 0))
        for key in keys
    ]
    return Rows(["drone_id", "violation_code", "tickets", "drone_violations", "total"], rows)


def tickets_by_hour(ctx: TableContext) -> Rows:
    """Tickets per hour of day (null hour: unparseable violation time)."""
    return _by_key(_sum_by(ctx, DATES, "hour"), "hour")


def tickets_by_weekday(ctx: TableContext) -> Rows:
    """Tickets per ISO weekday, 1 = Monday (null: unparseable issue date)."""
    return _by_key(_sum_by(ctx, DATES, "weekday"), "weekday")


def tickets_by_month(ctx: TableContext) -> Rows:
    """Tickets per calendar month of the issue date (null: unparseable issue date)."""
    return _by_key(_sum_by(ctx, DATES, "month"), "month")


def tickets_by_hour_weekday(ctx: TableContext) -> Rows:
    """Tickets per (weekday, hour), tickets whose time and date both parse (the heatmap)."""
    totals = _sum_by(ctx, DATES, "weekday", "hour")
    parsed = Counter({key: n for key, n in totals.items() if None not in key})
    return _by_key(parsed, "weekday", "hour")


def tickets_by_borough(ctx: TableContext) -> Rows:
    """Tickets per borough (null: empty or unknown county code)."""
    return _by_tickets(_sum_by(ctx, PRECINCTS, "borough"), "borough")


def tickets_by_precinct(ctx: TableContext) -> Rows:
    """Tickets per violation precinct and borough (precinct 0: unknown)."""
    keys = ("violation_precinct", "borough")
    return _by_tickets(_sum_by(ctx, PRECINCTS, *keys), *keys)


def tickets_by_registration_state(ctx: TableContext) -> Rows:
    """Tickets per plate registration state (``99``: unknown, as the source writes it)."""
    return _by_tickets(_sum_by(ctx, STATES, *STATES), *STATES)


def tickets_by_vehicle_make(ctx: TableContext) -> Rows:
    """Tickets per vehicle make, as written."""
    return _by_tickets(_sum_by(ctx, MAKES, *MAKES), *MAKES)


def tickets_by_body_type(ctx: TableContext) -> Rows:
    """Tickets per vehicle body type, as written."""
    return _by_tickets(_sum_by(ctx, BODY_TYPES, *BODY_TYPES), *BODY_TYPES)


def violations_by_position(ctx: TableContext) -> Rows:
    """Historical tickets and live violations per grid cell (for the map); cell centres in degrees."""
    cell = ctx.position_cell_deg
    historical = _sum_by(ctx, CELLS, *CELLS)
    live = ctx.merged.live_by_cell

    def centre(index: int | None) -> float | None:
        return None if index is None else (index + 0.5) * cell

    rows = [
        (centre(key[0]), centre(key[1]), historical[key], live.get(key, 0))
        for key in set(historical) | set(live)
    ]
    rows.sort(key=lambda row: ((row[0] is not None, row[0]), (row[1] is not None, row[1])))
    columns = ["latitude", "longitude", "tickets", "drone_violations", "total"]
    return Rows(columns, [(*row, row[2] + row[3]) for row in rows])


FLEET_COLUMNS = [
    "drone_id",
    "messages",
    "status_messages",
    "violations",
    "alerts",
    "alert_rate",
    "resolved_alerts",
    "open_alerts",
    "mean_resolution_s",
    "max_resolution_s",
    "latest_battery_pct",
    "latest_state",
    "latest_latitude",
    "latest_longitude",
    "latest_status_at",
]


def fleet(ctx: TableContext) -> Rows:
    """Per live drone: messages, violations, alerts, alert rate, resolution times, latest status."""
    merged = ctx.merged
    drones = (
        set(merged.statuses)
        | set(merged.live_by_drone)
        | set(merged.alerts_by_drone)
        | set(merged.resolutions_by_drone)
    )
    rows = []
    for drone in sorted(drones, key=_asc):
        status = merged.statuses.get(drone)
        status_messages = status.messages if status else 0
        violations = merged.live_by_drone[drone]
        alerts = merged.alerts_by_drone[drone]
        offences = alerts + merged.drone_classified_by_drone[drone]
        resolved, total_us, longest_us = merged.resolved.get(drone, (0, 0, 0))
        rows.append(
            (
                drone,
                status_messages + violations + alerts + merged.resolutions_by_drone[drone],
                status_messages,
                violations,
                alerts,
                alerts / offences if offences > 0 else None,
                resolved,
                alerts - resolved,
                total_us / resolved / 1e6 if resolved else None,
                longest_us / 1e6 if resolved else None,
                status.battery_pct if status else None,
                status.state if status else None,
                status.latitude if status else None,
                status.longitude if status else None,
                status.latest_at if status else None,
            )
        )
    return Rows(FLEET_COLUMNS, rows)


def quarantine_by_reason(ctx: TableContext) -> Rows:
    """Quarantined records per source topic and reason."""
    rows = sorted(
        ((topic, reason, n) for (topic, reason), n in ctx.merged.quarantine.items()),
        key=lambda row: (-row[2], _asc(row[0]), _asc(row[1])),
    )
    return Rows(["kafka_topic", "reason", "records"], rows)


def repeated_summons_numbers(ctx: TableContext) -> Rows:
    """The summons numbers stored more than once, most copies first (top N)."""
    rows = sorted(
        ((row[SUMMONS_KEY], row["tickets"]) for row in ctx.counts[SUMMONS]),
        key=lambda row: (-row[1], row[0] is not None, row[0]),
    )
    return Rows([SUMMONS_KEY, "copies"], rows[: ctx.top_repeated_summons])


def data_quality(ctx: TableContext) -> Rows:
    """Counts of what could not be used as is: one row per metric."""
    codes = load_violation_codes()
    dates, zones, precincts = ctx.counts[DATES], ctx.counts[ZONES], ctx.counts[PRECINCTS]

    def tickets(rows: list[dict[str, Any]], where: Callable[[dict[str, Any]], bool]) -> int:
        return sum(row["tickets"] for row in rows if where(row))

    # weekday is null exactly when the issue date is unparseable
    repeated = ctx.counts[SUMMONS]
    metrics = {
        "tickets_stored": tickets(dates, lambda _: True),
        "violation_time_unparseable": tickets(dates, lambda r: r["hour"] is None),
        "issue_date_unparseable": tickets(dates, lambda r: r["weekday"] is None),
        "issue_date_fiscal_year_unknown": tickets(
            dates, lambda r: r["weekday"] is not None and r["fiscal_year"] is None
        ),
        "issue_date_out_of_range": tickets(dates, lambda r: r["issue_day_in_range"] is False),
        "violation_code_missing": tickets(zones, lambda r: r["violation_code"] is None),
        "violation_code_not_in_dof_table": tickets(
            zones, lambda r: r["violation_code"] is not None and r["violation_code"] not in codes
        ),
        "county_unknown": tickets(precincts, lambda r: r["borough"] is None),
        "repeated_summons_numbers": len(repeated),
        "extra_ticket_copies": sum(row["tickets"] - 1 for row in repeated),
        "quarantined_records": ctx.merged.quarantined_records,
    }
    return Rows(["metric", "value"], list(metrics.items()))


TABLES: tuple[TableSpec, ...] = (
    TableSpec("top_violation_codes", "Most common violation codes", top_violation_codes),
    TableSpec(
        "violations_per_drone",
        "Violation codes per drone",
        violations_per_drone,
        (TICKETS, LIVE_VIOLATIONS),
    ),
    TableSpec("tickets_by_hour", "Tickets by hour of day", tickets_by_hour),
    TableSpec("tickets_by_weekday", "Tickets by weekday", tickets_by_weekday),
    TableSpec("tickets_by_month", "Tickets by month", tickets_by_month),
    TableSpec("tickets_by_hour_weekday", "Tickets by weekday and hour", tickets_by_hour_weekday),
    TableSpec("tickets_by_borough", "Tickets by borough", tickets_by_borough),
    TableSpec("tickets_by_precinct", "Tickets by precinct", tickets_by_precinct),
    TableSpec(
        "tickets_by_registration_state",
        "Tickets by registration state",
        tickets_by_registration_state,
    ),
    TableSpec("tickets_by_vehicle_make", "Tickets by vehicle make", tickets_by_vehicle_make),
    TableSpec("tickets_by_body_type", "Tickets by vehicle body type", tickets_by_body_type),
    TableSpec("estimated_fines", "Estimated fines by fine zone", estimated_fines),
    TableSpec(
        "violations_by_position",
        "Violations by map cell",
        violations_by_position,
        (TICKETS, LIVE_VIOLATIONS),
    ),
    TableSpec("fleet", "Live fleet per drone", fleet, FLEET_INPUTS),
    TableSpec(
        "quarantine_by_reason",
        "Quarantined records by reason",
        quarantine_by_reason,
        (QUARANTINE,),
    ),
    TableSpec(
        "repeated_summons_numbers",
        "Summons numbers stored more than once",
        repeated_summons_numbers,
    ),
    TableSpec("data_quality", "Data quality counts", data_quality, (TICKETS, QUARANTINE)),
)
"""Every table of the standard report, in report order."""

"""The report's tables, each a Spark aggregate over :class:`~prestacop_analytics.inputs.ReportInputs`.

Every table is small (an aggregate) and fully ordered, so two runs over the same data give the
same files. Null keys are kept as their own row (an unparseable hour, an unknown county): nothing
is dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from prestacop_analytics.inputs import FINE_ZONE_MANHATTAN, ReportInputs
from prestacop_shared.events import ViolationSource
from prestacop_shared.violation_codes import load_violation_codes


@dataclass(frozen=True)
class TableContext:
    """What the table functions need besides the inputs."""

    spark: SparkSession
    inputs: ReportInputs
    top_repeated_summons: int
    position_cell_deg: float


@dataclass(frozen=True)
class TableSpec:
    """A named report table and how to compute it."""

    name: str
    description: str
    compute: Callable[[TableContext], DataFrame]


def _count_by(frame: DataFrame, *keys: str, name: str = "tickets") -> DataFrame:
    return frame.groupBy(*keys).agg(F.count(F.lit(1)).alias(name))


def _by_count(*keys: str) -> list[Column]:
    return [F.col("tickets").desc(), *[F.col(k).asc_nulls_last() for k in keys]]


def violation_code_table(spark: SparkSession) -> DataFrame:
    """The DOF code table as a small DataFrame (broadcast in joins)."""
    rows = [
        (c.code, c.definition, c.fine_manhattan_usd, c.fine_elsewhere_usd)
        for c in load_violation_codes().values()
    ]
    schema = (
        "violation_code long, definition string, fine_manhattan_usd long, fine_elsewhere_usd long"
    )
    return spark.createDataFrame(rows, schema)


def _codes_with_zone_counts(ctx: TableContext) -> DataFrame:
    counts = ctx.inputs.tickets.groupBy("violation_code").agg(
        F.count(F.lit(1)).alias("tickets"),
        F.count(F.when(F.col("fine_zone") == FINE_ZONE_MANHATTAN, 1)).alias(
            "tickets_manhattan_96th_and_below"
        ),
    )
    codes = F.broadcast(violation_code_table(ctx.spark))
    return counts.join(codes, "violation_code", "left")


def top_violation_codes(ctx: TableContext) -> DataFrame:
    """Every violation code by number of tickets, with its definition, fines and estimated total."""
    joined = _codes_with_zone_counts(ctx)
    total = ctx.inputs.tickets.count() or 1
    manhattan = F.col("tickets_manhattan_96th_and_below")
    return joined.select(
        "violation_code",
        "definition",
        "fine_manhattan_usd",
        "fine_elsewhere_usd",
        "tickets",
        (F.col("tickets") / F.lit(total)).alias("share"),
        (
            manhattan * F.col("fine_manhattan_usd")
            + (F.col("tickets") - manhattan) * F.col("fine_elsewhere_usd")
        ).alias("estimated_fines_usd"),
    ).orderBy(*_by_count("violation_code"))


def estimated_fines(ctx: TableContext) -> DataFrame:
    """Fines the tickets would bring, by fine zone (tickets with a code outside the table: unpriced)."""
    tickets = ctx.inputs.tickets
    codes = F.broadcast(violation_code_table(ctx.spark))
    joined = tickets.select("violation_code", "fine_zone").join(codes, "violation_code", "left")
    fine = F.when(F.col("fine_zone") == FINE_ZONE_MANHATTAN, F.col("fine_manhattan_usd")).otherwise(
        F.col("fine_elsewhere_usd")
    )
    return (
        joined.groupBy("fine_zone")
        .agg(
            F.count(F.lit(1)).alias("tickets"),
            F.count(fine).alias("priced_tickets"),
            F.coalesce(F.sum(fine), F.lit(0)).cast("long").alias("estimated_fines_usd"),
        )
        .orderBy("fine_zone")
    )


def violations_per_drone(ctx: TableContext) -> DataFrame:
    """Violation codes per drone: historical tickets and live drone violations side by side."""
    historical = _count_by(ctx.inputs.tickets, "drone_id", "violation_code", name="tickets")
    live = _count_by(
        ctx.inputs.violations.select("drone_id", "violation_code"),
        "drone_id",
        "violation_code",
        name="drone_violations",
    )
    joined = historical.alias("h").join(
        live.alias("l"),
        (F.col("h.drone_id") == F.col("l.drone_id"))
        & F.col("h.violation_code").eqNullSafe(F.col("l.violation_code")),
        "full_outer",
    )
    tickets = F.coalesce(F.col("h.tickets"), F.lit(0))
    drone_violations = F.coalesce(F.col("l.drone_violations"), F.lit(0))
    return joined.select(
        F.coalesce(F.col("h.drone_id"), F.col("l.drone_id")).alias("drone_id"),
        F.coalesce(F.col("h.violation_code"), F.col("l.violation_code")).alias("violation_code"),
        tickets.alias("tickets"),
        drone_violations.alias("drone_violations"),
        (tickets + drone_violations).alias("total"),
    ).orderBy("drone_id", F.col("violation_code").asc_nulls_last())


def tickets_by_hour(ctx: TableContext) -> DataFrame:
    """Tickets per hour of day (null hour: unparseable violation time)."""
    return _count_by(ctx.inputs.tickets, "hour").orderBy(F.col("hour").asc_nulls_last())


def tickets_by_weekday(ctx: TableContext) -> DataFrame:
    """Tickets per ISO weekday, 1 = Monday (null: unparseable issue date)."""
    return _count_by(ctx.inputs.tickets, "weekday").orderBy(F.col("weekday").asc_nulls_last())


def tickets_by_month(ctx: TableContext) -> DataFrame:
    """Tickets per calendar month of the issue date (null: unparseable issue date)."""
    return _count_by(ctx.inputs.tickets, "month").orderBy(F.col("month").asc_nulls_last())


def tickets_by_hour_weekday(ctx: TableContext) -> DataFrame:
    """Tickets per (weekday, hour), tickets whose time and date both parse (the heatmap)."""
    parsed = ctx.inputs.tickets.where(F.col("hour").isNotNull() & F.col("weekday").isNotNull())
    return _count_by(parsed, "weekday", "hour").orderBy("weekday", "hour")


def tickets_by_borough(ctx: TableContext) -> DataFrame:
    """Tickets per borough (null: empty or unknown county code)."""
    return _count_by(ctx.inputs.tickets, "borough").orderBy(*_by_count("borough"))


def tickets_by_precinct(ctx: TableContext) -> DataFrame:
    """Tickets per violation precinct and borough (precinct 0: unknown)."""
    return _count_by(ctx.inputs.tickets, "violation_precinct", "borough").orderBy(
        *_by_count("violation_precinct", "borough")
    )


def tickets_by_registration_state(ctx: TableContext) -> DataFrame:
    """Tickets per plate registration state (``99``: unknown, as the source writes it)."""
    return _count_by(ctx.inputs.tickets, "registration_state").orderBy(
        *_by_count("registration_state")
    )


def tickets_by_vehicle_make(ctx: TableContext) -> DataFrame:
    """Tickets per vehicle make, as written."""
    return _count_by(ctx.inputs.tickets, "vehicle_make").orderBy(*_by_count("vehicle_make"))


def tickets_by_body_type(ctx: TableContext) -> DataFrame:
    """Tickets per vehicle body type, as written."""
    return _count_by(ctx.inputs.tickets, "vehicle_body_type").orderBy(
        *_by_count("vehicle_body_type")
    )


def violations_by_position(ctx: TableContext) -> DataFrame:
    """Historical tickets and live violations per grid cell (for the map); cell centres in degrees."""
    cell = ctx.position_cell_deg
    points = ctx.inputs.tickets.select(
        "latitude", "longitude", F.lit(1).alias("ticket"), F.lit(0).alias("live")
    ).unionByName(
        ctx.inputs.violations.select(
            "latitude", "longitude", F.lit(0).alias("ticket"), F.lit(1).alias("live")
        )
    )
    cells = points.select(
        F.floor(F.col("latitude") / cell).alias("lat_cell"),
        F.floor(F.col("longitude") / cell).alias("lon_cell"),
        "ticket",
        "live",
    )
    grouped = cells.groupBy("lat_cell", "lon_cell").agg(
        F.sum("ticket").cast("long").alias("tickets"),
        F.sum("live").cast("long").alias("drone_violations"),
    )
    return grouped.select(
        ((F.col("lat_cell") + 0.5) * cell).alias("latitude"),
        ((F.col("lon_cell") + 0.5) * cell).alias("longitude"),
        "tickets",
        "drone_violations",
        (F.col("tickets") + F.col("drone_violations")).alias("total"),
    ).orderBy("latitude", "longitude")


def fleet(ctx: TableContext) -> DataFrame:
    """Per live drone: messages, violations, alerts, alert rate, resolution times, latest status."""
    inputs = ctx.inputs
    statuses = inputs.statuses
    latest_window = Window.partitionBy("drone_id").orderBy(
        F.col("emitted_at").desc(), F.col("event_id").desc()
    )
    latest = (
        statuses.withColumn("rank", F.row_number().over(latest_window))
        .where(F.col("rank") == 1)
        .select(
            "drone_id",
            F.col("battery_pct").alias("latest_battery_pct"),
            F.col("state").alias("latest_state"),
            F.col("latitude").alias("latest_latitude"),
            F.col("longitude").alias("latest_longitude"),
            F.col("emitted_at").alias("latest_status_at"),
        )
    )
    status_counts = _count_by(statuses, "drone_id", name="status_messages")
    violation_counts = inputs.violations.groupBy("drone_id").agg(
        F.count(F.lit(1)).alias("violations"),
        F.count(F.when(F.col("source") == ViolationSource.DRONE.value, 1)).alias(
            "drone_classified_violations"
        ),
    )
    alert_counts = _count_by(inputs.alerts, "drone_id", name="alerts")
    resolution_counts = _count_by(inputs.resolutions, "drone_id", name="alert_resolutions")
    resolved = (
        inputs.alerts.alias("a")
        .join(inputs.resolutions.alias("r"), F.col("a.event_id") == F.col("r.alert_id"))
        .select(
            F.col("a.drone_id").alias("drone_id"),
            (
                (F.unix_micros(F.col("r.emitted_at")) - F.unix_micros(F.col("a.emitted_at"))) / 1e6
            ).alias("resolution_s"),
        )
        .groupBy("drone_id")
        .agg(
            F.count(F.lit(1)).alias("resolved_alerts"),
            F.avg("resolution_s").alias("mean_resolution_s"),
            F.max("resolution_s").alias("max_resolution_s"),
        )
    )
    drones = (
        statuses.select("drone_id")
        .union(inputs.violations.select("drone_id"))
        .union(inputs.alerts.select("drone_id"))
        .union(inputs.resolutions.select("drone_id"))
        .distinct()
    )
    joined = drones
    for part in (
        status_counts,
        violation_counts,
        alert_counts,
        resolution_counts,
        resolved,
        latest,
    ):
        joined = joined.join(part, "drone_id", "left")
    zero = F.lit(0)
    alerts = F.coalesce(F.col("alerts"), zero)
    offences = alerts + F.coalesce(F.col("drone_classified_violations"), zero)
    messages = (
        F.coalesce(F.col("status_messages"), zero)
        + F.coalesce(F.col("violations"), zero)
        + alerts
        + F.coalesce(F.col("alert_resolutions"), zero)
    )
    return joined.select(
        "drone_id",
        messages.alias("messages"),
        F.coalesce(F.col("status_messages"), zero).alias("status_messages"),
        F.coalesce(F.col("violations"), zero).alias("violations"),
        alerts.alias("alerts"),
        F.when(offences > 0, alerts / offences).alias("alert_rate"),
        F.coalesce(F.col("resolved_alerts"), zero).alias("resolved_alerts"),
        (alerts - F.coalesce(F.col("resolved_alerts"), zero)).alias("open_alerts"),
        "mean_resolution_s",
        "max_resolution_s",
        "latest_battery_pct",
        "latest_state",
        "latest_latitude",
        "latest_longitude",
        "latest_status_at",
    ).orderBy("drone_id")


def quarantine_by_reason(ctx: TableContext) -> DataFrame:
    """Quarantined records per source topic and reason."""
    return (
        ctx.inputs.quarantine.groupBy("kafka_topic", "reason")
        .agg(F.count(F.lit(1)).alias("records"))
        .orderBy(F.col("records").desc(), "kafka_topic", "reason")
    )


def repeated_summons_numbers(ctx: TableContext) -> DataFrame:
    """The summons numbers stored more than once, most copies first (top N)."""
    return (
        _count_by(ctx.inputs.tickets, "summons_number", name="copies")
        .where(F.col("copies") > 1)
        .orderBy(F.col("copies").desc(), "summons_number")
        .limit(ctx.top_repeated_summons)
    )


def data_quality(ctx: TableContext) -> DataFrame:
    """Counts of what could not be used as is: one row per metric."""
    tickets = ctx.inputs.tickets
    codes = F.broadcast(violation_code_table(ctx.spark).select("violation_code", "definition"))
    summary = (
        tickets.join(codes, "violation_code", "left")
        .agg(
            F.count(F.lit(1)).alias("tickets_stored"),
            F.count(F.when(F.col("hour").isNull(), 1)).alias("violation_time_unparseable"),
            F.count(F.when(F.col("issue_day").isNull(), 1)).alias("issue_date_unparseable"),
            F.count(
                F.when(F.col("issue_day").isNotNull() & F.col("fiscal_year").isNull(), 1)
            ).alias("issue_date_fiscal_year_unknown"),
            F.count(F.when(~F.col("issue_day_in_range"), 1)).alias("issue_date_out_of_range"),
            F.count(F.when(F.col("violation_code").isNull(), 1)).alias("violation_code_missing"),
            F.count(
                F.when(F.col("violation_code").isNotNull() & F.col("definition").isNull(), 1)
            ).alias("violation_code_not_in_dof_table"),
            F.count(F.when(F.col("borough").isNull(), 1)).alias("county_unknown"),
        )
        .first()
    )
    repeated = (
        _count_by(tickets, "summons_number", name="copies")
        .where(F.col("copies") > 1)
        .agg(
            F.count(F.lit(1)).alias("repeated_summons_numbers"),
            F.coalesce(F.sum(F.col("copies") - 1), F.lit(0)).alias("extra_ticket_copies"),
        )
        .first()
    )
    metrics = {
        **(summary.asDict() if summary else {}),
        **(repeated.asDict() if repeated else {}),
        "quarantined_records": ctx.inputs.quarantine.count(),
    }
    rows = [(name, int(value)) for name, value in metrics.items()]
    return ctx.spark.createDataFrame(rows, "metric string, value long")


TABLES: tuple[TableSpec, ...] = (
    TableSpec("top_violation_codes", "Most common violation codes", top_violation_codes),
    TableSpec("violations_per_drone", "Violation codes per drone", violations_per_drone),
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
    TableSpec("violations_by_position", "Violations by map cell", violations_by_position),
    TableSpec("fleet", "Live fleet per drone", fleet),
    TableSpec("quarantine_by_reason", "Quarantined records by reason", quarantine_by_reason),
    TableSpec(
        "repeated_summons_numbers",
        "Summons numbers stored more than once",
        repeated_summons_numbers,
    ),
    TableSpec("data_quality", "Data quality counts", data_quality),
)
"""Every table of the standard report, in report order."""

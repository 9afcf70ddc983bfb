# ruff: noqa: S608 - SQL is assembled from constants of this module, never from user input
"""The standard report recomputed with DuckDB, independently of Spark, over the same stored files.

DuckDB reads exactly the CSV part files that the file sink committed: the paths listed in each
dataset's ``_spark_metadata`` log (the newest ``.compact`` file plus the batches after it), not
a glob. Used by the acceptance test (every table equal) and by ``benchmarks/bench_analytics.py``
(the same queries, timed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
from pydantic import BaseModel
from pyspark.sql.types import DataType, StructType

from prestacop_analytics.inputs import MANHATTAN_96TH_AND_BELOW_PRECINCTS
from prestacop_shared import datasets
from prestacop_shared.fleet import COUNTY_TO_BOROUGH
from prestacop_shared.sink_log import committed_files
from prestacop_shared.spark import PARTITION_COLUMN, QUARANTINE_SCHEMA, stored_schema
from prestacop_shared.violation_codes import load_violation_codes


def _duck_type(data_type: DataType) -> str:
    name = data_type.typeName()
    return {
        "long": "BIGINT", "integer": "INTEGER", "double": "DOUBLE", "boolean": "BOOLEAN",
        "date": "DATE", "timestamp": "VARCHAR",
    }.get(name, "VARCHAR")  # fmt: skip


def _create_view(
    con: duckdb.DuckDBPyConnection, name: str, sinks: list[Path], schema: StructType
) -> int:
    fields = [f for f in schema.fields if f.name != PARTITION_COLUMN]
    timestamps = {f.name for f in fields if f.dataType.typeName() == "timestamp"}
    files = [
        str(p)
        for sink in sinks
        if (sink / "_spark_metadata").is_dir()
        for p in (f.path for f in committed_files(sink))
    ]
    select = ", ".join(
        f"CAST({f.name} AS TIMESTAMP) AS {f.name}" if f.name in timestamps else f.name
        for f in fields
    )
    if files:
        columns = "{" + ", ".join(f"'{f.name}': '{_duck_type(f.dataType)}'" for f in fields) + "}"
        header = str(all(datasets.files_carry_header(sink) for sink in sinks)).lower()
        source = (
            f"read_csv({files!r}, header={header}, columns={columns}, quote='\"', escape='\"', "
            "allow_quoted_nulls=false, auto_detect=false, hive_partitioning=false)"
        )
    else:
        source = (
            "(SELECT "
            + ", ".join(f"CAST(NULL AS {_duck_type(f.dataType)}) AS {f.name}" for f in fields)
            + " WHERE false)"
        )
    con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT {select} FROM {source}")


def _model_view(
    con: duckdb.DuckDBPyConnection, name: str, sink: Path, model: type[BaseModel]
) -> None:
    _create_view(con, name, [sink], stored_schema(model))


def load(con: duckdb.DuckDBPyConnection, data_dir: Path) -> dict[str, int]:
    """Create the raw tables from the committed files; returns their row counts."""
    quarantine = data_dir / datasets.QUARANTINE_FOLDER
    quarantine_sinks = (
        [quarantine]
        if (quarantine / "_spark_metadata").is_dir()
        else sorted(p for p in quarantine.glob("*") if (p / "_spark_metadata").is_dir())
    )
    tickets = datasets.TICKETS
    _model_view(con, "raw_tickets", tickets.output_dir(data_dir), tickets.model)
    # The drone datasets are read several times by the fleet query: materialise them once.
    for name, dataset in (
        ("statuses", datasets.STATUS),
        ("violations", datasets.VIOLATIONS),
        ("alerts", datasets.ALERTS),
        ("resolutions", datasets.ALERT_RESOLUTIONS),
    ):
        _model_view(con, f"raw_{name}", dataset.output_dir(data_dir), dataset.model)
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM raw_{name}")
    _create_view(con, "quarantine", quarantine_sinks, QUARANTINE_SCHEMA)
    codes = [
        (c.code, c.definition, c.fine_manhattan_usd, c.fine_elsewhere_usd)
        for c in load_violation_codes().values()
    ]
    con.execute(
        "CREATE OR REPLACE TABLE codes (violation_code BIGINT, definition VARCHAR, "
        "fine_manhattan_usd BIGINT, fine_elsewhere_usd BIGINT)"
    )
    con.executemany("INSERT INTO codes VALUES (?, ?, ?, ?)", codes)
    boroughs = " ".join(f"WHEN '{county}' THEN '{b}'" for county, b in COUNTY_TO_BOROUGH.items())
    precincts = ", ".join(str(p) for p in MANHATTAN_96TH_AND_BELOW_PRECINCTS)
    con.execute(f"""
        CREATE OR REPLACE TABLE tickets AS
        WITH typed AS (
            SELECT summons_number, drone_id, latitude, longitude, violation_code,
                   registration_state, vehicle_make, vehicle_body_type, violation_county,
                   CASE upper(trim(violation_county)) {boroughs} END AS borough,
                   violation_precinct,
                   CASE WHEN violation_precinct IN ({precincts})
                        THEN 'manhattan_96th_and_below' ELSE 'elsewhere' END AS fine_zone,
                   CASE WHEN regexp_full_match(violation_time, '[0-9]{{4}}[AP]')
                         AND CAST(substr(violation_time, 1, 2) AS INTEGER) <= 12
                         AND CAST(substr(violation_time, 3, 2) AS INTEGER) <= 59
                        THEN CAST(substr(violation_time, 1, 2) AS INTEGER) % 12
                             + CASE WHEN substr(violation_time, 5, 1) = 'P' THEN 12 ELSE 0 END
                   END AS hour,
                   CASE WHEN regexp_full_match(issue_date, '[0-9]{{2}}/[0-9]{{2}}/[12][0-9]{{3}}')
                        THEN CAST(try_strptime(issue_date, '%m/%d/%Y') AS DATE) END AS issue_day,
                   CAST(nullif(regexp_extract(source_file, '(20[0-9]{{2}})', 1), '') AS INTEGER)
                       AS fiscal_year
            FROM raw_tickets
        )
        SELECT *, isodow(issue_day) AS weekday, month(issue_day) AS month,
               issue_day BETWEEN make_date(fiscal_year - 2, 7, 1)
                             AND make_date(fiscal_year + 1, 6, 30) AS issue_day_in_range
        FROM typed
    """)
    tables = {
        "tickets": "tickets",
        "drone_status": "statuses",
        "drone_violations": "violations",
        "drone_alerts": "alerts",
        "drone_alert_resolutions": "resolutions",
        "quarantine": "quarantine",
    }
    return {
        name: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
        for name, table in tables.items()
    }


def queries(top_repeated_summons: int = 100, cell_deg: float = 0.005) -> dict[str, str]:
    """One SQL query per report table (same names, columns and order as the Spark report)."""

    def count_by(*keys: str) -> str:
        cols = ", ".join(keys)
        order = ", ".join(f"{k} NULLS LAST" for k in keys)
        return f"SELECT {cols}, count(*) AS tickets FROM tickets GROUP BY {cols} ORDER BY tickets DESC, {order}"

    def ordered_by(key: str) -> str:
        return f"SELECT {key}, count(*) AS tickets FROM tickets GROUP BY {key} ORDER BY {key} NULLS LAST"

    return {
        "top_violation_codes": """
            WITH c AS (
                SELECT violation_code, count(*) AS tickets,
                       count(*) FILTER (WHERE fine_zone = 'manhattan_96th_and_below') AS manhattan
                FROM tickets GROUP BY violation_code
            )
            SELECT c.violation_code, definition, fine_manhattan_usd, fine_elsewhere_usd, tickets,
                   tickets / (SELECT greatest(count(*), 1) FROM tickets) AS share,
                   manhattan * fine_manhattan_usd + (tickets - manhattan) * fine_elsewhere_usd
                       AS estimated_fines_usd
            FROM c LEFT JOIN codes USING (violation_code)
            ORDER BY tickets DESC, violation_code NULLS LAST""",
        "violations_per_drone": """
            WITH h AS (SELECT drone_id, violation_code, count(*) AS n FROM tickets GROUP BY ALL),
                 l AS (SELECT drone_id, violation_code, count(*) AS n FROM violations GROUP BY ALL)
            SELECT coalesce(h.drone_id, l.drone_id) AS drone_id,
                   coalesce(h.violation_code, l.violation_code) AS violation_code,
                   coalesce(h.n, 0) AS tickets, coalesce(l.n, 0) AS drone_violations,
                   coalesce(h.n, 0) + coalesce(l.n, 0) AS total
            FROM h FULL OUTER JOIN l
              ON h.drone_id = l.drone_id AND h.violation_code IS NOT DISTINCT FROM l.violation_code
            ORDER BY 1, 2 NULLS LAST""",
        "tickets_by_hour": ordered_by("hour"),
        "tickets_by_weekday": ordered_by("weekday"),
        "tickets_by_month": ordered_by("month"),
        "tickets_by_hour_weekday": """
            SELECT weekday, hour, count(*) AS tickets FROM tickets
            WHERE hour IS NOT NULL AND weekday IS NOT NULL GROUP BY ALL ORDER BY 1, 2""",
        "tickets_by_borough": count_by("borough"),
        "tickets_by_precinct": count_by("violation_precinct", "borough"),
        "tickets_by_registration_state": count_by("registration_state"),
        "tickets_by_vehicle_make": count_by("vehicle_make"),
        "tickets_by_body_type": count_by("vehicle_body_type"),
        "estimated_fines": """
            SELECT fine_zone, count(*) AS tickets,
                   count(CASE WHEN fine_zone = 'manhattan_96th_and_below' THEN fine_manhattan_usd
                              ELSE fine_elsewhere_usd END) AS priced_tickets,
                   coalesce(sum(CASE WHEN fine_zone = 'manhattan_96th_and_below'
                                     THEN fine_manhattan_usd ELSE fine_elsewhere_usd END), 0)
                       AS estimated_fines_usd
            FROM tickets LEFT JOIN codes USING (violation_code) GROUP BY fine_zone ORDER BY 1""",
        "violations_by_position": f"""
            WITH p AS (
                SELECT latitude, longitude, 1 AS ticket, 0 AS live FROM tickets
                UNION ALL SELECT latitude, longitude, 0, 1 FROM violations
            ), c AS (
                SELECT floor(latitude / {cell_deg}) AS lat_cell, floor(longitude / {cell_deg}) AS lon_cell,
                       sum(ticket) AS tickets, sum(live) AS drone_violations
                FROM p GROUP BY ALL
            )
            SELECT (lat_cell + 0.5) * {cell_deg} AS latitude, (lon_cell + 0.5) * {cell_deg} AS longitude,
                   tickets, drone_violations, tickets + drone_violations AS total
            FROM c ORDER BY 1, 2""",
        "fleet": """
            WITH drones AS (
                SELECT drone_id FROM statuses UNION SELECT drone_id FROM violations
                UNION SELECT drone_id FROM alerts UNION SELECT drone_id FROM resolutions
            ), s AS (SELECT drone_id, count(*) AS n FROM statuses GROUP BY ALL),
            v AS (SELECT drone_id, count(*) AS n, count(*) FILTER (WHERE source = 'drone') AS by_drone
                  FROM violations GROUP BY ALL),
            a AS (SELECT drone_id, count(*) AS n FROM alerts GROUP BY ALL),
            r AS (SELECT drone_id, count(*) AS n FROM resolutions GROUP BY ALL),
            t AS (
                SELECT a.drone_id, count(*) AS resolved,
                       avg((epoch_us(r.emitted_at) - epoch_us(a.emitted_at)) / 1e6) AS mean_s,
                       max((epoch_us(r.emitted_at) - epoch_us(a.emitted_at)) / 1e6) AS max_s
                FROM alerts a JOIN resolutions r ON a.event_id = r.alert_id GROUP BY ALL
            ), latest AS (
                SELECT * FROM statuses
                QUALIFY row_number() OVER (PARTITION BY drone_id ORDER BY emitted_at DESC, event_id DESC) = 1
            )
            SELECT d.drone_id,
                   coalesce(s.n, 0) + coalesce(v.n, 0) + coalesce(a.n, 0) + coalesce(r.n, 0) AS messages,
                   coalesce(s.n, 0) AS status_messages, coalesce(v.n, 0) AS violations,
                   coalesce(a.n, 0) AS alerts,
                   CASE WHEN coalesce(a.n, 0) + coalesce(v.by_drone, 0) > 0
                        THEN coalesce(a.n, 0) / (coalesce(a.n, 0) + coalesce(v.by_drone, 0)) END AS alert_rate,
                   coalesce(t.resolved, 0) AS resolved_alerts,
                   coalesce(a.n, 0) - coalesce(t.resolved, 0) AS open_alerts,
                   t.mean_s AS mean_resolution_s, t.max_s AS max_resolution_s,
                   latest.battery_pct AS latest_battery_pct, latest.state AS latest_state,
                   latest.latitude AS latest_latitude, latest.longitude AS latest_longitude,
                   latest.emitted_at AS latest_status_at
            FROM drones d LEFT JOIN s USING (drone_id) LEFT JOIN v USING (drone_id)
                 LEFT JOIN a USING (drone_id) LEFT JOIN r USING (drone_id)
                 LEFT JOIN t USING (drone_id) LEFT JOIN latest USING (drone_id)
            ORDER BY 1""",
        "quarantine_by_reason": """
            SELECT kafka_topic, reason, count(*) AS records FROM quarantine GROUP BY ALL
            ORDER BY records DESC, kafka_topic, reason""",
        "repeated_summons_numbers": f"""
            SELECT summons_number, count(*) AS copies FROM tickets GROUP BY ALL HAVING count(*) > 1
            ORDER BY copies DESC, summons_number LIMIT {top_repeated_summons}""",
        "data_quality": """
            WITH q AS (
                SELECT count(*) AS tickets_stored,
                       count(*) FILTER (WHERE hour IS NULL) AS violation_time_unparseable,
                       count(*) FILTER (WHERE issue_day IS NULL) AS issue_date_unparseable,
                       count(*) FILTER (WHERE issue_day IS NOT NULL AND fiscal_year IS NULL)
                           AS issue_date_fiscal_year_unknown,
                       count(*) FILTER (WHERE NOT issue_day_in_range) AS issue_date_out_of_range,
                       count(*) FILTER (WHERE violation_code IS NULL) AS violation_code_missing,
                       count(*) FILTER (WHERE violation_code IS NOT NULL AND definition IS NULL)
                           AS violation_code_not_in_dof_table,
                       count(*) FILTER (WHERE borough IS NULL) AS county_unknown
                FROM tickets LEFT JOIN codes USING (violation_code)
            ), r AS (
                SELECT count(*) AS repeated_summons_numbers, coalesce(sum(n - 1), 0) AS extra_ticket_copies
                FROM (SELECT count(*) AS n FROM tickets GROUP BY summons_number HAVING count(*) > 1)
            )
            UNPIVOT (SELECT q.*, r.*, (SELECT count(*) FROM quarantine) AS quarantined_records
                     FROM q, r)
            ON COLUMNS(*) INTO NAME metric VALUE value""",
    }


def run(
    data_dir: Path, **options: Any
) -> tuple[dict[str, int], dict[str, tuple[list[str], list[tuple[Any, ...]]]]]:
    """Compute every table with DuckDB; returns input row counts and (columns, rows) per table."""
    con = duckdb.connect()
    try:
        counts = load(con, data_dir)
        tables = {}
        for name, sql in queries(**options).items():
            result = con.execute(sql)
            columns = [d[0] for d in result.description]
            tables[name] = (columns, result.fetchall())
        return counts, tables
    finally:
        con.close()

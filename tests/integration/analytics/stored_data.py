"""Build stored datasets exactly as stream-storage does: a Spark file-sink streaming query.

Model JSON lines are written to a staging folder, read back with ``readStream`` and the model's
Spark schema, given the storage metadata columns and the ``event_date`` partition, and written
by a CSV file sink (``_spark_metadata`` log, ``CSV_OPTIONS``, ``availableNow``): the same files
the analytics service reads in production.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from prestacop_shared.borough_points import borough_points
from prestacop_shared.datasets import DATASETS, STATUS, TICKETS
from prestacop_shared.events import (
    Alert,
    AlertReason,
    AlertResolution,
    DroneState,
    DroneStatus,
    Violation,
    ViolationSource,
)
from prestacop_shared.fleet import ARCHIVE_HOST, NYC_BOUNDS, borough_of_county, drone_id
from prestacop_shared.spark import (
    CSV_OPTIONS,
    PARTITION_COLUMN,
    QUARANTINE_SCHEMA,
    STORAGE_METADATA_FIELDS,
    spark_schema,
)
from prestacop_shared.tickets import (
    HistoricalTicket,
    TicketLayout,
    detect_layout,
    ticket_from_source_row,
)

ARCHIVE_DRONES = 6


def write_stored(
    spark: SparkSession,
    records: Iterable[dict[str, Any]],
    schema: StructType,
    out: Path,
    *,
    topic: str | None,
    date_column: str = "emitted_at",
) -> int:
    """Store JSON-able records in ``out`` with a real file-sink query; returns how many.

    Each call on the same ``out`` appends one batch (same checkpoint, as stream-storage does).

    With a ``topic``, the storage metadata columns are added (offsets counted from 0); the
    ``event_date`` partition is the UTC date of ``date_column``.
    """
    staging = out.parent / f".staging-{out.name}"
    staging.mkdir(parents=True, exist_ok=True)
    count = 0
    # A new staging file per call: a second call on the same sink appends one batch to it.
    batch_file = staging / f"part-{len(list(staging.glob('part-*.json')))}.json"
    with batch_file.open("w", encoding="utf-8") as handle:
        for record in records:
            if topic is not None:
                record = {
                    **record,
                    "kafka_topic": topic,
                    "kafka_partition": 0,
                    "kafka_offset": count,
                }
            handle.write(json.dumps(record) + "\n")
            count += 1
    fields = [f for f in schema.fields if f.name != PARTITION_COLUMN]
    if topic is not None:
        fields += STORAGE_METADATA_FIELDS
    stream = spark.readStream.schema(StructType(fields)).json(str(staging))
    stream = stream.select("*", F.to_date(F.col(date_column)).alias(PARTITION_COLUMN))
    query = (
        stream.writeStream.format("csv")
        .options(**CSV_OPTIONS)
        .partitionBy(PARTITION_COLUMN)
        .option("checkpointLocation", str(out.parent / f".checkpoint-{out.name}"))
        .trigger(availableNow=True)
        .start(str(out))
    )
    query.awaitTermination(300)
    return count


def store_models(spark: SparkSession, models: Sequence[BaseModel], out: Path, *, topic: str) -> int:
    """Store pydantic models of one type (as stream-storage would)."""
    model_type = type(models[0]) if models else None
    if model_type is None:
        raise ValueError("store_models needs at least one model")
    records = (json.loads(m.model_dump_json()) for m in models)
    return write_stored(spark, records, spark_schema(model_type), out, topic=topic)


def real_sample_tickets(nyc_data: Path) -> list[HistoricalTicket]:
    """Every row of the real NYC samples as HistoricalTickets (the reference conversion)."""
    rng = random.Random(7)
    tickets: list[HistoricalTicket] = []
    for path in sorted(nyc_data.glob("fy*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            layout = detect_layout(next(reader))
            for line, values in enumerate(reader, start=2):
                tickets.append(_ticket(layout, values, path.name, line, rng))
    return tickets


def _ticket(
    layout: TicketLayout, values: Sequence[str], source_file: str, line: int, rng: random.Random
) -> HistoricalTicket:
    # Placed as the csv-ingestor places tickets: a point inside the ticket's own borough.
    county = values[layout.fields.index("violation_county")]
    points = borough_points()
    borough = borough_of_county(county) or rng.choice(sorted(points))
    latitude, longitude = rng.choice(points[borough])
    return ticket_from_source_row(
        layout,
        values,
        drone_id=drone_id("nypd", ARCHIVE_HOST, rng.randrange(ARCHIVE_DRONES)),
        latitude=latitude,
        longitude=longitude,
        source_file=source_file,
        source_line=line,
        event_id=f"{source_file}:{line}",
        emitted_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=line),
    )


_TIMES = ["0143A", "1206P", "1200A", "0000A", "1159P", "0730A", "1520P", "", "09", "0012P"]
_DATES = ["07/10/2016", "02/29/2016", "02/30/2016", "12/31/2069", "1/5/2016", "", "01/01/2000"]
_COUNTIES = ["NY", "K", "Q", "BX", "R", "BK", "QN", "MN", "ST", "", "ZZ", " bk", "qn "]


def generated_tickets(count: int, seed: int = 11) -> list[HistoricalTicket]:
    """Random tickets in the real format, junk included (bad times and dates, repeats)."""
    rng = random.Random(seed)
    tickets = []
    for index in range(count):
        fiscal_year = rng.choice([2015, 2016, 2017, None])
        source_file = f"fy{fiscal_year}_generated.csv" if fiscal_year else "generated.csv"
        if rng.random() < 0.3:
            issue_date = rng.choice(_DATES)
        else:
            day = datetime(2014, 7, 1, tzinfo=UTC) + timedelta(days=rng.randrange(1100))
            issue_date = f"{day:%m/%d/%Y}"
        if rng.random() < 0.3:
            violation_time = rng.choice(_TIMES)
        else:
            violation_time = f"{rng.randrange(1, 13):02d}{rng.randrange(60):02d}{rng.choice('AP')}"
        values = {
            "summons_number": rng.randrange(10_000, 10_000 + count * 9 // 10),
            "plate_id": f"P{rng.randrange(10_000)}",
            "registration_state": rng.choice(["NY", "NJ", "PA", "99", "CT", None]),
            "issue_date": issue_date or None,
            "violation_code": rng.choice([21, 36, 38, 14, 20, 37, 7, 5, 0, 100, None]),
            "vehicle_body_type": rng.choice(["SUBN", "4DSD", "VAN", None]),
            "vehicle_make": rng.choice(["TOYOT", "HONDA", "FORD", "NISSA", None]),
            "violation_precinct": rng.choice([0, 1, 14, 19, 22, 23, 33, 44, 75, 109, None]),
            "violation_time": violation_time or None,
            "violation_county": rng.choice(_COUNTIES) or None,
        }
        tickets.append(
            HistoricalTicket(
                event_id=f"gen:{index}",
                drone_id=drone_id("nypd", ARCHIVE_HOST, rng.randrange(ARCHIVE_DRONES)),
                emitted_at=datetime(2026, 1, 2, tzinfo=UTC) + timedelta(seconds=index),
                latitude=rng.uniform(NYC_BOUNDS.south, NYC_BOUNDS.north),
                longitude=rng.uniform(NYC_BOUNDS.west, NYC_BOUNDS.east),
                source_file=source_file,
                source_line=index + 2,
                **values,
            )
        )
    return tickets


def generated_fleet(
    drones: int = 4, statuses_per_drone: int = 20, seed: int = 5
) -> dict[str, list[BaseModel]]:
    """Live drone messages: statuses, violations (some by operators), alerts, resolutions."""
    rng = random.Random(seed)
    start = datetime(2026, 3, 1, 8, tzinfo=UTC)
    out: dict[str, list[BaseModel]] = {
        "status": [],
        "violations": [],
        "alerts": [],
        "alert_resolutions": [],
    }
    for index in range(drones):
        drone = drone_id("nypd", "live-host", index)
        for step in range(statuses_per_drone):
            at = start + timedelta(seconds=step * 10 + index)
            lat = rng.uniform(NYC_BOUNDS.south, NYC_BOUNDS.north)
            lon = rng.uniform(NYC_BOUNDS.west, NYC_BOUNDS.east)
            out["status"].append(
                DroneStatus(
                    drone_id=drone, emitted_at=at, latitude=lat, longitude=lon,
                    battery_pct=round(100 - step * 1.5 - index, 2),
                    state=rng.choice(list(DroneState)),
                )
            )  # fmt: skip
            if rng.random() < 0.6:
                out["violations"].append(
                    Violation(
                        drone_id=drone, emitted_at=at, latitude=lat, longitude=lon,
                        violation_code=rng.choice([21, 36, 38, 14]),
                        plate_id=f"L{rng.randrange(1000)}", image_id=f"img-{drone}-{step}",
                    )
                )  # fmt: skip
            if index < drones - 1 and rng.random() < 0.25:
                alert = Alert(
                    drone_id=drone, emitted_at=at, latitude=lat, longitude=lon,
                    image_id=f"img-a-{drone}-{step}", reason=rng.choice(list(AlertReason)),
                )  # fmt: skip
                out["alerts"].append(alert)
                if rng.random() < 0.7:
                    resolved_at = at + timedelta(seconds=rng.uniform(5, 900))
                    violation = Violation(
                        drone_id=drone, emitted_at=resolved_at, latitude=lat, longitude=lon,
                        violation_code=rng.choice([21, 14]), plate_id="OP1",
                        image_id=alert.image_id, source=ViolationSource.OPERATOR,
                        alert_id=alert.event_id,
                    )  # fmt: skip
                    out["violations"].append(violation)
                    out["alert_resolutions"].append(
                        AlertResolution(
                            drone_id=drone, emitted_at=resolved_at, latitude=lat, longitude=lon,
                            alert_id=alert.event_id, violation_code=violation.violation_code,
                            operator="officer-1", alert_emitted_at=at,
                            violation_event_id=violation.event_id,
                        )
                    )  # fmt: skip
    return out


def quarantine_records(count: int = 7) -> list[dict[str, Any]]:
    """Records as stream-storage quarantines them (undecodable value, the reason)."""
    reasons = ["invalid JSON", "schema validation failed: latitude", "invalid JSON"]
    topics = ["drone.status", "nypd.tickets"]
    return [
        {
            "kafka_topic": topics[i % 2],
            "kafka_partition": 0,
            "kafka_offset": i,
            "kafka_timestamp": "2026-03-01T08:00:00.000000Z",
            "raw_value": '{"broken": ' + ("," * i),
            "reason": reasons[i % 3],
        }
        for i in range(count)
    ]


def store_everything(
    spark: SparkSession,
    data_dir: Path,
    tickets: Sequence[HistoricalTicket],
    *,
    with_fleet: bool = True,
) -> dict[str, int]:
    """Lay out a data folder as stream-storage does; returns rows stored per dataset."""
    counts = {
        "tickets": store_models(spark, tickets, TICKETS.output_dir(data_dir), topic=TICKETS.topic)
    }
    if with_fleet:
        for name, models in generated_fleet().items():
            dataset = DATASETS[name]
            counts[name] = store_models(
                spark, models, dataset.output_dir(data_dir), topic=dataset.topic
            )
        counts["quarantine"] = write_stored(
            spark, quarantine_records(), QUARANTINE_SCHEMA, STATUS.quarantine_dir(data_dir),
            topic=None, date_column="kafka_timestamp",
        )  # fmt: skip
    return counts

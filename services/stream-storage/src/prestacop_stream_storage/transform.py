"""Kafka records → parsed rows with a verdict: stored if ``reason`` is null, else quarantined.

The valid rows and the quarantined ones are two filters of the same :func:`parse` output, so
every record lands in exactly one of the two, by construction.
"""

from __future__ import annotations

from typing import Final

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from prestacop_shared.spark import PARTITION_COLUMN, issue_day, spark_schema
from prestacop_stream_storage.datasets import QUARANTINE_COLUMNS, Dataset
from prestacop_stream_storage.rules import FieldRule, model_rules

CORRUPT_COLUMN: Final = "_corrupt_record"
PARSED_COLUMN: Final = "_parsed"
VERDICT_COLUMN: Final = "_rejected_because"
"""Why a parsed row is unfit to store (null when fit); named apart from any model field."""

JSON_OPTIONS: Final[dict[str, str]] = {
    "mode": "PERMISSIVE",
    "columnNameOfCorruptRecord": CORRUPT_COLUMN,
    # What pydantic writes ("...T12:00:00.123456Z", no fraction when it is zero); a timestamp
    # without a zone fails it, as pydantic's AwareDatetime does.
    "timestampFormat": "yyyy-MM-dd'T'HH:mm:ss[.SSSSSS]XXX",
}
"""``from_json`` options: keep malformed records (flagged in ``_corrupt_record``), never fail."""

NOT_PARSED_REASON: Final = "invalid JSON, not a JSON object, or a field of the wrong type"
EMPTY_REASON: Final = "empty message value"


def _rule_failures(rule: FieldRule, value: Column) -> list[Column]:
    """One ``when(failed, message)`` column per constraint of ``rule`` (null when it holds)."""
    name = rule.field
    failures = []
    if rule.required:
        failures.append(F.when(value.isNull(), F.lit(f"{name}: missing")))
    if rule.finite:
        infinite = value.isin(float("inf"), float("-inf"))
        failures.append(F.when(F.isnan(value) | infinite, F.lit(f"{name}: not a finite number")))
    if rule.lower is not None:
        op, fails = (
            (">=", value < rule.lower) if rule.lower_inclusive else (">", value <= rule.lower)
        )
        failures.append(F.when(fails, F.lit(f"{name}: must be {op} {rule.lower}")))
    if rule.upper is not None:
        op, fails = (
            ("<=", value > rule.upper) if rule.upper_inclusive else ("<", value >= rule.upper)
        )
        failures.append(F.when(fails, F.lit(f"{name}: must be {op} {rule.upper}")))
    if rule.min_length is not None:
        failures.append(
            F.when(
                F.length(value) < rule.min_length,
                F.lit(f"{name}: shorter than {rule.min_length} characters"),
            )
        )
    if rule.max_length is not None:
        failures.append(
            F.when(
                F.length(value) > rule.max_length,
                F.lit(f"{name}: longer than {rule.max_length} characters"),
            )
        )
    if rule.allowed is not None:
        shown = ", ".join(str(v) for v in rule.allowed)
        failures.append(
            F.when(~value.isin(*rule.allowed), F.lit(f"{name}: must be one of {shown}"))
        )
    return failures


def parse(kafka_records: DataFrame, dataset: Dataset) -> DataFrame:
    """Parse Kafka records of ``dataset``'s topic and judge each one.

    Returns:
        The Kafka columns (``kafka_topic``, ``kafka_partition``, ``kafka_offset``,
        ``kafka_timestamp``, ``raw_value``), one column per model field (defaults applied),
        ``event_date`` and ``_rejected_because``: null for a row fit to store, else every
        problem found, joined by ``; ``.
    """
    schema = StructType(
        [*spark_schema(dataset.model).fields, StructField(CORRUPT_COLUMN, StringType(), True)]
    )
    raw = F.col("value").cast("string")
    with_json = kafka_records.select(
        F.col("topic").alias("kafka_topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
        raw.alias("raw_value"),
        # Exploding a one-element array is a barrier for the optimizer: without it the verdict
        # filter is pushed below this projection and from_json runs once per field it checks.
        F.explode(F.array(F.from_json(raw, schema, JSON_OPTIONS))).alias(PARSED_COLUMN),
    )
    rules = model_rules(dataset.model)
    fields = {
        rule.field: (
            F.coalesce(F.col(f"{PARSED_COLUMN}.{rule.field}"), F.lit(rule.default))
            if rule.default is not None
            else F.col(f"{PARSED_COLUMN}.{rule.field}")
        )
        for rule in rules
    }
    field_problems = F.concat_ws(
        "; ", *[failure for rule in rules for failure in _rule_failures(rule, fields[rule.field])]
    )
    reason = (
        F.when(F.col("raw_value").isNull() | (F.col("raw_value") == ""), F.lit(EMPTY_REASON))
        .when(
            F.col(PARSED_COLUMN).isNull() | F.col(f"{PARSED_COLUMN}.{CORRUPT_COLUMN}").isNotNull(),
            F.lit(NOT_PARSED_REASON),
        )
        .when(field_problems != "", field_problems)
    )
    parsed = with_json.select(
        "kafka_topic",
        "kafka_partition",
        "kafka_offset",
        "kafka_timestamp",
        "raw_value",
        *[column.alias(name) for name, column in fields.items()],
        reason.alias(VERDICT_COLUMN),
    )
    return parsed.withColumn(PARTITION_COLUMN, event_date(dataset))


def event_date(dataset: Dataset) -> Column:
    """The partition date of a parsed row.

    Follows the dataset's :class:`~prestacop_shared.datasets.PartitionRule`. Drone events: the
    UTC date of ``emitted_at``. Tickets: the issue date (:func:`prestacop_shared.spark.issue_day`),
    falling back to the UTC date of ``emitted_at`` when the issue date is missing or not a
    calendar date (e.g. ``13/45/2016``), so every ticket gets a partition.
    """
    emitted_on = F.to_date(F.col("emitted_at"))
    if not dataset.dated_by_issue_date:
        return emitted_on
    return F.coalesce(issue_day(F.col("issue_date")), emitted_on)


def stored_rows(parsed: DataFrame, dataset: Dataset) -> DataFrame:
    """The rows fit to store, with exactly the columns of ``stored_schema(dataset.model)``."""
    return parsed.where(F.col(VERDICT_COLUMN).isNull()).select(*dataset.stored_columns)


def quarantined_rows(parsed: DataFrame) -> DataFrame:
    """The rows unfit to store, with the quarantine columns; ``event_date`` is the Kafka date."""
    quarantined = parsed.where(F.col(VERDICT_COLUMN).isNotNull()).select(
        "kafka_topic",
        "kafka_partition",
        "kafka_offset",
        "kafka_timestamp",
        "raw_value",
        F.col(VERDICT_COLUMN).alias("reason"),
        F.to_date(F.col("kafka_timestamp")).alias(PARTITION_COLUMN),
    )
    return quarantined.select(*QUARANTINE_COLUMNS)

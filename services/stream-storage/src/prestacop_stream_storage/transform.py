"""Kafka records → rows with a verdict: stored if ``reason`` is null, else quarantined.

Drone datasets (JSON values) are parsed field by field (:func:`parse`); tickets (``T1`` CSV
lines, see ``prestacop_shared.ticket_lines``) are only checked for their structure and stored
as the text they arrive in (:func:`check_ticket_lines`). Either way the valid rows and the
quarantined ones are two filters of the same verdict, so every record lands in exactly one of
the two, by construction.
"""

from __future__ import annotations

from typing import Final

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from prestacop_shared.spark import PARTITION_COLUMN, spark_schema
from prestacop_shared.tickets import HistoricalTicket
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


def _kafka_columns() -> list[Column]:
    """Where a record came from (``kafka_topic/partition/offset/timestamp``) and its value as
    text (``raw_value``), the first columns of both the JSON and the T1 paths."""
    return [
        F.col("topic").alias("kafka_topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
        F.col("value").cast("string").alias("raw_value"),
    ]


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
        *_kafka_columns(),
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
    return parsed.withColumn(PARTITION_COLUMN, event_date())


def event_date() -> Column:
    """The partition date of a parsed (JSON) row: the UTC date of ``emitted_at``.

    :attr:`~prestacop_shared.datasets.PartitionRule.EMITTED_DATE`, the rule of every JSON
    dataset (a unit test holds the catalogue to it); tickets arrive as T1 lines and are filed
    by :func:`check_ticket_lines`.
    """
    return F.to_date(F.col("emitted_at"))


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


TICKET_LINE_COLUMN: Final = "value"
"""The one data column of Spark's text sink: the stored line without its line end."""

# The T1 layout is defined by prestacop_shared.ticket_lines, which needs polars (the
# ingestor's dependency, not in the Spark image); these two facts of it are restated here and
# a unit test (tests/unit/stream_storage/test_ticket_checks.py) proves they agree.
_T1_PREFIX: Final = "T1,"
_T1_DATE_END: Final = len("T1,YYYY-MM-DD,")
"""The ticket fields start right after the fixed-width prefix (character 15, 1-based)."""

_CSV_FIELD: Final = r'(?:"(?:[^"]++|"")*+"|[^",\r\n]*+)'
"""One CSV field of a T1 line: quoted (inner quotes doubled, may hold , CR LF) or bare.

The two branches start with different characters and use possessive quantifiers, so the
regex never backtracks: one pass over the line."""

TICKET_FIELD_COUNT: Final = len(HistoricalTicket.model_fields)
"""Fields of a T1 line after its prefix: every ``HistoricalTicket`` field."""

_T1_LINE: Final = (
    r"\AT1,[0-9]{4}-[0-9]{2}-[0-9]{2},"
    + _CSV_FIELD
    + "(?:,"
    + _CSV_FIELD
    + "){"
    + str(TICKET_FIELD_COUNT - 1)
    + r"}\z"
)
"""A whole well-formed T1 value: prefix, date shape, exactly the ticket's field count."""

_T1_PREFIX_SHAPE: Final = r"\AT1,[0-9]{4}-[0-9]{2}-[0-9]{2},\z"
"""The fixed-width prefix alone (matched on its 14 characters, cheap)."""

UNKNOWN_PREFIX_REASON: Final = "unknown encoding prefix (expected T1): "
BAD_DATE_REASON: Final = "event_date: not a YYYY-MM-DD calendar date after the T1 prefix"
BAD_FIELDS_REASON: Final = (
    f"ticket fields: not {TICKET_FIELD_COUNT} CSV fields (or a quote out of place)"
)


def check_ticket_lines(kafka_records: DataFrame) -> DataFrame:
    """Judge ``T1`` ticket values by their structure only, without parsing a field.

    The checks, in the order a reason is given: a non-empty value; the ``T1,`` prefix (a
    later ``T2,...`` is quarantined with its prefix named); a ``YYYY-MM-DD`` that is a real
    calendar day; then that the rest is exactly :data:`TICKET_FIELD_COUNT` CSV fields. A value
    without quote, CR or LF (nearly all of them) only has its commas counted; the rest take one
    regex pass (quotes balanced, no bare CR/LF). Measured on 1M real-row values, 2 cores:
    counting commas first takes 3.4-3.7 s, the regex on every value 4.4-5.9 s, no check 0.2 s.
    Field values are the producer's business (the csv-ingestor validates every row against
    ``HistoricalTicket`` before sending it); the count is what keeps a stored line aligned with
    the header, so that is what storage checks.

    Returns:
        The Kafka columns and ``raw_value`` (as :func:`parse`), ``value`` (the line to store:
        the ticket fields then ``,<kafka_topic>,<kafka_partition>,<kafka_offset>``),
        ``event_date`` (the first day of the month of the value's date, typed date:
        :attr:`~prestacop_shared.datasets.PartitionRule.ISSUE_MONTH`) and
        ``_rejected_because``.
    """
    records = kafka_records.select(*_kafka_columns())
    value = F.col("raw_value")
    day = F.try_to_date(F.substring(value, len(_T1_PREFIX) + 1, 10), "yyyy-MM-dd")
    plain = ~value.contains('"') & ~value.contains("\n") & ~value.contains("\r")
    commas = F.length(value) - F.length(F.replace(value, F.lit(","), F.lit("")))
    fields_fit = F.when(plain, commas == TICKET_FIELD_COUNT + 1).otherwise(value.rlike(_T1_LINE))
    prefix_fits = F.substring(value, 1, _T1_DATE_END).rlike(_T1_PREFIX_SHAPE)
    well_formed = prefix_fits & day.isNotNull() & fields_fit
    reason = (
        F.when(well_formed, F.lit(None).cast("string"))
        .when(value.isNull() | (value == ""), F.lit(EMPTY_REASON))
        .when(
            ~value.startswith(_T1_PREFIX),
            F.concat(
                F.lit(UNKNOWN_PREFIX_REASON), F.substring_index(F.substring(value, 1, 16), ",", 1)
            ),
        )
        .when(day.isNull() | (F.substring(value, _T1_DATE_END, 1) != ","), F.lit(BAD_DATE_REASON))
        .otherwise(F.lit(BAD_FIELDS_REASON))
    )
    line = F.concat_ws(
        ",",
        F.substring(value, _T1_DATE_END + 1, 1 << 30),
        F.col("kafka_topic"),
        F.col("kafka_partition").cast("string"),
        F.col("kafka_offset").cast("string"),
    )
    return records.select(
        "*",
        line.alias(TICKET_LINE_COLUMN),
        # PartitionRule.ISSUE_MONTH: the month of the value's date (its first day).
        F.trunc(day, "month").alias(PARTITION_COLUMN),
        reason.alias(VERDICT_COLUMN),
    )


def stored_ticket_lines(checked: DataFrame) -> DataFrame:
    """The lines fit to store, as Spark's text sink wants them: ``value`` and ``event_date``."""
    return checked.where(F.col(VERDICT_COLUMN).isNull()).select(
        TICKET_LINE_COLUMN, PARTITION_COLUMN
    )

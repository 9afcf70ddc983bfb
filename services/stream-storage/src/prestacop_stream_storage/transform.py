"""Kafka records → rows with a verdict: stored if ``reason`` is null, else quarantined.

Drone datasets (JSON values) are parsed field by field (:func:`parse`); tickets (``T1`` CSV
lines, see ``prestacop_shared.ticket_lines``) are only checked for their structure and stored
as the text they arrive in (:func:`check_ticket_lines`). Either way the valid rows and the
quarantined ones are two filters of the same verdict, so every record lands in exactly one of
the two, by construction.
"""

from __future__ import annotations

from typing import Final

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import BinaryType, BooleanType, StringType, StructField, StructType

from prestacop_shared.spark import PARTITION_COLUMN, spark_schema
from prestacop_shared.tickets import HistoricalTicket
from prestacop_stream_storage.datasets import QUARANTINE_COLUMNS, Dataset
from prestacop_stream_storage.exceptions import FunctionsJarMissingError
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
# ingestor's dependency, not in the Spark image); these facts of it are restated here and in
# the Java function (where the ticket fields start), and a unit test
# (tests/unit/stream_storage/test_ticket_checks.py) proves they agree.
_T1_PREFIX: Final = "T1,"

TICKET_FIELD_COUNT: Final = len(HistoricalTicket.model_fields)
"""Fields of a T1 line after its prefix: every ``HistoricalTicket`` field."""

STORED_LINE_FUNCTION: Final = "prestacop_t1_stored_line"
STORED_LINE_CLASS: Final = "io.prestacop.storage.T1StoredLine"
"""stream-storage's Java function (``services/stream-storage/java``): the stored line of a
well-formed T1 value, or null, in one pass over the value's bytes. Its jar is handed to Spark
with the Kafka connector's (``SPARK_KAFKA_JARS_DIR``; ``make setup`` builds it)."""
DAY_FITS_FUNCTION: Final = "prestacop_t1_day_fits"
DAY_FITS_CLASS: Final = "io.prestacop.storage.T1StoredLine$DayFits"
"""The same class's date rule alone, asked only of rejected values to give the right reason."""

UNKNOWN_PREFIX_REASON: Final = "unknown encoding prefix (expected T1): "
BAD_DATE_REASON: Final = "event_date: not a YYYY-MM-DD calendar date after the T1 prefix"
BAD_FIELDS_REASON: Final = (
    f"ticket fields: not {TICKET_FIELD_COUNT} CSV fields (or a quote out of place)"
)

_CHECKED: Final = "_checked"
_VALUE_BYTES: Final = "_value_bytes"


def register_functions(spark: SparkSession) -> None:
    """Register stream-storage's Java function in ``spark`` (idempotent).

    Raises:
        FunctionsJarMissingError: its class is not on Spark's classpath.
    """
    try:
        spark.udf.registerJavaFunction(STORED_LINE_FUNCTION, STORED_LINE_CLASS, BinaryType())
        spark.udf.registerJavaFunction(DAY_FITS_FUNCTION, DAY_FITS_CLASS, BooleanType())
    except Exception as error:  # py4j wraps the JVM's ClassNotFoundException in its own errors
        if "ClassNotFoundException" not in str(error) and "Can not load class" not in str(error):
            raise
        raise FunctionsJarMissingError(
            f"Spark cannot load {STORED_LINE_CLASS}: the folder SPARK_KAFKA_JARS_DIR names (or "
            "the devkit's jar cache) lacks the prestacop-spark-functions jar; run `make setup` "
            "(prestacop-devkit fetch-jars builds it) or use the stream-storage image"
        ) from error


def check_ticket_lines(kafka_records: DataFrame) -> DataFrame:
    """Judge ``T1`` ticket values by their structure only, without parsing a field.

    The checks, in the order a reason is given: a non-empty value; the ``T1,`` prefix (a
    later ``T2,...`` is quarantined with its prefix named); a ``YYYY-MM-DD`` that is a real
    calendar day (strictly: 2016-02-30 is rejected, not read as February's last day); then that
    the rest is exactly :data:`TICKET_FIELD_COUNT` CSV fields (bare, or quoted with inner quotes
    doubled; no bare CR/LF). The checks and the stored line come from one pass of
    :data:`STORED_LINE_CLASS` over the value's bytes; Spark's ``try_to_date`` gives the month.
    Measured on 1M real-row values on 2 cores: 3.9 s with it, 9.3 s with the Spark expressions
    it replaced (comma count, regex, ``concat_ws``), 3.3 s to copy the values as they are.
    Field values are the producer's business (the csv-ingestor validates every row against
    ``HistoricalTicket`` before sending it); the count is what keeps a stored line aligned with
    the header, so that is what storage checks.

    Raises:
        FunctionsJarMissingError: the Java function's jar is not on Spark's classpath.

    Returns:
        The Kafka columns and ``raw_value`` (as :func:`parse`), ``value`` (the line to store:
        the ticket fields then ``,<kafka_topic>,<kafka_partition>,<kafka_offset>``; null for a
        rejected record), ``event_date`` (the first day of the month of the value's date, typed
        date: :attr:`~prestacop_shared.datasets.PartitionRule.ISSUE_MONTH`) and
        ``_rejected_because``.
    """
    register_functions(kafka_records.sparkSession)
    records = kafka_records.select(*_kafka_columns(), F.col("value").alias(_VALUE_BYTES))
    value = F.col("raw_value")
    day = F.try_to_date(F.substring(value, len(_T1_PREFIX) + 1, 10), "yyyy-MM-dd")
    line = F.call_function(
        STORED_LINE_FUNCTION,
        F.col(_VALUE_BYTES),
        F.col("kafka_topic"),
        F.col("kafka_partition"),
        F.col("kafka_offset"),
        F.lit(TICKET_FIELD_COUNT),
    )
    # Exploding a one-element array is a barrier for the optimizer: without it the verdict
    # filters are pushed below this projection and the function runs once per use.
    checked = records.select(
        "kafka_topic",
        "kafka_partition",
        "kafka_offset",
        "kafka_timestamp",
        "raw_value",
        _VALUE_BYTES,
        F.explode(
            F.array(
                F.struct(
                    line.cast("string").alias(TICKET_LINE_COLUMN),
                    F.trunc(day, "month").alias(PARTITION_COLUMN),
                )
            )
        ).alias(_CHECKED),
    )
    stored_line = F.col(f"{_CHECKED}.{TICKET_LINE_COLUMN}")
    month = F.col(f"{_CHECKED}.{PARTITION_COLUMN}")
    reason = (
        F.when(stored_line.isNotNull(), F.lit(None).cast("string"))
        .when(value.isNull() | (value == ""), F.lit(EMPTY_REASON))
        .when(
            ~value.startswith(_T1_PREFIX),
            F.concat(
                F.lit(UNKNOWN_PREFIX_REASON), F.substring_index(F.substring(value, 1, 16), ",", 1)
            ),
        )
        .when(~F.call_function(DAY_FITS_FUNCTION, F.col(_VALUE_BYTES)), F.lit(BAD_DATE_REASON))
        .otherwise(F.lit(BAD_FIELDS_REASON))
    )
    return checked.select(
        "kafka_topic",
        "kafka_partition",
        "kafka_offset",
        "kafka_timestamp",
        "raw_value",
        stored_line.alias(TICKET_LINE_COLUMN),
        # PartitionRule.ISSUE_MONTH: the month of the value's date (its first day).
        month.alias(PARTITION_COLUMN),
        reason.alias(VERDICT_COLUMN),
    )


def stored_ticket_lines(checked: DataFrame) -> DataFrame:
    """The lines fit to store, as Spark's text sink wants them: ``value`` and ``event_date``."""
    return checked.where(F.col(VERDICT_COLUMN).isNull()).select(
        TICKET_LINE_COLUMN, PARTITION_COLUMN
    )

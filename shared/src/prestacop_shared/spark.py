"""Spark views of the shared models (needs the ``spark`` extra: ``prestacop-shared[spark]``).

The Spark ``StructType`` of an event is derived from its pydantic model, never written by hand.
Stored datasets (stream-storage's CSV output) are read back through Spark's file-sink log,
never by globbing part files, which could pick up files of failed batches.
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import AwareDatetime, BaseModel, Field, NaiveDatetime
from pydantic_settings import BaseSettings, SettingsConfigDict
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.functions import col, lit
from pyspark.sql.types import (
    BooleanType,
    DataType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from prestacop_shared.datasets import HEADER_FILE, files_carry_header
from prestacop_shared.exceptions import PrestacopError
from prestacop_shared.tickets import ISSUE_DATE_PATTERN

STORAGE_METADATA_FIELDS = (
    StructField("kafka_topic", StringType(), False),
    StructField("kafka_partition", IntegerType(), False),
    StructField("kafka_offset", LongType(), False),
)
"""Columns stream-storage adds to every stored row: where in Kafka it came from."""

PARTITION_COLUMN = "event_date"
"""Stored datasets are partitioned by this UTC date (of ``emitted_at``, or a ticket's issue date)."""


class SchemaDerivationError(PrestacopError):
    """A model field whose type has no Spark equivalent."""


_SCALARS: dict[type, DataType] = {
    bool: BooleanType(),
    int: LongType(),
    float: DoubleType(),
    str: StringType(),
    datetime: TimestampType(),
    date: DateType(),
}


def _spark_type(annotation: Any, where: str) -> tuple[DataType, bool]:
    """Return (Spark type, nullable) for one annotation."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) != 1:
            raise SchemaDerivationError(f"{where}: unions of several types are not supported")
        data_type, _ = _spark_type(members[0], where)
        return data_type, True
    if origin is Literal:
        values = get_args(annotation)
        return _spark_type(type(values[0]), where)
    if origin is not None and get_args(annotation):  # Annotated[...] and friends
        return _spark_type(get_args(annotation)[0], where)
    if annotation in (AwareDatetime, NaiveDatetime):
        return TimestampType(), False
    if isinstance(annotation, type):
        if issubclass(annotation, Enum):
            return StringType(), False
        if issubclass(annotation, BaseModel):
            return spark_schema(annotation), False
        for python_type, data_type in _SCALARS.items():
            if issubclass(annotation, python_type) and not (
                python_type is int and issubclass(annotation, bool)
            ):
                return data_type, False
    raise SchemaDerivationError(f"{where}: no Spark type for {annotation!r}")


def spark_schema(model: type[BaseModel]) -> StructType:
    """Derive the Spark schema of a model's JSON form, field by field, in declaration order.

    ``int`` becomes ``LongType``, ``float`` ``DoubleType``, enums and literals their value type,
    datetimes ``TimestampType``; ``X | None`` is nullable.

    Example:
        >>> from prestacop_shared.events import Alert
        >>> spark_schema(Alert)["latitude"].dataType
        DoubleType()
    """
    fields = []
    for name, info in model.model_fields.items():
        data_type, nullable = _spark_type(info.annotation, f"{model.__name__}.{name}")
        fields.append(StructField(name, data_type, nullable or not info.is_required()))
    return StructType(fields)


def stored_schema(model: type[BaseModel]) -> StructType:
    """Schema of a stored dataset: the model's fields, where it came from, and the partition."""
    schema = StructType(list(spark_schema(model).fields) + list(STORAGE_METADATA_FIELDS))
    return schema.add(StructField(PARTITION_COLUMN, DateType(), True))


def issue_day(issue_date: Column) -> Column:
    """The date of a ticket's ``issue_date`` text, null when it is not a real calendar date.

    The one rule for issue dates: ``MM/DD/YYYY`` with a year from 1000 to 2999 that names a
    real day (``02/30/2016``, ``13/45/2016``, ``0/1/2016`` and empty give null).
    stream-storage partitions tickets by it and analytics counts by it.
    """
    return F.when(issue_date.rlike(ISSUE_DATE_PATTERN), F.try_to_date(issue_date, "MM/dd/yyyy"))


CSV_OPTIONS: dict[str, str] = {
    "header": "true",
    "timestampFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
    "dateFormat": "yyyy-MM-dd",
    "escape": '"',
    "multiLine": "true",
    "mode": "FAILFAST",
    "ignoreLeadingWhiteSpace": "false",
    "ignoreTrailingWhiteSpace": "false",
}
"""CSV options used both to write and to read stored datasets, so the two always agree.

Spark's CSV writer trims whitespace around values unless told not to (its reader does not), so
both ``ignore*WhiteSpace`` flags are spelled out: a value is stored exactly as it was sent.
A null is written as an unquoted empty field and an empty string as ``""`` (the usual CSV
convention, which DuckDB and PostgreSQL read the same way); Spark's reader needs
:data:`CSV_READ_OPTIONS` to tell the two apart.
"""

CSV_READ_OPTIONS: dict[str, str] = CSV_OPTIONS | {"nullValue": "\u0000<null>\u0000"}
"""CSV options to read stored datasets with Spark: :data:`CSV_OPTIONS` plus a null marker.

Spark's reader turns every field equal to ``nullValue`` into null, and with the default
``nullValue`` (empty) that includes ``""``, so empty strings would come back as nulls. The
parser reports an unquoted empty field as the ``nullValue`` marker, so a marker that never
occurs in real text keeps nulls null and ``""`` an empty string.
"""

QUARANTINE_SCHEMA = StructType(
    [
        StructField("kafka_topic", StringType(), False),
        StructField("kafka_partition", IntegerType(), False),
        StructField("kafka_offset", LongType(), False),
        StructField("kafka_timestamp", TimestampType(), True),
        StructField("raw_value", StringType(), True),
        StructField("reason", StringType(), False),
        StructField(PARTITION_COLUMN, DateType(), True),
    ]
)
"""Schema of stream-storage's quarantine: messages that did not fit their topic's model.

``raw_value`` is the message value decoded as UTF-8 (invalid bytes become U+FFFD), ``null`` for
a message without value; ``event_date`` is the UTC date of ``kafka_timestamp``.
"""


def read_dataset(
    spark: SparkSession,
    path: str | Path,
    model: type[BaseModel],
    *,
    files: Sequence[Path] | None = None,
) -> DataFrame:
    """Load a dataset stored by stream-storage, honouring its ``_spark_metadata`` log.

    Spark uses the file-sink log when it reads the sink's root directory, so only files of
    committed batches are seen. A folder without that log is refused rather than globbed.
    Both file layouts of :class:`prestacop_shared.datasets.FileLayout` are read: files with
    their own header line, or headerless files whose header is ``_header.csv`` beside them
    (then checked against the model's stored columns, so a layout change is not misread).
    With ``files`` (committed files of this sink, from
    :func:`prestacop_shared.sink_log.committed_files`), only those are read, their partition
    column still taken from their paths under ``path``: incremental readers use it to read
    what was committed since their last run.

    Raises:
        PrestacopError: ``path`` is not a stream-storage output folder, or its
            ``_header.csv`` does not name the model's stored columns.
    """
    layout = stored_layout(path, model)
    return _read_sink(spark, Path(path), layout.schema, files, header=layout.header)


@dataclass(frozen=True)
class StoredLayout:
    """How a stored dataset's files are written (checked by :func:`stored_layout`)."""

    schema: StructType
    """The stored schema (:func:`stored_schema`); the files hold :func:`file_schema` of it."""
    header: bool
    """Whether each file starts with a header line (else ``_header.csv`` names the columns)."""


def stored_layout(path: str | Path, model: type[BaseModel]) -> StoredLayout:
    """The layout of the dataset stored at ``path`` (every reader of stored files checks it).

    Raises:
        PrestacopError: ``path`` has no ``_spark_metadata`` log (not a stream-storage output
            folder), or its ``_header.csv`` does not name the model's stored columns.
    """
    root = Path(path)
    if not (root / "_spark_metadata").is_dir():
        raise PrestacopError(
            f"{root} has no _spark_metadata log: not a stream-storage output folder "
            "(refusing to glob part files)"
        )
    schema = stored_schema(model)
    header = files_carry_header(root)
    if not header:
        _check_header_file(root / HEADER_FILE, schema)
    return StoredLayout(schema, header)


def file_schema(schema: StructType) -> StructType:
    """The columns a stored dataset's files hold, in order: all but the partition column, which
    the sink writes into the paths."""
    return StructType([field for field in schema.fields if field.name != PARTITION_COLUMN])


def header_line(schema: StructType) -> str:
    """The header of a stored dataset's files: :func:`file_schema`'s columns, comma-separated."""
    return ",".join(file_schema(schema).fieldNames())


def _check_header_file(header_file: Path, schema: StructType) -> None:
    found = header_file.read_text(encoding="utf-8").rstrip("\r\n")
    if found != header_line(schema):
        raise PrestacopError(
            f"{header_file} names other columns than the model stores: {found!r} "
            f"(expected {header_line(schema)!r})"
        )


def _read_sink(
    spark: SparkSession,
    root: Path,
    schema: StructType,
    files: Sequence[Path] | None = None,
    *,
    header: bool = True,
) -> DataFrame:
    """Read one file-sink folder (or the given files of it) as ``schema``.

    ``header`` says whether each file starts with a header line; without one, the columns are
    taken by position.

    The files do not hold the partition column: handing Spark a schema that includes it makes
    the sink-log reader expect it in every line, so it is left out of the read schema, then
    restored from the paths (typed, and null for an empty sink that has no partition folder yet).
    """
    data_schema = file_schema(schema)
    reader = (
        spark.read.format("csv")
        .options(**CSV_READ_OPTIONS)
        .option("header", str(header).lower())
        .schema(data_schema)
    )
    if files is None:
        frame = reader.load(str(root))
    elif files:
        frame = reader.option("basePath", str(root)).load([str(f) for f in files])
    else:
        frame = spark.createDataFrame([], data_schema)
    columns = []
    for field in schema.fields:
        if field.name != PARTITION_COLUMN:
            columns.append(col(field.name))
        elif field.name in frame.columns:
            columns.append(col(field.name).cast(field.dataType).alias(field.name))
        else:
            columns.append(lit(None).cast(field.dataType).alias(field.name))
    return frame.select(*columns)


def read_quarantine(
    spark: SparkSession, path: str | Path, *, files: Sequence[Path] | None = None
) -> DataFrame:
    """Load stream-storage's quarantine (schema :data:`QUARANTINE_SCHEMA`), committed files only.

    ``path`` is either one quarantine sink (a folder with its own ``_spark_metadata``) or the
    quarantine root, whose sub-folders are one sink per stored dataset; those are read each
    through its own log and unioned. With ``files`` (committed files of the one sink ``path``,
    from :func:`prestacop_shared.sink_log.committed_files`), only those are read.

    Raises:
        PrestacopError: neither ``path`` nor any of its sub-folders is a sink output folder, or
            ``files`` given for the quarantine root.
    """
    root = Path(path)
    single = (root / "_spark_metadata").is_dir()
    if files is not None and not single:
        raise PrestacopError(f"{root}: files= reads one quarantine sink, not the quarantine root")
    sinks = (
        [root]
        if single
        else sorted(child for child in root.glob("*") if (child / "_spark_metadata").is_dir())
    )
    if not sinks:
        raise PrestacopError(
            f"{root} holds no quarantine sink (no _spark_metadata log in it or its sub-folders)"
        )
    frames = [
        _read_sink(spark, sink, QUARANTINE_SCHEMA, files, header=files_carry_header(sink))
        for sink in sinks
    ]
    combined = frames[0]
    for frame in frames[1:]:
        combined = combined.unionByName(frame)
    return combined


class SparkSettings(BaseSettings):
    """How Spark services start their session (environment prefix ``SPARK_``)."""

    model_config = SettingsConfigDict(env_prefix="SPARK_", extra="ignore", frozen=True)

    master_url: str = Field(
        default="local[*]", description="local[*] or spark://host:7077 (SPARK_MASTER_URL)"
    )
    kafka_jars_dir: Path | None = Field(
        default=None,
        description="Folder of the jars handed to Spark: the Kafka connector's, and "
        "stream-storage's function jar built beside them (SPARK_KAFKA_JARS_DIR); default: the "
        "devkit cache $PRESTACOP_CACHE_DIR/jars or .cache/jars/spark-kafka-<version> found "
        "from the working directory upwards, then from this package's repository upwards",
    )
    driver_memory: str = "1g"
    shuffle_partitions: int = Field(default=4, ge=1)
    log_level: str = "WARN"

    def connector_jars(self) -> list[Path]:
        """The connector jars to hand to ``spark.jars`` (fetched by setup, never at run time).

        Raises:
            PrestacopError: no jar folder found; the message says how to fetch them.
        """
        folder = self.kafka_jars_dir or _find_connector_dir()
        jars = sorted(folder.glob("*.jar")) if folder and folder.is_dir() else []
        if not jars:
            raise PrestacopError(
                "Spark's Kafka connector jars were not found: set SPARK_KAFKA_JARS_DIR to the "
                "folder that holds them, or run `make setup` (prestacop-devkit fetch-jars)"
            )
        return jars


def _find_connector_dir() -> Path | None:
    """The devkit's connector jar folder, preferring the one made for this pyspark version.

    The devkit caches them as ``.cache/jars/spark-kafka-<spark version>/``; candidates are
    looked for under ``$PRESTACOP_CACHE_DIR/jars`` when set, then from the working directory
    upwards, then from this file upwards (the repository of an editable install).
    """
    from pyspark import __version__ as spark_version

    bases = [folder / ".cache" / "jars" for folder in (Path.cwd(), *Path.cwd().parents)]
    bases += [folder / ".cache" / "jars" for folder in Path(__file__).resolve().parents]
    configured = os.environ.get("PRESTACOP_CACHE_DIR")
    if configured:
        bases.insert(0, Path(configured).expanduser() / "jars")
    for base in bases:
        exact = base / f"spark-kafka-{spark_version}"
        if exact.is_dir():
            return exact
    for base in bases:
        others = sorted(p for p in base.glob("spark-kafka*") if p.is_dir()) if base.is_dir() else []
        if others:
            return others[-1]
    return None


def build_spark_session(
    app_name: str, settings: SparkSettings, *, extra_config: dict[str, str] | None = None
) -> SparkSession:
    """Start (or reuse) a Spark session wired for Prestacop.

    Sets ``PYSPARK_PYTHON`` to this interpreter unless already set (workers otherwise fail to
    connect back), hands the pre-fetched connector jars over with ``spark.jars``, and works in UTC.
    """
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.appName(app_name)
        .master(settings.master_url)
        .config("spark.jars", ",".join(str(jar) for jar in settings.connector_jars()))
        .config("spark.driver.memory", settings.driver_memory)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(settings.shuffle_partitions))
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.ansi.enabled", "false")
    )
    for key, value in (extra_config or {}).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel(settings.log_level)
    return session

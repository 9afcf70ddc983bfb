"""Generated artefacts stay current: JSON Schemas, Spark schemas, doctests."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest
from pyspark.sql.types import DoubleType, LongType, StringType, TimestampType

from prestacop_shared.events import Alert, DroneStatus
from prestacop_shared.schemas import WIRE_MODELS, render_json_schema
from prestacop_shared.spark import (
    PARTITION_COLUMN,
    SchemaDerivationError,
    spark_schema,
    stored_schema,
)
from prestacop_shared.tickets import HistoricalTicket

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", sorted(WIRE_MODELS))
def test_committed_json_schema_is_current(repo_root: Path, name: str) -> None:
    committed = repo_root / "shared" / "schemas" / f"{name}.schema.json"
    assert committed.is_file(), f"missing {committed}: run `make schemas`"
    assert committed.read_text(encoding="utf-8") == render_json_schema(WIRE_MODELS[name]), (
        f"{committed} is stale: run `make schemas`"
    )


def test_no_stray_schema_files(repo_root: Path) -> None:
    files = {p.name for p in (repo_root / "shared" / "schemas").glob("*.schema.json")}
    assert files == {f"{name}.schema.json" for name in WIRE_MODELS}


@pytest.mark.parametrize("model", list(WIRE_MODELS.values()), ids=lambda m: m.__name__)
def test_spark_schema_has_every_model_field_in_order(model: type) -> None:
    schema = spark_schema(model)
    assert schema.fieldNames() == list(model.model_fields)


def test_spark_types_follow_python_types() -> None:
    schema = spark_schema(DroneStatus)
    assert schema["battery_pct"].dataType == DoubleType()
    assert schema["state"].dataType == StringType()
    assert schema["emitted_at"].dataType == TimestampType()
    assert schema["schema_version"].dataType == LongType()
    assert not schema["drone_id"].nullable
    ticket = spark_schema(HistoricalTicket)
    assert ticket["violation_code"].dataType == LongType()
    assert ticket["violation_code"].nullable
    assert ticket["violation_location"].dataType == StringType()


def test_stored_schema_adds_provenance_and_partition() -> None:
    names = stored_schema(Alert).fieldNames()
    assert names[-4:] == ["kafka_topic", "kafka_partition", "kafka_offset", PARTITION_COLUMN]


def test_unsupported_types_are_refused() -> None:
    from pydantic import BaseModel

    class Odd(BaseModel):
        value: int | str

    with pytest.raises(SchemaDerivationError, match="Odd.value"):
        spark_schema(Odd)


@pytest.mark.parametrize(
    "module",
    [
        "prestacop_shared.config",
        "prestacop_shared.events",
        "prestacop_shared.fleet",
        "prestacop_shared.kafka",
        "prestacop_shared.serde",
        "prestacop_shared.spark",
        "prestacop_shared.tickets",
        "prestacop_shared.topics",
        "prestacop_shared.violation_codes",
    ],
)
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(
        importlib.import_module(module), optionflags=doctest.ELLIPSIS, verbose=False
    )
    assert result.failed == 0

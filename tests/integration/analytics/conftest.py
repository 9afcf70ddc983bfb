"""Stored datasets for the analytics tests, written by real Spark file-sink queries."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from tests.integration.analytics.stored_data import (
    generated_tickets,
    real_sample_tickets,
    store_everything,
)


@pytest.fixture(scope="session")
def real_data_dir(
    spark: SparkSession, nyc_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A data folder holding the real NYC samples as stored tickets, plus a live fleet."""
    folder = tmp_path_factory.mktemp("analytics-real") / "data"
    store_everything(spark, folder, real_sample_tickets(nyc_data))
    return folder


@pytest.fixture(scope="session")
def generated_data_dir(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder of generated tickets (junk included), a live fleet and quarantined records."""
    folder = tmp_path_factory.mktemp("analytics-generated") / "data"
    store_everything(spark, folder, generated_tickets(3000))
    return folder

"""What stream-storage stores: the shared dataset catalogue, and the quarantine's columns.

The datasets, their topics, folders and partition rules are declared once in
:mod:`prestacop_shared.datasets`; this module only adds what is stream-storage's own.
"""

from __future__ import annotations

from typing import Final

from prestacop_shared.datasets import DATASETS, QUARANTINE_FOLDER, Dataset
from prestacop_shared.spark import QUARANTINE_SCHEMA

__all__ = ["DATASETS", "QUARANTINE_COLUMNS", "QUARANTINE_FOLDER", "Dataset"]

QUARANTINE_COLUMNS: Final[tuple[str, ...]] = tuple(QUARANTINE_SCHEMA.fieldNames())
"""Columns of a quarantined message, in file order, partition column last."""

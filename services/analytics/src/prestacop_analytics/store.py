"""The reports folder: one sub-folder per run, written whole or not at all.

A run writes into a hidden temporary folder inside the reports folder and renames it to its run
id when every file is written, so a reader never sees a half-written report. Names coming from
HTTP requests are checked against a pattern first, then resolved and required to stay inside
the reports folder.
"""

from __future__ import annotations

import csv
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from prestacop_analytics.exceptions import InvalidNameError, ReportNotFoundError

RUN_ID_PATTERN = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$")
TABLE_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MANIFEST = "manifest.json"
TEMP_PREFIX = ".tmp-"


def new_run_id(now: datetime | None = None) -> str:
    """A sortable run id: UTC time to the second, then 6 random hex digits.

    Example:
        >>> new_run_id(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))[:17]
        '20260102T030405Z-'
    """
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def write_table(
    folder: Path, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Write one table as ``<name>.csv`` (header, empty = null) and ``<name>.json``."""
    records = [[_json_value(v) for v in row] for row in rows]
    with (folder / f"{name}.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(["" if v is None else v for v in row] for row in records)
    document = {
        "table": name,
        "columns": list(columns),
        "rows": [dict(zip(columns, r, strict=True)) for r in records],
    }
    (folder / f"{name}.json").write_text(json.dumps(document, allow_nan=False), encoding="utf-8")


class ReportStore:
    """Read and write reports under one folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @contextmanager
    def writing(self, run_id: str) -> Iterator[Path]:
        """Give a temporary folder to fill; publish it as ``<root>/<run_id>`` on success.

        On error the temporary folder is removed and nothing is published.
        """
        self._check_run_id(run_id)
        self.root.mkdir(parents=True, exist_ok=True)
        temporary = self.root / f"{TEMP_PREFIX}{run_id}"
        temporary.mkdir()
        try:
            yield temporary
            for file in temporary.iterdir():
                with file.open("rb") as handle:
                    os.fsync(handle.fileno())
            temporary.rename(self.root / run_id)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise

    def run_ids(self) -> list[str]:
        """Published run ids, oldest first."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and RUN_ID_PATTERN.match(p.name)
        )

    def latest_run_id(self) -> str:
        """The newest published run id.

        Raises:
            ReportNotFoundError: no report published yet.
        """
        ids = self.run_ids()
        if not ids:
            raise ReportNotFoundError("no report has been published yet")
        return ids[-1]

    def manifest(self, run_id: str) -> dict[str, Any]:
        """The manifest of one report.

        Raises:
            InvalidNameError: the id does not look like a run id.
            ReportNotFoundError: no such report.
        """
        path = self._inside(self.report_dir(run_id) / MANIFEST)
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return manifest

    def report_dir(self, run_id: str) -> Path:
        """The folder of a published report (checked to exist inside the root).

        Raises:
            InvalidNameError: the id does not look like a run id.
            ReportNotFoundError: no such report.
        """
        self._check_run_id(run_id)
        folder = self._inside(self.root / run_id)
        if not folder.is_dir():
            raise ReportNotFoundError(f"no report {run_id}")
        return folder

    def table_path(self, run_id: str, table: str, fmt: str) -> Path:
        """The file of one table in ``fmt`` (``json`` or ``csv``).

        Raises:
            InvalidNameError: bad table name or format.
            ReportNotFoundError: no such report or table.
        """
        if not TABLE_NAME_PATTERN.match(table) or fmt not in ("json", "csv"):
            raise InvalidNameError(f"invalid table name or format: {table!r}, {fmt!r}")
        tables: Mapping[str, Any] = self.manifest(run_id).get("tables", {})
        if table not in tables:
            raise ReportNotFoundError(f"report {run_id} has no table {table}")
        return self._inside(self.report_dir(run_id) / f"{table}.{fmt}")

    def _check_run_id(self, run_id: str) -> None:
        if not RUN_ID_PATTERN.match(run_id):
            raise InvalidNameError(f"invalid run id: {run_id[:80]!r}")

    def _inside(self, path: Path) -> Path:
        resolved = path.resolve()
        root = self.root.resolve()
        if root not in resolved.parents:
            raise ReportNotFoundError(f"{path.name} is not inside the reports folder")
        if not resolved.exists():
            raise ReportNotFoundError(f"{path.name} does not exist")
        return resolved

"""The kept state of incremental runs: which committed files are counted, and their partials.

Layout under the state folder (``ANALYTICS_STATE_DIR``, default ``<reports>/.state``)::

    state.json                  the commit point: counted files per input, the partial folders
    partials/<run_id>/<kind>/   one run's partial aggregates (Parquet, see partials.py)
    partials/.tmp-<run_id>/     a run's partials while Spark writes them
    lock                        held (flock) by the one process whose run may commit

A run writes its partials to ``.tmp-<run_id>``, renames the folder to ``<run_id>``, then writes
``state.json`` to a temporary file, fsyncs it and renames it over the old one. The rename of
``state.json`` is the only commit: a run killed before it leaves the old state untouched (its
partial folder is not listed, so it is ignored and removed by the next run), and the next run
finds the same files still uncounted. So a file is counted exactly once: it is in
``state.json`` exactly when the partial that counts it is.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prestacop_analytics.exceptions import RunInProgressError, StateError

log = logging.getLogger(__name__)

STATE_FILE = "state.json"
PARTIALS = "partials"
TEMP_PREFIX = ".tmp-"
STATE_VERSION = 1


@dataclass
class InputCoverage:
    """What of one stored input (a sink) the state has counted."""

    files: dict[str, int] = field(default_factory=dict)
    """Counted file path -> the batch id the sink log gave it when it was counted."""
    rows: int = 0

    @property
    def latest_batch(self) -> int | None:
        """The newest batch id among the counted files (``None``: nothing counted)."""
        return max(self.files.values()) if self.files else None

    def stamp(self) -> dict[str, Any]:
        """The "as of" stamp of this input: files, rows, newest batch counted."""
        return {"files": len(self.files), "rows": self.rows, "latest_batch": self.latest_batch}


@dataclass
class KeptState:
    """The committed state: coverage per input and the partial folders that hold its counts."""

    inputs: dict[str, InputCoverage] = field(default_factory=dict)
    partials: list[str] = field(default_factory=list)
    generation: int = 0

    def coverage(self, name: str) -> InputCoverage:
        """The coverage of input ``name`` (empty if never counted)."""
        return self.inputs.setdefault(name, InputCoverage())

    def as_json(self) -> dict[str, Any]:
        """JSON form (``state.json``)."""
        return {
            "version": STATE_VERSION,
            "generation": self.generation,
            "partials": self.partials,
            "inputs": {
                name: {"rows": cov.rows, "files": cov.files} for name, cov in self.inputs.items()
            },
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> KeptState:
        """Parse ``state.json``.

        Raises:
            StateError: not a state file of this version.
        """
        if document.get("version") != STATE_VERSION:
            raise StateError(f"state file version {document.get('version')!r} is not supported")
        return cls(
            inputs={
                name: InputCoverage(files=dict(entry["files"]), rows=int(entry["rows"]))
                for name, entry in document["inputs"].items()
            },
            partials=list(document["partials"]),
            generation=int(document["generation"]),
        )


class StateStore:
    """Load, commit and clean the kept state under one folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.partials_dir = root / PARTIALS

    def load(self) -> KeptState:
        """The committed state (empty when nothing was committed yet).

        Raises:
            StateError: ``state.json`` cannot be read.
        """
        path = self.root / STATE_FILE
        if not path.exists():
            return KeptState()
        try:
            return KeptState.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as error:
            raise StateError(f"{path}: unreadable state file: {error}") from error

    def partial_dir(self, run_id: str) -> Path:
        """The published partial folder of a run."""
        return self.partials_dir / run_id

    def temporary_partial_dir(self, run_id: str) -> Path:
        """Where a run's partials are written before they are published."""
        return self.partials_dir / f"{TEMP_PREFIX}{run_id}"

    def publish_partial(self, run_id: str) -> Path:
        """Rename the run's temporary partial folder to its final name (not yet committed)."""
        final = self.partial_dir(run_id)
        self.temporary_partial_dir(run_id).rename(final)
        _fsync_dir(self.partials_dir)
        return final

    def commit(self, state: KeptState) -> None:
        """Make ``state`` the committed state: write, fsync, then rename over ``state.json``."""
        self.root.mkdir(parents=True, exist_ok=True)
        state.generation += 1
        temporary = self.root / f"{TEMP_PREFIX}{STATE_FILE}"
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump(state.as_json(), handle)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(self.root / STATE_FILE)
        _fsync_dir(self.root)
        log.info(
            "state committed",
            extra={"generation": state.generation, "partials": len(state.partials)},
        )

    def remove_uncommitted(self, state: KeptState) -> list[str]:
        """Delete partial folders the committed state does not list (of killed or replaced runs)."""
        if not self.partials_dir.is_dir():
            return []
        kept = set(state.partials)
        removed = [p.name for p in self.partials_dir.iterdir() if p.name not in kept]
        for name in removed:
            shutil.rmtree(self.partials_dir / name, ignore_errors=True)
        if removed:
            log.info("removed uncommitted partials", extra={"partials": removed})
        return removed

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the state lock for one run (across processes: ``run`` beside ``serve``).

        Raises:
            RunInProgressError: another process holds it.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / "lock").open("a+") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunInProgressError(
                    f"another process is running a report over {self.root}"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

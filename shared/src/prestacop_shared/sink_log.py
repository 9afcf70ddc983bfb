"""Spark's file-sink log (``_spark_metadata``), read without Spark: which files a sink committed.

A Spark file sink writes its part files first, then records them in ``_spark_metadata/<batch>``
(renamed into place atomically), so a file is committed exactly when the log lists it. Every
``spark.sql.streaming.fileSink.log.compactInterval`` batches (10 by default) the log is compacted
into ``<batch>.compact``, which lists every file committed up to that batch; older batch files
may then be deleted. Readers that are not Spark (DuckDB oracles, benchmarks, incremental
analytics) take the files from here and never glob the folder, which may hold files of failed
batches.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import unquote, urlparse

from prestacop_shared.exceptions import PrestacopError

LOG_FOLDER: Final = "_spark_metadata"
"""The file sink's log folder inside its output folder."""

_ENTRY_NAME: Final = re.compile(r"([0-9]+)(\.compact)?")


class SinkLogError(PrestacopError):
    """A folder that is not a file sink's output, or a log entry that cannot be read."""


@dataclass(frozen=True, order=True)
class CommittedFile:
    """One part file a sink committed.

    Attributes:
        path: the file's absolute local path.
        batch_id: the batch whose log entry lists it; for files known only from a compacted
            entry, the compaction's batch (the file was committed at or before it).
    """

    path: Path
    batch_id: int


def is_sink(folder: Path) -> bool:
    """Whether ``folder`` is a file sink's output folder (it holds a ``_spark_metadata`` log)."""
    return (folder / LOG_FOLDER).is_dir()


def latest_batch(sink: Path) -> int | None:
    """The newest committed batch of ``sink``, ``None`` when nothing was committed yet.

    Raises:
        SinkLogError: ``sink`` has no ``_spark_metadata`` log.
    """
    entries = _entries(sink)
    return entries[-1][0] if entries else None


def committed_files(sink: Path) -> list[CommittedFile]:
    """The files ``sink`` committed, sorted by path.

    Reads the newest ``.compact`` entry and the batch entries after it, and honours ``delete``
    actions. A compaction forgets which batch wrote a file, so incremental readers tell new
    files from counted ones by path, not by batch id.

    Raises:
        SinkLogError: ``sink`` has no ``_spark_metadata`` log, or an entry is not valid.
    """
    entries = _entries(sink)
    compacts = [i for i, (_, entry) in enumerate(entries) if entry.name.endswith(".compact")]
    start = compacts[-1] if compacts else 0
    files: dict[Path, CommittedFile] = {}
    for batch_id, entry in entries[start:]:
        for record in _records(entry):
            path = Path(unquote(urlparse(str(record["path"])).path))
            if record.get("action", "add") == "delete":
                files.pop(path, None)
            else:
                files[path] = CommittedFile(path, batch_id)
    return sorted(files.values())


def log_batches(folder: Path) -> list[int]:
    """The batch ids of the numbered entries (``7``, ``9.compact``) of one of Spark's metadata
    logs, sorted: a sink's ``_spark_metadata``, or a checkpoint's ``offsets`` or ``commits``.
    Empty when the folder does not exist."""
    return [batch_id for batch_id, _ in _numbered(folder)]


def _numbered(folder: Path) -> list[tuple[int, Path]]:
    if not folder.is_dir():
        return []
    entries = []
    for entry in folder.iterdir():
        match = _ENTRY_NAME.fullmatch(entry.name)
        if match:
            entries.append((int(match.group(1)), entry))
    return sorted(entries)


def _entries(sink: Path) -> list[tuple[int, Path]]:
    log_dir = sink / LOG_FOLDER
    if not log_dir.is_dir():
        raise SinkLogError(
            f"{sink} has no {LOG_FOLDER} log: not a Spark file-sink output folder "
            "(refusing to glob part files)"
        )
    return _numbered(log_dir)


def _records(entry: Path) -> list[dict[str, object]]:
    lines = entry.read_text(encoding="utf-8").splitlines()
    if not lines or not lines[0].startswith("v"):
        raise SinkLogError(f"{entry}: not a file-sink log entry (no version line)")
    try:
        return [json.loads(line) for line in lines[1:] if line]
    except json.JSONDecodeError as error:
        raise SinkLogError(f"{entry}: invalid log record: {error}") from error

"""Service mode: ingest every file that lands in an inbox folder; no file can stop the loop.

A file is taken once its size and modification time have not changed for ``settle_s`` seconds
(``INGESTOR_SETTLE_S``), so a file still being copied in is left alone; a writer that cannot
promise pauses shorter than that should write ``NAME.csv.part`` and rename it to ``NAME.csv``
when complete (hidden files and names ending in ``.part``/``.tmp`` are never taken). The reader
reads no byte past the size the file had when it was opened.

Where each file ends:

- ``done/``: every line sent (or it had been sent before).
- ``refused/`` + ``NAME.reason.txt``: not a tickets file, or appended to after (or while) it was
  ingested: what was ingested stays ingested, nothing is sent twice, the new bytes are not sent.
- ``failed/`` + ``NAME.reason.txt``: the file could not be read or ingested (unreadable, an
  unexpected error): the error is written beside it, counted, and the loop goes on.
- Kafka failures (broker away, producer fenced by another instance) are not the file's fault: it
  stays in the inbox and is retried at the next poll with a new producer, whose
  ``init_transactions`` aborts what the old one left open, resuming at the last commit, so
  exactly-once holds.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import KafkaException

from prestacop_csv_ingestor.exceptions import DeliveryError, FileRefusedError, ProgressError
from prestacop_csv_ingestor.ingest import FileIngestor
from prestacop_csv_ingestor.summary import FileSummary

logger = logging.getLogger(__name__)

IGNORED_SUFFIXES = (".part", ".tmp", ".reason.txt")


@dataclass
class WatchCounts:
    """Files handled by one watch process, by outcome."""

    done: int = 0
    refused: int = 0
    failed: int = 0
    kafka_retries: int = 0


def _candidates(inbox: Path) -> list[Path]:
    return sorted(
        path
        for path in inbox.iterdir()
        if path.is_file()
        and not path.name.startswith(".")
        and not path.name.endswith(IGNORED_SUFFIXES)
    )


def _move(path: Path, folder: Path, reason: str | None = None) -> Path:
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    if target.exists():
        target.unlink()
    shutil.move(str(path), target)
    if reason is not None:
        target.with_name(target.name + ".reason.txt").write_text(f"{reason}\n")
    return target


class _Settling:
    """Remembers each file's (size, mtime) and since when it has not changed."""

    def __init__(self, settle_s: float) -> None:
        self.settle_s = settle_s
        self._seen: dict[Path, tuple[tuple[int, int], float]] = {}

    def settled(self, path: Path) -> bool:
        stat = path.stat()
        state = (stat.st_size, stat.st_mtime_ns)
        now = time.monotonic()
        previous = self._seen.get(path)
        if previous is None or previous[0] != state:
            self._seen[path] = (state, now)
            return False
        return now - previous[1] >= self.settle_s

    def forget(self, path: Path) -> None:
        self._seen.pop(path, None)


def watch_inbox(
    inbox: Path,
    ingestor: FileIngestor,
    poll_interval_s: float,
    on_summary: Callable[[FileSummary], None] | None = None,
    *,
    settle_s: float = 0.0,
    counts: WatchCounts | None = None,
) -> WatchCounts:
    """Ingest files from ``inbox`` until ``ingestor.stop`` is set; return the counts."""
    inbox.mkdir(parents=True, exist_ok=True)
    done, refused, failed = inbox / "done", inbox / "refused", inbox / "failed"
    counts = counts or WatchCounts()
    settling = _Settling(settle_s)
    stuck: set[Path] = set()  # could not even be moved to failed/: not retried by this process
    logger.info("watching inbox", extra={"inbox": str(inbox), "settle_s": settle_s})
    while not ingestor.stop.is_set():
        for path in _candidates(inbox):
            if ingestor.stop.is_set():
                break
            if path in stuck:
                continue
            try:
                if not settling.settled(path):
                    continue
            except OSError:
                continue  # gone between listing and stat
            settling.forget(path)
            if not _ingest_one(path, ingestor, on_summary, counts, done, refused, failed, stuck):
                break
        ingestor.stop.wait(poll_interval_s)
    return counts


def _ingest_one(
    path: Path,
    ingestor: FileIngestor,
    on_summary: Callable[[FileSummary], None] | None,
    counts: WatchCounts,
    done: Path,
    refused: Path,
    failed: Path,
    stuck: set[Path],
) -> bool:
    """Ingest one file and move it where it belongs; ``False`` when Kafka failed."""
    context = {"source_file": path.name}
    try:
        summary = ingestor.ingest(path)
    except FileRefusedError as error:
        counts.refused += 1
        logger.error("file refused", extra=context | {"reason": str(error)})
        _move_or_remember(path, refused, f"{error}", stuck)
        return True
    except (DeliveryError, ProgressError, KafkaException) as error:
        counts.kafka_retries += 1
        logger.error(
            "Kafka failed; the file stays in the inbox and is resumed with a new producer",
            extra=context | {"error": str(error)},
        )
        return False
    except Exception as error:  # noqa: BLE001 - one file must never end the service
        counts.failed += 1
        reason = f"{type(error).__name__}: {error}"
        logger.exception("file failed", extra=context | {"reason": reason, "failed": counts.failed})
        _move_or_remember(path, failed, f"could not be ingested: {reason}", stuck)
        return True
    if on_summary is not None:
        on_summary(summary)
    if summary.status in ("ingested", "already ingested"):
        counts.done += 1
        _move_or_remember(path, done, None, stuck)
        logger.info("file done", extra=context | {"sent": summary.sent})
    return True


def _move_or_remember(path: Path, folder: Path, reason: str | None, stuck: set[Path]) -> None:
    try:
        _move(path, folder, reason)
    except OSError as error:
        stuck.add(path)
        logger.error(
            "cannot move the file out of the inbox; this process will not take it again",
            extra={"source_file": path.name, "folder": str(folder), "error": str(error)},
        )

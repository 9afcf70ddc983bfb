"""Service mode: ingest every file that lands in an inbox folder.

A file is taken once its size has stayed the same for one poll (so a file still being copied is
left alone); hidden files and names ending in ``.part``/``.tmp`` are ignored. A finished file is
moved to ``<inbox>/done/``, a refused one to ``<inbox>/refused/`` next to a ``.reason.txt``. If
Kafka fails, the file stays in the inbox and is retried at the next poll (resuming, thanks to the
committed progress).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from prestacop_csv_ingestor.exceptions import DeliveryError, FileRefusedError, ProgressError
from prestacop_csv_ingestor.ingest import FileIngestor
from prestacop_csv_ingestor.summary import FileSummary

logger = logging.getLogger(__name__)

IGNORED_SUFFIXES = (".part", ".tmp", ".reason.txt")


def _candidates(inbox: Path) -> list[Path]:
    return sorted(
        path
        for path in inbox.iterdir()
        if path.is_file()
        and not path.name.startswith(".")
        and not path.name.endswith(IGNORED_SUFFIXES)
    )


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    if target.exists():
        target.unlink()
    shutil.move(str(path), target)
    return target


def watch_inbox(
    inbox: Path,
    ingestor: FileIngestor,
    poll_interval_s: float,
    on_summary: Callable[[FileSummary], None] | None = None,
) -> None:
    """Ingest files from ``inbox`` until ``ingestor.stop`` is set."""
    inbox.mkdir(parents=True, exist_ok=True)
    done, refused = inbox / "done", inbox / "refused"
    sizes: dict[Path, int] = {}
    logger.info("watching inbox", extra={"inbox": str(inbox)})
    while not ingestor.stop.is_set():
        for path in _candidates(inbox):
            if ingestor.stop.is_set():
                break
            size = path.stat().st_size
            if sizes.get(path) != size:
                sizes[path] = size
                continue
            sizes.pop(path, None)
            try:
                summary = ingestor.ingest(path)
            except FileRefusedError as error:
                target = _move(path, refused)
                target.with_name(target.name + ".reason.txt").write_text(f"{error}\n")
                logger.error("file refused", extra={"source_file": path.name, "reason": str(error)})
                continue
            except (DeliveryError, ProgressError) as error:
                logger.error(
                    "Kafka failed; the file stays in the inbox and will be resumed",
                    extra={"source_file": path.name, "error": str(error)},
                )
                break
            if on_summary is not None:
                on_summary(summary)
            if summary.status in ("ingested", "already ingested"):
                _move(path, done)
                logger.info("file done", extra={"source_file": path.name, "sent": summary.sent})
        ingestor.stop.wait(poll_interval_s)

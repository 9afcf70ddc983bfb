"""stream-storage's own log, read by the benchmarks: one record per committed micro-batch."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def committed_batches(log: Path) -> Iterator[dict[str, Any]]:
    """The ``batch committed`` records of a stream-storage log (JSON lines; others skipped)."""
    for line in log.read_text(errors="replace").splitlines():
        if '"batch committed"' not in line:
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            continue


def wait_until_stored(
    checkpoints: dict[str, Path],
    stored: Callable[[Path], bool],
    service: subprocess.Popen[Any],
    log: Path,
    *,
    poll_s: float = 0.2,
    timeout_s: float = 3600,
) -> dict[str, float]:
    """When (``time.monotonic()``) each named query's checkpoint first satisfied ``stored``.

    Raises:
        RuntimeError: the stream-storage process exited first (its log's tail says why).
    """
    stored_at: dict[str, float] = {}
    deadline = time.monotonic() + timeout_s
    while len(stored_at) < len(checkpoints) and time.monotonic() < deadline:
        now = time.monotonic()
        for name, checkpoint in checkpoints.items():
            if name not in stored_at and stored(checkpoint):
                stored_at[name] = now
        if service.poll() is not None:
            raise RuntimeError(f"stream-storage exited:\n{log.read_text()[-3000:]}")
        time.sleep(poll_s)
    return stored_at

"""stream-storage's own log, read by the benchmarks: one record per committed micro-batch."""

from __future__ import annotations

import json
from collections.abc import Iterator
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

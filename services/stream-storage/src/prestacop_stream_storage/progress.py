"""What a query has committed, read from its checkpoint (for operators, tests and benchmarks).

A checkpoint's ``offsets/<batch>`` file lists, per source, the Kafka offsets a batch ends at;
``commits/<batch>`` exists once that batch is fully written and listed in the sink log. The
end offsets of the last committed batch therefore say how far the stored data reaches.
"""

from __future__ import annotations

import json
from pathlib import Path

from prestacop_shared.sink_log import log_batches


def last_committed_batch(checkpoint: Path) -> int | None:
    """The id of the last batch the query committed, ``None`` before the first."""
    batches = log_batches(checkpoint / "commits")
    return batches[-1] if batches else None


def committed_end_offsets(checkpoint: Path) -> dict[str, dict[int, int]]:
    """Per topic and partition, the offset up to which (exclusive) data is stored.

    Returns an empty dict before the first committed batch.
    """
    batch = last_committed_batch(checkpoint)
    if batch is None:
        return {}
    lines = (checkpoint / "offsets" / str(batch)).read_text(encoding="utf-8").splitlines()
    ends: dict[str, dict[int, int]] = {}
    for line in lines[2:]:  # a version line, the batch metadata, then one line per source
        if line.strip() in ("", "-"):
            continue
        for topic, partitions in json.loads(line).items():
            ends.setdefault(topic, {}).update(
                {int(partition): int(offset) for partition, offset in partitions.items()}
            )
    return ends


def committed_record_count(checkpoint: Path) -> int:
    """How many Kafka offsets the committed batches cover, summed over partitions.

    Equals the number of records stored or quarantined for a topic written without
    transactions; transaction markers also take offsets, so it is an upper bound otherwise.
    """
    return sum(
        offset
        for partitions in committed_end_offsets(checkpoint).values()
        for offset in partitions.values()
    )

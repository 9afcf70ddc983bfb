"""Run the queries until they finish (``--available-now``) or a stop is asked for (SIGTERM).

A stop lets each query finish the micro-batch it is running, then stops it between batches;
a batch still running after ``STORAGE_STOP_TIMEOUT_S`` is interrupted, which is safe (its
files are not in the sink log and the restarted query redoes it) but wastes the work.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from pyspark.sql.streaming.query import StreamingQuery

from prestacop_shared.service_http import WorkProgress
from prestacop_stream_storage.exceptions import QueryFailedError

logger = logging.getLogger(__name__)

_POLL_S = 0.5


class QueryRunner:
    """Watch running queries: log their progress, surface failures, stop them gently."""

    def __init__(
        self,
        queries: list[StreamingQuery],
        *,
        stop_timeout_s: float,
        progress: WorkProgress | None = None,
    ) -> None:
        """Watch ``queries``; a stop waits at most ``stop_timeout_s`` for running batches.

        Each committed micro-batch, and each idle trigger Spark reports, goes to ``progress``,
        with the Kafka records it read.
        """
        self._queries = queries
        self._stop_timeout_s = stop_timeout_s
        self._progress = progress
        self._logged_batch: dict[str, int] = {}
        self._last_report: dict[str, str] = {}
        self.stop_requested = threading.Event()

    def run(self) -> None:
        """Block until every query has finished or a stop was requested and carried out.

        Raises:
            QueryFailedError: a query stopped with an error (the others are stopped first).
        """
        while not self.stop_requested.wait(_POLL_S):
            self._log_progress()
            failed = [query for query in self._queries if not query.isActive and query.exception()]
            if failed:
                self._stop_all(gently=False)
                for query in failed:
                    logger.debug(
                        "failed query in full",
                        extra={"query": query.name, "error": str(query.exception())},
                    )
                details = "; ".join(f"{q.name}: {failure_summary(q.exception())}" for q in failed)
                raise QueryFailedError(f"streaming query failed: {details}")
            if not any(query.isActive for query in self._queries):
                self._log_progress()
                logger.info("every query has finished")
                return
        logger.info("stop requested: finishing running micro-batches")
        self._stop_all(gently=True)
        self._log_progress()

    def _stop_all(self, *, gently: bool) -> None:
        deadline = time.monotonic() + (self._stop_timeout_s if gently else 0.0)
        pending = [query for query in self._queries if query.isActive]
        while pending:
            still_busy = []
            for query in pending:
                busy = gently and time.monotonic() < deadline and _trigger_active(query)
                if busy:
                    still_busy.append(query)
                    continue
                query.stop()
                logger.info("query stopped", extra={"query": query.name})
            pending = still_busy
            if pending:
                time.sleep(0.2)

    def _log_progress(self) -> None:
        for query in self._queries:
            progress: dict[str, Any] | None = query.lastProgress
            if not progress:
                continue
            reported_at = str(progress.get("timestamp"))
            new_report = self._last_report.get(query.name) != reported_at
            self._last_report[query.name] = reported_at
            if progress.get("numInputRows", 0) == 0:
                if new_report and self._progress is not None:
                    self._progress.heartbeat()  # an idle trigger: caught up, not stuck
                continue
            batch_id = int(progress["batchId"])
            if self._logged_batch.get(query.name) == batch_id:
                continue
            self._logged_batch[query.name] = batch_id
            if self._progress is not None:
                self._progress.committed(int(progress["numInputRows"]))
            logger.info(
                "batch committed",
                extra={
                    "query": query.name,
                    "batch_id": batch_id,
                    "rows_read": progress["numInputRows"],
                    "rows_per_s": round(float(progress.get("processedRowsPerSecond") or 0.0)),
                    "duration_ms": progress.get("durationMs", {}).get("triggerExecution"),
                    "end_offsets": [source.get("endOffset") for source in progress["sources"]],
                },
            )


_PLAN_MARKER = "\n=== Streaming Query ==="
_SUMMARY_CHARS = 1_000


def failure_summary(error: BaseException | None) -> str:
    """The reason a query failed, without the plan and offsets Spark appends to it.

    Spark's message holds the cause, then ``=== Streaming Query ===`` and the whole logical
    plan (tens of KB); the cause alone is kept, cut at ~1,000 characters, on one line.

    Example:
        >>> failure_summary(RuntimeError("boom: no topic\n=== Streaming Query ===\nplan..."))
        'boom: no topic'
    """
    if error is None:
        return "unknown error"
    text = str(error).split(_PLAN_MARKER, 1)[0]
    text = " ".join(text.split())
    return text if len(text) <= _SUMMARY_CHARS else text[:_SUMMARY_CHARS] + " …"


def _trigger_active(query: StreamingQuery) -> bool:
    return bool(query.isActive and query.status.get("isTriggerActive"))

"""Streaming one tickets file into Kafka, exactly once, resumable after any crash.

Delivery guarantee: exactly-once for ``read_committed`` consumers. Tickets, dead letters and the
file's progress record (byte offset, next line, counts) are written in one Kafka transaction; a
restart reads the last committed progress of the file's fingerprint and seeks to that byte
offset, so no line is lost and none is sent twice. The transactional id is derived from the
fingerprint: ``init_transactions`` fences a zombie instance still working on the same file and
aborts its open transaction.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException, Producer

from prestacop_csv_ingestor.batch import EncodedBatch, FileContext
from prestacop_csv_ingestor.blocks import BlockReader, ReadAhead
from prestacop_csv_ingestor.config import Settings
from prestacop_csv_ingestor.enrich import archive_fleet, prepare_positions
from prestacop_csv_ingestor.exceptions import DeliveryError, FileChangedError
from prestacop_csv_ingestor.fingerprint import file_fingerprint
from prestacop_csv_ingestor.progress import FileProgress, ensure_topics, load_progress
from prestacop_csv_ingestor.reader import open_tickets_file
from prestacop_csv_ingestor.summary import FileSummary, RepeatCounter
from prestacop_shared import topics
from prestacop_shared.events import utc_now
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.tickets import TicketLayout

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[FileSummary, int, int], None]
"""Called after each block with the running summary, the file offset and the file size."""

CommitCallback = Callable[[int], None]
"""Called after each committed transaction with the lines it settled (sent + quarantined)."""


class FileIngestor:
    """Ingests files one after the other with the same settings."""

    def __init__(
        self,
        settings: Settings,
        kafka: KafkaSettings,
        *,
        stop: threading.Event | None = None,
        on_progress: ProgressCallback | None = None,
        on_commit: CommitCallback | None = None,
    ) -> None:
        self.settings = settings
        self.kafka = kafka
        self.stop = stop or threading.Event()
        self.on_progress = on_progress
        self.on_commit = on_commit
        self.fleet = archive_fleet(settings.fleet, settings.fleet_size)
        prepare_positions()
        self.tickets_topic = kafka.topic(topics.NYPD_TICKETS)
        self.dlq_topic = kafka.topic(topics.NYPD_TICKETS_DLQ)
        self.progress_topic = kafka.topic(topics.NYPD_INGEST_PROGRESS)
        self._topics_ready = False

    def ingest(self, path: Path) -> FileSummary:
        """Send every line of ``path`` not yet sent; return what happened.

        Only the bytes the file had when it was opened are read.

        Raises:
            FileRefusedError: not a tickets file.
            FileChangedError: the file is a file ingested before with bytes appended to it, or
                it grew while it was ingested (what was ingested is committed; nothing is sent
                twice; the new bytes are not sent).
            DeliveryError: Kafka failed (unreachable, transaction refused, producer fenced);
                a rerun, with a new producer, resumes after the last commit.
        """
        started = time.monotonic()
        tickets_file = open_tickets_file(path)
        fingerprint = file_fingerprint(path)
        summary = FileSummary(
            file=path.name, status="ingested", fingerprint=fingerprint,
            layout=tickets_file.layout.value,
        )  # fmt: skip
        if not self._topics_ready:
            ensure_topics(self.kafka)
            self._topics_ready = True
        producer = self._producer(fingerprint)
        try:
            known = load_progress(self.kafka)
            previous = known.get(fingerprint)
            for other in known.values():
                if other.source_file == path.name and other.fingerprint != fingerprint:
                    _refuse_if_appended(path, tickets_file.size_bytes, other)
                    logger.warning(
                        "a file of this name was ingested before with other content: "
                        "ingesting this one as a new file",
                        extra={"source_file": path.name, "old_fingerprint": other.fingerprint,
                               "fingerprint": fingerprint},
                    )  # fmt: skip
            if previous is not None and previous.done:
                summary.status = "already ingested"
                summary.message = (
                    f"already ingested ({previous.sent} sent, {previous.lines_read} lines) "
                    f"at {previous.updated_at.isoformat()}: nothing sent"
                )
                return summary
            progress = previous or FileProgress(
                fingerprint=fingerprint, source_file=path.name,
                size_bytes=tickets_file.size_bytes, byte_offset=tickets_file.data_offset,
                next_line=2,
            )  # fmt: skip
            summary.resumed_from_line = progress.next_line
            if previous is not None:
                logger.info(
                    "resuming", extra={"source_file": path.name, "line": previous.next_line,
                                       "byte_offset": previous.byte_offset},
                )  # fmt: skip
            run = _FileRun(self, producer, tickets_file.layout, path, progress, summary)
            try:
                run.execute()
            except KafkaException as error:
                raise DeliveryError(
                    f"the producer failed on {path.name} ({error.args[0]}); a rerun with a new "
                    f"producer resumes at line {run.progress.next_line}"
                ) from error
            _refuse_if_grown(path, tickets_file.size_bytes, summary)
        finally:
            summary.elapsed_s = time.monotonic() - started
            producer.flush(10)
        return summary

    def _producer(self, fingerprint: str) -> Producer:
        """A new transactional producer for the file (a fenced or failed one is never reused)."""
        config = self.kafka.producer_config(
            transactional_id=f"{self.settings.transactional_id_prefix}-{fingerprint}",
            **producer_tuning(self.settings),
        )
        producer = Producer(config)
        try:
            producer.init_transactions(60)
        except KafkaException as error:
            raise DeliveryError(f"could not start a Kafka transaction: {error}") from error
        return producer


def producer_tuning(settings: Settings) -> dict[str, Any]:
    """The batching, compression and buffer settings of the ingestor's producer (librdkafka
    names with ``_`` for ``.``), for :meth:`~prestacop_shared.kafka.KafkaSettings.producer_config`.
    The benchmarks' passthrough reference uses the same."""
    return {
        "linger_ms": settings.linger_ms,
        "compression_type": settings.compression,
        "batch_size": settings.batch_bytes,
        "batch_num_messages": settings.batch_messages,
        "queue_buffering_max_kbytes": settings.producer_buffer_kb,
        "queue_buffering_max_messages": settings.producer_queue_messages,
        "delivery_report_only_error": True,
        "transaction_timeout_ms": 120_000,
    }


class _FileRun:
    """The state of one pass over one file."""

    def __init__(
        self,
        owner: FileIngestor,
        producer: Producer,
        layout: TicketLayout,
        path: Path,
        progress: FileProgress,
        summary: FileSummary,
    ) -> None:
        self.owner = owner
        self.settings = owner.settings
        self.producer = producer
        self.path = path
        self.progress = progress
        self.base = progress
        self.summary = summary
        self.context = FileContext(
            layout=layout,
            source_file=path.name,
            fingerprint=progress.fingerprint,
            fleet=owner.fleet,
            fallback_encoding=self.settings.fallback_encoding,
            dlq_raw_keep_chars=self.settings.dlq_raw_keep_chars,
        )
        self.repeats = RepeatCounter(self.settings.repeated_expected_rows)
        self.quarantined: Counter[str] = Counter()
        self.in_transaction = False
        self.transaction_started = 0.0
        self.run_started = time.monotonic()
        self.run_lines = 0
        self.run_bytes = 0

    def execute(self) -> None:
        reader = BlockReader(
            self.path, self.context, self.settings, self.repeats,
            offset=self.progress.byte_offset, line=self.progress.next_line,
            end=self.progress.size_bytes,
        )  # fmt: skip
        offset, line, eof = self.progress.byte_offset, self.progress.next_line, False
        with ReadAhead(reader.items(), depth=1) as ahead:
            for item in ahead:
                if isinstance(item, EncodedBatch):
                    self._send(item)
                    self.run_lines += item.lines
                    continue
                self.run_bytes += item.offset - offset
                offset, line, eof = item.offset, item.line, item.eof
                self._checkpoint(offset, line, done=item.done)
                self._throttle()
                if self.owner.stop.is_set():
                    break
        if self.in_transaction:
            self._commit(offset, line, done=False)
        self.summary.status = "ingested" if eof else "interrupted"
        self._fill_summary()

    def _send(self, batch: EncodedBatch) -> None:
        if not self.in_transaction:
            self.producer.begin_transaction()
            self.in_transaction = True
            self.transaction_started = time.monotonic()
        producer = self.producer
        produce = producer.produce
        topic = self.owner.tickets_topic
        for key, value in zip(batch.keys, batch.values, strict=True):
            try:
                produce(topic, value, key)
            except BufferError:
                self._produce_when_room(topic, value, key)
        for key, letter, kind in batch.dead_letters:
            self._produce_when_room(self.owner.dlq_topic, letter, key)
            self.quarantined[kind] += 1
        producer.poll(0)
        self.summary.sent += len(batch.values)
        self.summary.repeated_summons += batch.repeated

    def _produce_when_room(self, topic: str, value: str | bytes, key: str) -> None:
        while True:
            try:
                self.producer.produce(topic, value, key)
                return
            except BufferError:
                self.producer.poll(0.05)

    def _checkpoint(self, offset: int, line: int, *, done: bool) -> None:
        due = time.monotonic() - self.transaction_started >= self.settings.commit_interval_s
        if done or (self.in_transaction and (due or self.owner.stop.is_set())):
            self._commit(offset, line, done=done)
        if self.owner.on_progress is not None:
            self._fill_summary()
            self.owner.on_progress(self.summary, offset, self.progress.size_bytes)

    def _commit(self, offset: int, line: int, *, done: bool) -> None:
        if not self.in_transaction:
            self.producer.begin_transaction()
            self.in_transaction = True
        previous = self.progress
        self.progress = self.base.model_copy(
            update={
                "byte_offset": offset,
                "next_line": line,
                "lines_read": self.base.lines_read + self.run_lines,
                "sent": self.base.sent + self.summary.sent,
                "quarantined": dict(Counter(self.base.quarantined) + self.quarantined),
                "done": done,
                "updated_at": utc_now(),
            }
        )
        self.producer.produce(
            self.owner.progress_topic, self.progress.model_dump_json(), previous.fingerprint
        )
        try:
            self.producer.commit_transaction(120)
        except KafkaException as error:
            kafka_error = error.args[0]
            if kafka_error.txn_requires_abort() and not kafka_error.fatal():
                try:
                    self.producer.abort_transaction(60)
                except KafkaException:
                    pass  # the next producer's init_transactions aborts it
            raise DeliveryError(
                f"transaction for {self.path.name} failed ({kafka_error}); "
                f"a rerun resumes at line {previous.next_line}"
            ) from error
        self.in_transaction = False
        if self.owner.on_commit is not None:
            settled = self.progress.sent - previous.sent
            settled += sum(self.progress.quarantined.values()) - sum(previous.quarantined.values())
            self.owner.on_commit(settled)
        logger.debug(
            "committed", extra={"source_file": self.path.name, "line": line, "byte_offset": offset}
        )

    def _throttle(self) -> None:
        elapsed = time.monotonic() - self.run_started
        wait = 0.0
        if self.settings.max_rows_per_s:
            wait = max(wait, self.run_lines / self.settings.max_rows_per_s - elapsed)
        if self.settings.max_mb_per_s:
            wait = max(wait, self.run_bytes / (self.settings.max_mb_per_s * 1e6) - elapsed)
        if wait > 0:
            self.owner.stop.wait(wait)

    def _fill_summary(self) -> None:
        self.summary.lines_read = self.run_lines
        self.summary.bytes_read = self.run_bytes
        self.summary.quarantined = dict(self.quarantined)
        self.summary.elapsed_s = time.monotonic() - self.run_started


def _refuse_if_appended(path: Path, size: int, other: FileProgress) -> None:
    """Refuse ``path`` if it is the file ``other`` describes with bytes appended to it."""
    if (
        other.size_bytes >= size
        or file_fingerprint(path, size=other.size_bytes) != other.fingerprint
    ):
        return
    state = "ingested" if other.done else f"ingested up to line {other.next_line}"
    raise FileChangedError(
        f"{path.name}: appended to after it was ingested: its first {other.size_bytes:,} bytes "
        f"were {state} ({other.sent:,} sent) at {other.updated_at.isoformat()}, fingerprint "
        f"{other.fingerprint}; they are not sent again and the {size - other.size_bytes:,} new "
        "bytes are not sent: put new lines in a file of their own"
    )


def _refuse_if_grown(path: Path, size: int, summary: FileSummary) -> None:
    """Refuse a file that grew while it was ingested (its first ``size`` bytes were)."""
    try:
        now = path.stat().st_size
    except OSError:
        return
    if summary.status == "ingested" and now > size:
        raise FileChangedError(
            f"{path.name}: appended to after it was ingested: it grew from {size:,} to {now:,} "
            f"bytes while it was ingested; its first {size:,} bytes were ingested "
            f"({summary.sent:,} sent), the rest is not sent: put new lines in a file of their own"
        )

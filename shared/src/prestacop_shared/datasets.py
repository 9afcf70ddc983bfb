"""The dataset catalogue: what is stored, from which topic, in which folder, partitioned how.

stream-storage writes these folders and analytics reads them; both take the names from here.
Layout under the data directory (``STORAGE_DATA_DIR`` / ``ANALYTICS_DATA_DIR``), each folder one
Spark file sink with its own ``_spark_metadata`` log, partitioned by ``event_date=YYYY-MM-DD``
(:class:`PartitionRule`)::

    drone_msg/status/             drone.status               date of emitted_at (UTC)
    drone_msg/violations/         drone.violations           date of emitted_at (UTC)
    drone_msg/alerts/             drone.alerts               date of emitted_at (UTC)
    drone_msg/alert_resolutions/  drone.alert-resolutions    date of emitted_at (UTC)
    archived_nypd_msg/            nypd.tickets               first day of the issue month
    quarantine/<dataset>/         messages of that dataset's topic that did not fit its model,
                                  partitioned by the date of their Kafka timestamp

Bad input is kept in two places by design: a producer that can tell a record is bad before
sending it (the csv-ingestor, the alert-mailer) sends it to the topic's dead-letter topic
(:attr:`Dataset.dead_letter_topic`); a message that reached the data topic but does not fit the
model is quarantined by stream-storage (:meth:`Dataset.quarantine_dir`).

How the stored files are laid out (:class:`FileLayout`, per dataset): the drone datasets and every
quarantine are written by Spark's CSV sink, each file starting with its header line. Tickets are
written by Spark's text sink (the ``T1`` value's CSV fields as they arrive, plus the Kafka
position, see ``TICKET-LINES-SPEC``): the files hold no header; the header is the one line of
``<folder>/_header.csv`` (:data:`HEADER_FILE`), which stream-storage writes atomically before
its query starts. A reader tells the two apart with :func:`files_carry_header`, so folders
written either way (older stores, test fixtures written by the CSV sink) read alike.

Checkpoints of stream-storage's queries live under its checkpoint root as ``<dataset>/`` and,
for the drone datasets' separate quarantine queries, ``quarantine/<dataset>/`` (tickets are
stored and quarantined by one query, under ``tickets/``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Final

from prestacop_shared import topics
from prestacop_shared.events import Alert, AlertResolution, DroneStatus, Event, Violation
from prestacop_shared.tickets import HistoricalTicket

QUARANTINE_FOLDER: Final = "quarantine"
"""Folder (under the data directory) of every dataset's quarantine sink."""

DRONE_FOLDER: Final = PurePosixPath("drone_msg")
"""Folder (under the data directory) that holds the drone datasets."""

TICKETS_FOLDER: Final = PurePosixPath("archived_nypd_msg")
"""Folder (under the data directory) of the stored historical tickets."""


HEADER_FILE: Final = "_header.csv"
"""File beside a headerless dataset's data: its column names in file order, one CSV line.

Its name starts with ``_`` so Spark's file listing skips it, and the sink log never lists it."""


class FileLayout(StrEnum):
    """How stream-storage writes a dataset's files."""

    CSV_WITH_HEADER = "csv_with_header"
    """Spark's CSV sink: every file starts with the header line."""
    CSV_HEADER_BESIDE = "csv_header_beside"
    """Spark's text sink of ready CSV lines: no header in the files, it is :data:`HEADER_FILE`."""


def files_carry_header(folder: Path) -> bool:
    """Whether the files of the stored folder start with a header line (no :data:`HEADER_FILE`).

    The one test every reader (Spark's :func:`prestacop_shared.spark.read_dataset`, the DuckDB
    oracles, the benchmarks) applies, so that both layouts of :class:`FileLayout` read alike.
    """
    return not (folder / HEADER_FILE).is_file()


class PartitionRule(StrEnum):
    """Which date a stored row is filed under (its ``event_date`` partition)."""

    EMITTED_DATE = "emitted_date"
    """The UTC date of ``emitted_at``: one folder per day."""
    ISSUE_MONTH = "issue_month"
    """The first day of the month of a ticket's date, one folder per month. The ticket's date is
    the one its T1 value carries (``prestacop_shared.ticket_lines``): the issue date when it is a
    calendar date, else the UTC date of ``emitted_at``; the day itself stays in ``issue_date``.

    By month, not by day: a fiscal year's tickets span about 365 days, so per-day folders made
    every storage task keep one file open per day (≈ 730 files per batch on 2 cores). Measured
    with Spark writing 1M T1 values from Kafka on 2 cores, partitioned by day took 11.9 s, by
    month 2.6 s, unpartitioned 2.2 s; the analytics scan reads fewer, larger files too."""


@dataclass(frozen=True)
class Dataset:
    """One stored dataset: the topic it comes from, the model of its rows, its folder.

    Attributes:
        name: the dataset's name on the command line, in checkpoint and quarantine folders.
        topic: the catalogue topic it is stored from (without deployment prefix).
        model: the pydantic model of the topic's messages and of the stored rows.
        folder: output folder relative to the data directory.
        partition_rule: which date a row is filed under.
        layout: how stream-storage writes the files (header in them or beside them).
    """

    name: str
    topic: str
    model: type[Event]
    folder: PurePosixPath
    partition_rule: PartitionRule = PartitionRule.EMITTED_DATE
    layout: FileLayout = FileLayout.CSV_WITH_HEADER

    @property
    def filed_by_month(self) -> bool:
        """Whether rows are filed under the first day of their month instead of their day."""
        return self.partition_rule is PartitionRule.ISSUE_MONTH

    @property
    def dead_letter_topic(self) -> str | None:
        """The dead-letter topic producers of :attr:`topic` send unsendable records to."""
        return topics.CATALOGUE[self.topic].dead_letter_topic

    @property
    def quarantine_folder(self) -> PurePosixPath:
        """The quarantine sink folder relative to the data directory."""
        return PurePosixPath(QUARANTINE_FOLDER) / self.name

    def output_dir(self, data_dir: Path) -> Path:
        """The file sink folder of the valid rows."""
        return data_dir / self.folder

    def header_file(self, data_dir: Path) -> Path:
        """Where the header of a :attr:`FileLayout.CSV_HEADER_BESIDE` dataset lives."""
        return self.output_dir(data_dir) / HEADER_FILE

    def quarantine_dir(self, data_dir: Path) -> Path:
        """The file sink folder of this dataset's quarantined messages."""
        return data_dir / self.quarantine_folder

    def checkpoint_dir(self, checkpoint_root: Path) -> Path:
        """The checkpoint of the query that stores the valid rows."""
        return checkpoint_root / self.name

    def quarantine_checkpoint_dir(self, checkpoint_root: Path) -> Path:
        """The checkpoint of the query that stores the quarantined messages."""
        return checkpoint_root / QUARANTINE_FOLDER / self.name

    @property
    def stored_columns(self) -> tuple[str, ...]:
        """Columns of a stored row, in file order, partition column last (needs pyspark)."""
        from prestacop_shared.spark import stored_schema

        return tuple(stored_schema(self.model).fieldNames())

    @property
    def file_columns(self) -> tuple[str, ...]:
        """Columns written in each stored line (:attr:`stored_columns` but the partition)."""
        from prestacop_shared.spark import PARTITION_COLUMN

        return tuple(name for name in self.stored_columns if name != PARTITION_COLUMN)


STATUS: Final = Dataset("status", topics.DRONE_STATUS, DroneStatus, DRONE_FOLDER / "status")
VIOLATIONS: Final = Dataset(
    "violations", topics.DRONE_VIOLATIONS, Violation, DRONE_FOLDER / "violations"
)
ALERTS: Final = Dataset("alerts", topics.DRONE_ALERTS, Alert, DRONE_FOLDER / "alerts")
ALERT_RESOLUTIONS: Final = Dataset(
    "alert_resolutions",
    topics.DRONE_ALERT_RESOLUTIONS,
    AlertResolution,
    DRONE_FOLDER / "alert_resolutions",
)
TICKETS: Final = Dataset(
    "tickets",
    topics.NYPD_TICKETS,
    HistoricalTicket,
    TICKETS_FOLDER,
    PartitionRule.ISSUE_MONTH,
    FileLayout.CSV_HEADER_BESIDE,
)

DATASETS: Final[dict[str, Dataset]] = {
    dataset.name: dataset for dataset in (STATUS, VIOLATIONS, ALERTS, ALERT_RESOLUTIONS, TICKETS)
}
"""Every stored dataset, by name."""

"""What stream-storage stores: one dataset per topic, its model, and where it lives on disk.

Layout under ``STORAGE_DATA_DIR`` (each folder is one Spark file sink with its own
``_spark_metadata`` log, partitioned by ``event_date=YYYY-MM-DD``)::

    drone_msg/status/             drone.status
    drone_msg/violations/         drone.violations
    drone_msg/alerts/             drone.alerts
    drone_msg/alert_resolutions/  drone.alert-resolutions
    archived_nypd_msg/            nypd.tickets
    quarantine/<dataset>/         messages of that dataset's topic that did not fit its model

Checkpoints, one per query, live under ``STORAGE_CHECKPOINT_DIR`` as ``<dataset>/`` and
``quarantine/<dataset>/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Final

from prestacop_shared import topics
from prestacop_shared.events import Alert, AlertResolution, DroneStatus, Event, Violation
from prestacop_shared.spark import QUARANTINE_SCHEMA, stored_schema
from prestacop_shared.tickets import HistoricalTicket

QUARANTINE_FOLDER: Final = "quarantine"


@dataclass(frozen=True)
class Dataset:
    """One stored dataset: the topic it comes from, the model of its rows, its folder.

    Attributes:
        name: the dataset's name on the command line and in checkpoint folders.
        topic: topic name from :mod:`prestacop_shared.topics` (without deployment prefix).
        model: the pydantic model of the topic's messages and of the stored rows.
        folder: output folder relative to the data directory.
        dated_by_issue_date: partition by the ticket's issue date instead of ``emitted_at``.
    """

    name: str
    topic: str
    model: type[Event]
    folder: PurePosixPath
    dated_by_issue_date: bool = False

    def output_dir(self, data_dir: Path) -> Path:
        """The file sink folder of the valid rows."""
        return data_dir / self.folder

    def quarantine_dir(self, data_dir: Path) -> Path:
        """The file sink folder of this dataset's quarantined messages."""
        return data_dir / QUARANTINE_FOLDER / self.name

    def checkpoint_dir(self, checkpoint_root: Path) -> Path:
        """The checkpoint of the query that stores the valid rows."""
        return checkpoint_root / self.name

    def quarantine_checkpoint_dir(self, checkpoint_root: Path) -> Path:
        """The checkpoint of the query that stores the quarantined messages."""
        return checkpoint_root / QUARANTINE_FOLDER / self.name

    @property
    def stored_columns(self) -> tuple[str, ...]:
        """Columns of a stored row, in file order, partition column last."""
        return tuple(stored_schema(self.model).fieldNames())


DATASETS: Final[dict[str, Dataset]] = {
    dataset.name: dataset
    for dataset in (
        Dataset("status", topics.DRONE_STATUS, DroneStatus, PurePosixPath("drone_msg/status")),
        Dataset(
            "violations", topics.DRONE_VIOLATIONS, Violation, PurePosixPath("drone_msg/violations")
        ),
        Dataset("alerts", topics.DRONE_ALERTS, Alert, PurePosixPath("drone_msg/alerts")),
        Dataset(
            "alert_resolutions",
            topics.DRONE_ALERT_RESOLUTIONS,
            AlertResolution,
            PurePosixPath("drone_msg/alert_resolutions"),
        ),
        Dataset(
            "tickets",
            topics.NYPD_TICKETS,
            HistoricalTicket,
            PurePosixPath("archived_nypd_msg"),
            dated_by_issue_date=True,
        ),
    )
}
"""Every dataset stream-storage knows, by name."""

QUARANTINE_COLUMNS: Final[tuple[str, ...]] = tuple(QUARANTINE_SCHEMA.fieldNames())
"""Columns of a quarantined message, in file order, partition column last."""

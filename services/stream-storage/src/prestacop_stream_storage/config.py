"""Settings of stream-storage (environment prefix ``STORAGE_``).

Spark comes from :class:`prestacop_shared.spark.SparkSettings` (``SPARK_``) and Kafka from
:class:`prestacop_shared.kafka.KafkaSettings` (``KAFKA_``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from prestacop_shared.service_http import HttpSettings
from prestacop_stream_storage.datasets import DATASETS


class Settings(HttpSettings):
    """Where stream-storage writes and how it paces its micro-batches."""

    model_config = SettingsConfigDict(env_prefix="STORAGE_", extra="ignore", frozen=True)

    data_dir: Path = Field(
        default=Path("data"), description="Root of the stored datasets (STORAGE_DATA_DIR)"
    )
    checkpoint_dir: Path | None = Field(
        default=None,
        description="Root of the queries' checkpoints (STORAGE_CHECKPOINT_DIR); "
        "default <STORAGE_DATA_DIR>/_checkpoints",
    )
    datasets: str = Field(
        default="all",
        description="Comma-separated datasets to store, or 'all' (STORAGE_DATASETS)",
    )
    trigger_interval_s: float = Field(
        default=10.0,
        ge=0.0,
        description="Seconds between micro-batches; 0 runs them back to back "
        "(STORAGE_TRIGGER_INTERVAL_S)",
    )
    max_offsets_per_trigger: int = Field(
        default=1_000_000,
        ge=1,
        description="Most Kafka records one micro-batch reads, over all partitions "
        "(STORAGE_MAX_OFFSETS_PER_TRIGGER)",
    )
    min_kafka_partitions: int | None = Field(
        default=None,
        ge=1,
        description="Split Kafka reads into at least this many Spark tasks (Spark's "
        "minPartitions; STORAGE_MIN_KAFKA_PARTITIONS); default one task per topic partition",
    )
    open_files_per_task: int = Field(
        default=512,
        ge=0,
        description="Partition files one write task keeps open before Spark sorts its rows by "
        "date instead (spark.sql.maxConcurrentOutputFileWriters; "
        "STORAGE_OPEN_FILES_PER_TASK); 0 always sorts",
    )
    fail_on_data_loss: bool = Field(
        default=True,
        description="Stop when offsets to store were deleted by retention before being stored "
        "(STORAGE_FAIL_ON_DATA_LOSS)",
    )
    stop_timeout_s: float = Field(
        default=120.0,
        gt=0.0,
        description="On SIGTERM, how long to let a running micro-batch finish before "
        "interrupting it (STORAGE_STOP_TIMEOUT_S)",
    )
    stalled_after_s: float = Field(
        default=300.0,
        gt=0.0,
        description="/healthz says stalled when no query committed a micro-batch or reported "
        "an idle trigger for this long (STORAGE_STALLED_AFTER_S); keep it above Spark's 10 s "
        "idle-progress interval and the longest expected micro-batch",
    )
    log_level: str = "INFO"

    @field_validator("datasets")
    @classmethod
    def _known_datasets(cls, value: str) -> str:
        names = [name.strip() for name in value.split(",") if name.strip()]
        if names == ["all"]:
            return "all"
        unknown = [name for name in names if name not in DATASETS]
        if not names or unknown:
            raise ValueError(
                f"expected 'all' or a comma-separated subset of {', '.join(DATASETS)}; "
                f"unknown: {', '.join(unknown) or '(empty)'}"
            )
        return ",".join(dict.fromkeys(names))

    @property
    def checkpoint_root(self) -> Path:
        """Where checkpoints live: ``STORAGE_CHECKPOINT_DIR`` or ``<data dir>/_checkpoints``."""
        return self.checkpoint_dir or self.data_dir / "_checkpoints"

    @property
    def dataset_names(self) -> tuple[str, ...]:
        """The datasets to store, in the registry's order."""
        if self.datasets == "all":
            return tuple(DATASETS)
        chosen = set(self.datasets.split(","))
        return tuple(name for name in DATASETS if name in chosen)

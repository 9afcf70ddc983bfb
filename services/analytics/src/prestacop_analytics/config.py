"""Settings of prestacop-analytics (environment prefix ``ANALYTICS_``).

Spark itself is configured by :class:`prestacop_shared.spark.SparkSettings` (prefix ``SPARK_``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from prestacop_shared import datasets
from prestacop_shared.config import check_bearer_token, read_secret_file


class AnalyticsSettings(BaseSettings):
    """Where the stored data and the reports live, and how the API listens."""

    model_config = SettingsConfigDict(env_prefix="ANALYTICS_", extra="ignore", frozen=True)

    DATA_DIR: Path = Field(
        default=Path("data"),
        description="Root of stream-storage's output (ANALYTICS_DATA_DIR), laid out as "
        "prestacop_shared.datasets says",
    )
    REPORTS_DIR: Path | None = Field(
        default=None, description="Where reports are written (default: <DATA_DIR>/reports)"
    )
    API_TOKEN: SecretStr | None = Field(
        default=None,
        description="Bearer token for POST /api/runs (ANALYTICS_API_TOKEN); unset, the API and "
        "dashboard are served read-only and runs cannot be triggered",
    )
    API_TOKEN_FILE: Path | None = Field(
        default=None, description="File holding the token instead (ANALYTICS_API_TOKEN_FILE)"
    )
    STATE_DIR: Path | None = Field(
        default=None,
        description="Kept state of incremental runs: counted files and partial aggregates "
        "(ANALYTICS_STATE_DIR, default: <reports>/.state)",
    )
    HTTP_HOST: str = "127.0.0.1"
    HTTP_PORT: int = Field(default=8090, ge=1, le=65535)
    TOP_REPEATED_SUMMONS: int = Field(
        default=100, ge=1, description="How many repeated summons numbers the report lists"
    )
    MAX_PARTIALS: int = Field(
        default=64,
        ge=1,
        description="Partial folders the kept state may hold (ANALYTICS_MAX_PARTIALS): a run "
        "with new files that finds this many recounts every committed file into one folder "
        "instead, so what each run merges stays bounded",
    )
    COLLECT_PARTIAL_MAX_MB: float = Field(
        default=64,
        ge=0,
        description="An input whose new files hold at most this many MB "
        "(ANALYTICS_COLLECT_PARTIAL_MAX_MB) has its partial written on the driver: the tickets' "
        "computed there by the Arrow function Spark's tasks run, the others collected from Spark "
        "with Arrow; bigger ones are computed and written by Spark. Same partial either way; 0: "
        "always Spark",
    )
    POSITION_CELL_DEG: float = Field(
        default=0.005, gt=0.0, le=1.0, description="Grid cell of the violations map, degrees"
    )
    LOG_LEVEL: str = "INFO"

    @model_validator(mode="after")
    def _read_token_file(self) -> Self:
        if self.API_TOKEN is None and self.API_TOKEN_FILE is not None:
            token = read_secret_file(self.API_TOKEN_FILE, "ANALYTICS_API_TOKEN_FILE")
            object.__setattr__(self, "API_TOKEN", SecretStr(token))
        if self.API_TOKEN is not None:
            check_bearer_token(self.API_TOKEN.get_secret_value(), "ANALYTICS_API_TOKEN")
        return self

    @property
    def reports_dir(self) -> Path:
        """The reports folder (``REPORTS_DIR`` or ``<DATA_DIR>/reports``)."""
        return self.REPORTS_DIR if self.REPORTS_DIR is not None else self.DATA_DIR / "reports"

    @property
    def state_dir(self) -> Path:
        """The state folder (``STATE_DIR`` or ``<reports>/.state``)."""
        return self.STATE_DIR if self.STATE_DIR is not None else self.reports_dir / ".state"

    @property
    def tickets_dir(self) -> Path:
        """Stored historical tickets (HistoricalTicket)."""
        return datasets.TICKETS.output_dir(self.DATA_DIR)

    def dataset_dir(self, dataset: datasets.Dataset) -> Path:
        """Where stream-storage stores ``dataset`` under ``DATA_DIR``."""
        return dataset.output_dir(self.DATA_DIR)

    @property
    def quarantine_dir(self) -> Path:
        """Stored records that could not be decoded, with the reason (one sink per dataset)."""
        return self.DATA_DIR / datasets.QUARANTINE_FOLDER

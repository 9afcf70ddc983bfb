"""Settings of the drone service (environment prefix ``DRONE_``), validated at start.

Every setting is also a CLI flag of ``prestacop-drone`` (flags win over the environment); an
invalid value stops the service with a message naming the environment variable.
"""

from __future__ import annotations

import re
import socket
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from prestacop_shared.fleet import drone_id

_FLEET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class DroneSettings(BaseSettings):
    """How many drones this process simulates, how they behave and where they report."""

    model_config = SettingsConfigDict(env_prefix="DRONE_", extra="ignore", frozen=True)

    count: int = Field(default=5, ge=1, le=1_000_000, description="Drones in this process")
    interval_s: float = Field(default=1.0, gt=0, le=3600, description="Seconds between statuses")
    violation_probability: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Chance that a patrolling status comes with an offence",
    )
    alert_probability: float = Field(
        default=0.01, ge=0, le=1, description="Chance that an offence becomes an alert"
    )
    seed: int | None = Field(default=None, description="Same seed, same events (not timestamps)")
    duration_s: float | None = Field(default=None, gt=0, description="Stop after this long")
    max_messages: int | None = Field(default=None, ge=1, description="Stop after this many")
    fleet: str = Field(default="nypd", description="First part of every drone id")
    host: str = Field(
        default_factory=lambda: socket.gethostname(),
        min_length=1,
        description="Second part of drone ids",
    )
    ids: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="Explicit comma-separated drone ids (replace count/fleet/host)"
    )
    http_port: int = Field(default=0, ge=0, le=65535, description="/healthz + /metrics; 0 = off")
    http_host: str = Field(
        default="0.0.0.0",  # noqa: S104 - containers must expose /metrics to the scraper
        description="Address the HTTP server binds",
    )
    log_level: LogLevel = "INFO"
    battery_drain_pct_per_s: float = Field(
        default=0.05, gt=0, le=100, description="Battery used per second of flight (~33 min)"
    )
    battery_charge_pct_per_s: float = Field(
        default=0.2, gt=0, le=100, description="Battery gained per second at base (~8 min)"
    )
    flush_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="At the end of --duration-s / --max-messages: how long to wait for "
        "acknowledgements",
    )
    shutdown_flush_s: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="On SIGTERM/SIGINT: how long to wait for acknowledgements before giving up "
        "on the rest (counted as undelivered); keep it under the orchestrator's grace period "
        "(docker compose: 10 s)",
    )
    queue_max_messages: int = Field(
        default=100_000,
        ge=1,
        le=10_000_000,
        description="Events the producer holds while the broker is slow or away "
        "(queue.buffering.max.messages); when full, the simulation waits",
    )

    @field_validator("ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("ids")
    @classmethod
    def _unique_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        duplicates = sorted({i for i in value if value.count(i) > 1})
        if duplicates:
            raise ValueError(f"drone ids must be unique, repeated: {', '.join(duplicates)}")
        too_long = [i for i in value if len(i) > 128]
        if too_long:
            raise ValueError(f"drone ids are at most 128 characters: {too_long[0][:40]}...")
        return value

    @field_validator("fleet")
    @classmethod
    def _check_fleet(cls, value: str) -> str:
        if not _FLEET_NAME.match(value):
            raise ValueError(
                "fleet must be 1-32 lower-case letters, digits or '-', starting with a letter or "
                "digit (e.g. 'nypd')"
            )
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check_alert_needs_violations(self) -> DroneSettings:
        if self.alert_probability > 0 and self.violation_probability == 0:
            raise ValueError(
                "alerts replace violations: DRONE_ALERT_PROBABILITY > 0 needs "
                "DRONE_VIOLATION_PROBABILITY > 0"
            )
        return self

    def drone_ids(self) -> list[str]:
        """The ids of the drones this process simulates: explicit ``ids`` or generated ones.

        Example:
            >>> DroneSettings(count=2, fleet="nypd", host="drone-7f3a").drone_ids()
            ['nypd-drone-7f3a-0000', 'nypd-drone-7f3a-0001']
        """
        if self.ids:
            return list(self.ids)
        return [drone_id(self.fleet, self.host, index) for index in range(self.count)]

"""Settings of the csv-ingestor (environment prefix ``INGESTOR_``); Kafka comes from ``KAFKA_``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from prestacop_shared.service_http import HttpSettings


class Settings(HttpSettings):
    """How the ingestor reads files and batches them into Kafka transactions."""

    model_config = SettingsConfigDict(env_prefix="INGESTOR_", extra="ignore", frozen=True)

    fleet: str = Field(default="nypd", min_length=1, description="Fleet part of archive drone ids")
    fleet_size: int = Field(
        default=100, ge=1, le=10_000, description="Archive drones to spread tickets over"
    )
    block_bytes: int = Field(
        default=2 * 1024 * 1024, ge=64 * 1024, description="Bytes read from the file at a time"
    )
    max_record_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="Longest record accepted; longer ones are quarantined",
    )
    max_record_lines: int = Field(
        default=16, ge=1, description="Most physical lines one quoted record may span"
    )
    commit_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="Commit a Kafka transaction (and the file position) this often",
    )
    fallback_encoding: Literal["none", "cp1252"] = Field(
        default="none",
        description="Lines that are not UTF-8: 'none' quarantines them, 'cp1252' re-decodes them",
    )
    transactional_id_prefix: str = Field(default="prestacop-csv-ingestor", min_length=1)
    dlq_raw_keep_chars: int = Field(default=4096, ge=64)
    repeated_expected_rows: int = Field(
        default=12_000_000, ge=1000, description="Sizes the Bloom filter counting repeated summons"
    )
    max_rows_per_s: float | None = Field(default=None, gt=0)
    max_mb_per_s: float | None = Field(default=None, gt=0)
    log_every_s: float = Field(default=10.0, gt=0, description="Progress log period off a terminal")
    inbox: Path | None = Field(default=None, description="Folder watched by `watch`")
    poll_interval_s: float = Field(default=2.0, gt=0, description="How often `watch` looks")
    settle_s: float = Field(
        default=5.0,
        ge=0,
        description="`watch` takes a file once its size and mtime have not changed this long",
    )
    log_level: str = "INFO"
    compression: Literal["none", "lz4", "zstd", "snappy", "gzip"] = Field(
        default="lz4", description="Compression of ticket batches on the wire"
    )
    linger_ms: int = Field(default=20, ge=0)
    producer_buffer_kb: int = Field(
        default=16_384, ge=1024, description="librdkafka's send buffer (bounds memory)"
    )
    producer_queue_messages: int = Field(
        default=200_000, ge=1000, description="librdkafka's queue.buffering.max.messages"
    )
    batch_bytes: int = Field(
        default=1_000_000, ge=16_384, description="librdkafka's batch.size (bytes per batch)"
    )
    batch_messages: int = Field(
        default=10_000, ge=100, description="librdkafka's batch.num.messages"
    )
    stalled_after_s: float = Field(
        default=300.0,
        gt=0,
        description="/healthz says stalled when a file is being ingested and no transaction "
        "committed for this long (INGESTOR_STALLED_AFTER_S)",
    )

"""Errors of the csv-ingestor, under one root."""

from __future__ import annotations

from prestacop_shared.exceptions import PrestacopError


class IngestorError(PrestacopError):
    """Root of every csv-ingestor error."""


class FileRefusedError(IngestorError):
    """The file is not a parking-tickets file (empty, unreadable header, unknown layout)."""


class ProgressError(IngestorError):
    """The progress topic could not be read or holds a record we cannot understand."""


class DeliveryError(IngestorError):
    """Kafka refused a transaction (fenced by another instance, broker unreachable...)."""


class FileChangedError(FileRefusedError):
    """The file was appended to after (or while) it was ingested: its new bytes are not sent."""

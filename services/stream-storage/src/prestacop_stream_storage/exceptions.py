"""Errors of stream-storage, under one root."""

from prestacop_shared.exceptions import PrestacopError


class StreamStorageError(PrestacopError):
    """Root of every error raised by stream-storage."""


class UnknownDatasetError(StreamStorageError):
    """A dataset name that stream-storage does not know (``--datasets``/``STORAGE_DATASETS``)."""


class CheckpointMismatchError(StreamStorageError):
    """A checkpoint and an output folder that do not belong together.

    A new checkpoint over an old output folder (or the reverse) would re-store or skip data, so
    stream-storage refuses to start instead.
    """


class QueryFailedError(StreamStorageError):
    """A streaming query stopped with an error."""


class KafkaUnavailableError(StreamStorageError):
    """The broker did not answer while stream-storage prepared its topics."""


class HttpUnavailableError(StreamStorageError):
    """The /healthz and /metrics server cannot listen where ``STORAGE_HTTP_PORT`` says."""


class FunctionsJarMissingError(StreamStorageError):
    """Spark cannot load stream-storage's Java function: its jar is not on the classpath."""

"""Errors of the schema package, under one root."""


class PrestacopError(Exception):
    """Root of every error raised by the schema package."""


class DeserializationError(PrestacopError):
    """A message could not be decoded into its model.

    Attributes:
        reason: why, in a sentence fit for a dead-letter record.
        raw: the offending bytes (possibly truncated by the caller before storing).
    """

    def __init__(self, reason: str, raw: bytes) -> None:
        super().__init__(reason)
        self.reason = reason
        self.raw = raw


class ConfigError(PrestacopError):
    """A setting is missing or malformed; the message names the variable and the expected form."""


class UnknownViolationCode(PrestacopError):
    """A violation code that is not in the DOF table."""

"""Errors of the drone service, under one root."""


class DroneError(Exception):
    """Root of every error raised by the drone service."""


class UndeliveredMessages(DroneError):
    """Some messages were not acknowledged by the broker before the producer closed."""


class HealthServerError(DroneError):
    """The /healthz and /metrics server could not start (port taken, bad address)."""

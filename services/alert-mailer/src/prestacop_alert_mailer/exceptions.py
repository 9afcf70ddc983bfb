"""Errors of the alert mailer, under one root."""


class AlertMailerError(Exception):
    """Root of every error raised by the alert mailer."""


class StateError(AlertMailerError):
    """The durable state (SQLite in ``MAILER_STATE_DIR``) cannot be opened or written."""


class PublishError(AlertMailerError):
    """An operator resolution could not be published to Kafka."""


class UnknownAlert(AlertMailerError):
    """No alert with this id has been received."""


class ResolutionConflict(AlertMailerError):
    """The alert was already resolved; ``existing`` is the resolution that stands."""

    def __init__(self, message: str, existing: object) -> None:
        super().__init__(message)
        self.existing = existing


class SendAbandoned(AlertMailerError):
    """The mailer was asked to stop before the SMTP server accepted the email."""


class MissingPlate(AlertMailerError):
    """The alert has no readable plate and the operator did not give one."""


class SendFailed(AlertMailerError):
    """The email will not be sent: refused permanently (5xx) or in doubt too many times.

    ``reason`` holds the SMTP server's reply; the alert goes to the dead-letter topic with it.
    """

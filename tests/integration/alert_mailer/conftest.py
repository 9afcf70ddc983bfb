"""Fixtures of the mailer's integration tests (defined in :mod:`.harness`)."""

from tests.integration.alert_mailer.harness import (
    holding_smtp_server,
    mailer_factory,
    scripted_smtp_server,
)

__all__ = ["holding_smtp_server", "mailer_factory", "scripted_smtp_server"]

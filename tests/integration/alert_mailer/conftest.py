"""Fixtures of the mailer's integration tests (defined in :mod:`.harness`)."""

from tests.integration.alert_mailer.harness import mailer_factory

__all__ = ["mailer_factory"]

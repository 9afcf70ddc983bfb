"""Fixtures of the mailer's e2e tests (shared with its integration tests)."""

from tests.integration.alert_mailer.harness import mailer_factory

__all__ = ["mailer_factory"]

"""Errors of the analytics service, under one root."""

from prestacop_shared.exceptions import PrestacopError


class AnalyticsError(PrestacopError):
    """Root of every error raised by prestacop-analytics."""


class DatasetError(AnalyticsError):
    """A stored dataset folder exists but is not a stream-storage output folder."""


class ReportNotFoundError(AnalyticsError):
    """No report (or table) of that name exists inside the reports folder."""


class InvalidNameError(AnalyticsError):
    """A report id or table name that does not match its pattern (never looked up on disk)."""


class RunInProgressError(AnalyticsError):
    """A report run was requested while another one is still running."""


class StateError(AnalyticsError):
    """The kept state of incremental runs cannot be read (delete it and run ``--full``)."""

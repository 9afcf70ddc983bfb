"""Errors raised by prestacop_devkit, all under one root: :class:`DevkitError`."""

from __future__ import annotations


class DevkitError(Exception):
    """Root of every error this package raises on purpose."""


class MavenNotFoundError(DevkitError):
    """``mvn`` is not on ``PATH``, so the jars cannot be fetched."""


class JavaNotFoundError(DevkitError):
    """No ``java`` (17+) in ``$JAVA_HOME/bin`` nor on ``PATH``."""


class JarFetchError(DevkitError):
    """``mvn dependency:copy-dependencies`` failed; the message ends with mvn's output tail."""


class JarsNotFetchedError(DevkitError):
    """The jars are needed at run time but the setup step (``fetch-jars``) has not run."""


class BrokerError(DevkitError):
    """Something went wrong managing the local Kafka broker."""


class BrokerStartError(BrokerError):
    """The broker did not come up; the message ends with the tail of its log."""


class BrokerAlreadyRunning(BrokerError):  # noqa: N818 - the name other code imports
    """A broker started from the same data directory is still running.

    Attributes:
        pid: Process id of the running broker.
        bootstrap_servers: Address it serves.
    """

    def __init__(self, pid: int, bootstrap_servers: str) -> None:
        super().__init__(f"Kafka already running at {bootstrap_servers} (pid {pid})")
        self.pid = pid
        self.bootstrap_servers = bootstrap_servers


class PerfToolError(DevkitError):
    """A Kafka perf tool failed or printed no summary this package can parse."""

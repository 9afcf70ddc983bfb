"""A real single-node Apache Kafka broker (KRaft, broker + controller) run from Maven jars.

No Docker, no tarball: the classpath comes from :func:`prestacop_devkit.jars.kafka_classpath`.
Everything the broker owns lives in one data directory::

    <data_dir>/server.properties   written on every start
    <data_dir>/log4j2.xml          logging config: everything goes to logs/server.log
    <data_dir>/kraft/              log.dirs (topic data and the KRaft metadata log)
    <data_dir>/logs/               server.log (log4j) and stdout.log (the JVM's own output)
    <data_dir>/kafka.pid           pid of the running broker (it leads its own process group)

Storage is formatted only once, so stopping and starting on the same directory keeps every topic
and message: tests use that to take the broker away for a while.

Example:
    >>> with LocalKafka(tmp_path / "kafka", port=free_port(), controller_port=free_port()) as kafka:
    ...     Producer({"bootstrap.servers": kafka.bootstrap_servers})  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import logging
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from types import TracebackType

from confluent_kafka.admin import AdminClient

from prestacop_devkit.exceptions import BrokerAlreadyRunning, BrokerError, BrokerStartError
from prestacop_devkit.jars import java_executable, kafka_classpath
from prestacop_devkit.kraft_config import (
    log4j2_xml,
    parse_listener_address,
    render_properties,
    server_properties,
)
from prestacop_devkit.perf import (  # re-exported: the perf tools run from the broker's jars
    ConsumerPerfResult,
    PerfResult,
    consumer_perf_test,
    producer_perf_test,
)

__all__ = [
    "BrokerAlreadyRunning",
    "ConsumerPerfResult",
    "LocalKafka",
    "PerfResult",
    "consumer_perf_test",
    "free_port",
    "free_ports",
    "producer_perf_test",
]

logger = logging.getLogger(__name__)

_LOG_TAIL_LINES = 60


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_ports(count: int) -> list[int]:
    """Return ``count`` distinct TCP ports on 127.0.0.1 that nothing listens on right now.

    All sockets stay open until every port is chosen, so the kernel cannot hand one out twice
    (consecutive :func:`free_port` calls can).
    """
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    if not path.is_file():
        return f"({path} does not exist)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _kafka_uuid() -> str:
    """A cluster id in Kafka's format (base64url of 16 random bytes, no padding)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


class LocalKafka:
    """A single-node KRaft Kafka broker running as a detached Java process.

    Args:
        data_dir: Directory owning the broker's config, data, logs and pid file.
        port: Client (PLAINTEXT) port on 127.0.0.1.
        controller_port: KRaft controller port on 127.0.0.1.
        heap: JVM max heap (``-Xmx``), e.g. ``"512m"``.
    """

    def __init__(
        self, data_dir: Path, port: int = 9092, controller_port: int = 9093, heap: str = "512m"
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        self._process: subprocess.Popen[bytes] | None = None

    @classmethod
    def on_free_ports(cls, data_dir: Path, heap: str = "512m") -> LocalKafka:
        """A broker owning ``data_dir`` on two ports nothing listens on now (:func:`free_ports`),
        not started: ``with LocalKafka.on_free_ports(folder) as kafka:`` runs it for a block."""
        port, controller_port = free_ports(2)
        return cls(data_dir, port=port, controller_port=controller_port, heap=heap)

    @property
    def bootstrap_servers(self) -> str:
        """The address clients connect to, ``127.0.0.1:<port>``."""
        return f"127.0.0.1:{self.port}"

    @property
    def properties_file(self) -> Path:
        """The broker's ``server.properties``."""
        return self.data_dir / "server.properties"

    @property
    def pid_file(self) -> Path:
        """File holding the pid of the running broker."""
        return self.data_dir / "kafka.pid"

    @property
    def log_file(self) -> Path:
        """The broker's log4j log."""
        return self.data_dir / "logs" / "server.log"

    @property
    def stdout_file(self) -> Path:
        """The JVM's stdout and stderr."""
        return self.data_dir / "logs" / "stdout.log"

    # -- state -------------------------------------------------------------------------------

    def pid(self) -> int | None:
        """Return the pid of the broker running from this data directory, or None."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if self._is_our_broker(pid) else None

    def _is_our_broker(self, pid: int) -> bool:
        """True if ``pid`` is alive and is a Kafka broker reading our properties (not a reused pid)."""
        if (
            self._process is not None
            and self._process.pid == pid
            and self._process.poll() is not None
        ):
            return False
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            return False
        except OSError:  # no /proc: fall back to "the pid exists"
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return False
            return True
        return b"kafka.Kafka" in cmdline and str(self.properties_file).encode() in cmdline

    def is_running(self) -> bool:
        """True if a broker started from this data directory is alive."""
        return self.pid() is not None

    def recorded_bootstrap_servers(self) -> str:
        """The client address written in ``server.properties`` by the last start.

        Useful when this object was built with other ports than the running broker's.
        """
        if self.properties_file.is_file():
            recorded = parse_listener_address(self.properties_file.read_text())
            if recorded is not None:
                return recorded
        return self.bootstrap_servers

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout_s: float = 120) -> str:
        """Start the broker and wait until it answers a metadata request.

        Args:
            timeout_s: How long to wait for the broker to answer.

        Returns:
            The bootstrap servers address.

        Raises:
            BrokerAlreadyRunning: a broker from this data directory is already running.
            BrokerStartError: a port is taken, formatting failed, or the broker died or did not
                answer in time (the message ends with the tail of its log).
        """
        running_pid = self.pid()
        if running_pid is not None:
            raise BrokerAlreadyRunning(running_pid, self.recorded_bootstrap_servers())
        for name, port in (("port", self.port), ("controller port", self.controller_port)):
            if _port_in_use(port):
                raise BrokerStartError(
                    f"{name} {port} on 127.0.0.1 is already in use by another process"
                )
        started = time.monotonic()
        classpath = kafka_classpath()
        self._write_config()
        self._format_storage(classpath)
        self._launch(classpath)
        self._wait_until_ready(started + timeout_s)
        logger.info(
            "kafka broker up",
            extra={
                "bootstrap_servers": self.bootstrap_servers,
                "pid": self._process.pid if self._process else None,
                "elapsed_s": round(time.monotonic() - started, 2),
            },
        )
        return self.bootstrap_servers

    def _write_config(self) -> None:
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        settings = server_properties(self.port, self.controller_port, self.data_dir / "kraft")
        self.properties_file.write_text(render_properties(settings))
        (self.data_dir / "log4j2.xml").write_text(log4j2_xml(self.log_file))

    def _java(self, classpath: str, heap: str) -> list[str]:
        return [
            java_executable(),
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.xml'}",
            "-cp",
            classpath,
        ]

    def _format_storage(self, classpath: str) -> None:
        if (self.data_dir / "kraft" / "meta.properties").is_file():
            return
        command = [
            *self._java(classpath, "256m"),
            "kafka.tools.StorageTool",
            "format",
            # One "--opt=value" word: a random id may start with "-", which argparse would
            # take for an option if it stood alone.
            f"--cluster-id={_kafka_uuid()}",
            "-c",
            str(self.properties_file),
        ]
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            command, capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            raise BrokerStartError(
                f"kafka storage format failed (exit {done.returncode}):\n"
                f"{done.stdout}{done.stderr}"[-4000:]
            )
        logger.info("kafka storage formatted", extra={"log_dirs": str(self.data_dir / "kraft")})

    def _launch(self, classpath: str) -> None:
        command = [*self._java(classpath, self.heap), "kafka.Kafka", str(self.properties_file)]
        with open(self.stdout_file, "ab") as out:
            self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                command,
                cwd=self.data_dir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group, survives the CLI that started it
            )
        self.pid_file.write_text(f"{self._process.pid}\n")

    def _wait_until_ready(self, deadline: float) -> None:
        assert self._process is not None  # noqa: S101 - set by _launch
        admin: AdminClient | None = None
        while True:
            if self._process.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise BrokerStartError(
                    f"kafka broker exited with code {self._process.returncode} during start\n"
                    f"{self._log_tails()}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise BrokerStartError(
                    f"kafka broker did not answer at {self.bootstrap_servers} in time\n"
                    f"{self._log_tails()}"
                )
            if _port_in_use(self.port):
                if admin is None:
                    admin = AdminClient(
                        {"bootstrap.servers": self.bootstrap_servers, "log_level": 2}
                    )
                try:
                    metadata = admin.list_topics(timeout=min(2.0, remaining))
                except Exception:  # noqa: BLE001 - KafkaException while the broker settles
                    logger.debug("broker not answering metadata yet", exc_info=True)
                else:
                    if metadata.brokers:
                        return
            time.sleep(0.2)

    def _log_tails(self) -> str:
        return (
            f"--- {self.log_file} (tail) ---\n{_tail(self.log_file)}\n"
            f"--- {self.stdout_file} (tail) ---\n{_tail(self.stdout_file)}"
        )

    def stop(self, timeout_s: float = 30) -> None:
        """Stop the broker gracefully (SIGTERM to its process group), SIGKILL after ``timeout_s``.

        Does nothing if no broker from this data directory is running. No Java process is left.
        """
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return
        self._signal_group(pid, signal.SIGTERM)
        if not self._wait_gone(pid, timeout_s):
            logger.warning("kafka broker ignored SIGTERM, killing it", extra={"pid": pid})
            self._signal_group(pid, signal.SIGKILL)
            if not self._wait_gone(pid, 10):
                raise BrokerError(f"kafka broker pid {pid} survived SIGKILL")
        self.pid_file.unlink(missing_ok=True)
        logger.info("kafka broker stopped", extra={"pid": pid})

    def kill(self) -> None:
        """Kill the broker at once (SIGKILL), as a crash would; data stays on disk."""
        pid = self.pid()
        if pid is not None:
            self._signal_group(pid, signal.SIGKILL)
            if not self._wait_gone(pid, 10):
                raise BrokerError(f"kafka broker pid {pid} survived SIGKILL")
        self.pid_file.unlink(missing_ok=True)

    @staticmethod
    def _signal_group(pid: int, signum: signal.Signals) -> None:
        try:
            os.killpg(pid, signum)
        except ProcessLookupError:
            pass
        except PermissionError:  # not a group leader we own: signal the process alone
            os.kill(pid, signum)

    def _wait_gone(self, pid: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process is not None and self._process.pid == pid:
                try:
                    self._process.wait(timeout=0.1)
                except subprocess.TimeoutExpired:
                    continue
                return True
            if not self._is_our_broker(pid):
                return True
            time.sleep(0.1)
        return False

    def __enter__(self) -> LocalKafka:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

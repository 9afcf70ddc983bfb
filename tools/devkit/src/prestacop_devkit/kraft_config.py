"""The configuration files of a single-node KRaft broker (combined broker + controller)."""

from __future__ import annotations

from pathlib import Path

NODE_ID = 1

_LOG4J2_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <RollingFile name="server" fileName="{log_file}" filePattern="{log_file}.%i">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <SizeBasedTriggeringPolicy size="20 MB"/>
      <DefaultRolloverStrategy max="3"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="state.change.logger" level="WARN"/>
    <Root level="INFO"><AppenderRef ref="server"/></Root>
  </Loggers>
</Configuration>
"""


def server_properties(port: int, controller_port: int, log_dirs: Path) -> dict[str, str]:
    """Return the ``server.properties`` settings of a one-node broker listening on 127.0.0.1.

    Args:
        port: Client (PLAINTEXT) port.
        controller_port: KRaft controller port.
        log_dirs: Where topic data and the metadata log live.
    """
    return {
        "process.roles": "broker,controller",
        "node.id": str(NODE_ID),
        # A static voter set: storage is formatted without --standalone and may change ports.
        "controller.quorum.voters": f"{NODE_ID}@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(log_dirs),
        "num.partitions": "1",
        "auto.create.topics.enable": "true",
        # One node: internal topics at replication 1, or groups and transactions hang. One
        # partition each (default 50) makes the first group join and init_transactions fast.
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        # After a crash (kill) the restarted broker is refused with DUPLICATE_BROKER_REGISTRATION
        # until its previous session expires (default 9 s).
        "broker.session.timeout.ms": "4000",
        "broker.heartbeat.interval.ms": "500",
    }


def render_properties(settings: dict[str, str]) -> str:
    """Render settings as a Java properties file."""
    lines = [f"{key}={value}" for key, value in settings.items()]
    return "# Written by prestacop_devkit (LocalKafka)\n" + "\n".join(lines) + "\n"


def parse_listener_address(properties_text: str, listener: str = "PLAINTEXT") -> str | None:
    """Return ``host:port`` of ``listener`` in a properties file's ``listeners=`` line, if any."""
    for line in properties_text.splitlines():
        if line.startswith("listeners="):
            for entry in line.split("=", 1)[1].split(","):
                if entry.startswith(f"{listener}://"):
                    return entry.removeprefix(f"{listener}://")
    return None


def log4j2_xml(log_file: Path) -> str:
    """Return a log4j2 config sending every broker log line to ``log_file`` (rolled at 20 MB)."""
    return _LOG4J2_XML.format(log_file=log_file)

"""Kafka connection settings shared by every service.

Every service reads the broker address from ``KAFKA_BOOTSTRAP_SERVERS`` (the one name users and
compose set) and turns these settings into librdkafka's dotted configuration keys.

Example:
    >>> settings = KafkaSettings(bootstrap_servers="localhost:9092", client_id="doc")
    >>> settings.producer_config(transactional=False)["bootstrap.servers"]
    'localhost:9092'
    >>> settings.topic("drone.alerts")
    'drone.alerts'
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_HOST_PORT = re.compile(r"^[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$")


class KafkaSettings(BaseSettings):
    """Where the broker is and how to talk to it (environment prefix ``KAFKA_``)."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore", frozen=True)

    bootstrap_servers: str = Field(
        default="localhost:9092",
        description="Comma-separated host:port list (KAFKA_BOOTSTRAP_SERVERS)",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    client_id: str = "prestacop"
    topic_prefix: str = Field(
        default="", description="Namespace put in front of every topic name (KAFKA_TOPIC_PREFIX)"
    )

    @field_validator("bootstrap_servers")
    @classmethod
    def _check_bootstrap(cls, value: str) -> str:
        servers = [s.strip() for s in value.split(",") if s.strip()]
        bad = [s for s in servers if not _HOST_PORT.match(s)]
        if not servers or bad:
            raise ValueError(
                "KAFKA_BOOTSTRAP_SERVERS must be a comma-separated list of host:port "
                f"(e.g. 'localhost:9092,kafka-2:9092'), got {value!r}"
            )
        return ",".join(servers)

    @model_validator(mode="after")
    def _check_sasl(self) -> KafkaSettings:
        if self.security_protocol.startswith("SASL_") and not (
            self.sasl_mechanism and self.sasl_username and self.sasl_password
        ):
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.security_protocol} needs KAFKA_SASL_MECHANISM, "
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )
        return self

    def topic(self, name: str) -> str:
        """Return a topic name from :mod:`prestacop_shared.topics` under this deployment's prefix."""
        return f"{self.topic_prefix}{name}"

    def common_config(self) -> dict[str, Any]:
        """librdkafka keys every client needs: servers, identity, security."""
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "client.id": self.client_id,
            "security.protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            config["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username:
            config["sasl.username"] = self.sasl_username
        if self.sasl_password:
            config["sasl.password"] = self.sasl_password.get_secret_value()
        return config

    def producer_config(
        self, *, transactional_id: str | None = None, transactional: bool = False, **overrides: Any
    ) -> dict[str, Any]:
        """An idempotent, ``acks=all`` producer; transactional when given a transactional id.

        ``overrides`` use librdkafka names with underscores for dots
        (``linger_ms=50`` → ``linger.ms``).
        """
        if transactional and transactional_id is None:
            raise ValueError("a transactional producer needs a transactional_id")
        config = self.common_config() | {"enable.idempotence": True, "acks": "all"}
        if transactional_id is not None:
            config["transactional.id"] = transactional_id
        config.update({key.replace("_", "."): value for key, value in overrides.items()})
        return config

    def consumer_config(self, group_id: str, **overrides: Any) -> dict[str, Any]:
        """A consumer that commits only what it stores and reads committed data only."""
        config = self.common_config() | {
            "group.id": group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
        config.update({key.replace("_", "."): value for key, value in overrides.items()})
        return config

    def spark_options(self) -> dict[str, str]:
        """Options for Spark's Kafka source/sink: every consumer property needs ``kafka.``."""
        options = {
            "kafka.bootstrap.servers": self.bootstrap_servers,
            "kafka.security.protocol": self.security_protocol,
            "kafka.isolation.level": "read_committed",
        }
        if self.sasl_mechanism and self.sasl_username and self.sasl_password:
            module = (
                "org.apache.kafka.common.security.plain.PlainLoginModule"
                if self.sasl_mechanism == "PLAIN"
                else "org.apache.kafka.common.security.scram.ScramLoginModule"
            )
            options["kafka.sasl.mechanism"] = self.sasl_mechanism
            options["kafka.sasl.jaas.config"] = (
                f'{module} required username="{self.sasl_username}" '
                f'password="{self.sasl_password.get_secret_value()}";'
            )
        return options

"""Settings of the alert mailer, from the environment (prefix ``MAILER_``).

Secrets come either from a variable (``MAILER_SMTP_PASSWORD``, ``MAILER_OPERATOR_TOKEN``,
``MAILER_READ_TOKEN``) or from a file (``..._FILE``, e.g. a Docker secret); the mailer refuses to
start on an empty or placeholder operator token (or a placeholder read token). Kafka is configured by :class:`prestacop_shared.kafka.KafkaSettings`
(prefix ``KAFKA_``).

Example:
    >>> settings = MailerSettings(mail_to="a@example.org, b@example.org",
    ...                           operator_token="s3cret-0123456789abcdef")
    >>> settings.mail_to
    ['a@example.org', 'b@example.org']
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from prestacop_shared.config import check_bearer_token, read_secret_file


class MailerSettings(BaseSettings):
    """Everything the mailer and its operator API need (environment prefix ``MAILER_``)."""

    model_config = SettingsConfigDict(env_prefix="MAILER_", extra="ignore", frozen=True)

    smtp_host: str = Field(default="localhost", min_length=1)
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_tls: Literal["none", "starttls", "implicit"] = Field(
        default="none", description="none, starttls (upgrade after connect) or implicit (SMTPS)"
    )
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_password_file: Path | None = None
    smtp_timeout_s: float = Field(
        default=10.0, gt=0, description="connect and every SMTP command but the end of DATA"
    )
    smtp_data_timeout_s: float = Field(
        default=600.0,
        gt=0,
        description=(
            "wait for the reply to the end of DATA (RFC 5321 4.5.3.2.6 says 10 minutes): the "
            "server may have taken the mail, so giving up early risks a second copy"
        ),
    )
    smtp_permanent_failure_attempts: int = Field(
        default=3,
        ge=1,
        description="5xx replies to one mail (sender, recipients or content) before it is "
        "dead-lettered; 4xx and connection errors are retried without end",
    )
    smtp_in_doubt_attempts: int = Field(
        default=3,
        ge=1,
        description="sends of one mail that got no reply to the end of DATA (each may have "
        "been delivered) before it is dead-lettered",
    )
    retry_initial_s: float = Field(default=0.5, gt=0, description="first SMTP retry delay")
    retry_max_s: float = Field(default=10.0, gt=0, description="cap of the SMTP retry delay")

    mail_from: str = Field(default="prestacop-alerts@localhost", min_length=3)
    mail_to: Annotated[list[str], NoDecode] = Field(
        min_length=1, description="comma-separated recipients"
    )

    operator_token: SecretStr | None = None
    operator_token_file: Path | None = None
    read_token: SecretStr | None = Field(
        default=None, description="optional bearer token for reads only (the operator's works too)"
    )
    read_token_file: Path | None = None
    public_url: str = Field(
        default="http://localhost:8080", description="base URL of the operator API, for links"
    )
    console_url: str | None = Field(
        default=None,
        description="public address of the operator console, for the alert emails' links "
        "(default: MAILER_PUBLIC_URL + /console)",
    )
    console_session_s: float = Field(
        default=900.0,
        ge=10,
        le=86_400,
        description="lifetime of a console session (the cookie of its live stream); the page "
        "opens a new one with the operator's token when it ends",
    )
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)

    group_id: str = Field(default="prestacop-alert-mailer", min_length=1)
    instance_id: str = Field(
        default_factory=socket.gethostname,
        min_length=1,
        description=(
            "static consumer-group membership id (default: the host name): a restarted mailer "
            "takes its partitions back at once instead of after the session timeout"
        ),
    )
    state_dir: Path = Path("state/alert-mailer")
    log_level: str = "INFO"

    @field_validator("mail_to", mode="before")
    @classmethod
    def _split_recipients(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("mail_to")
    @classmethod
    def _check_recipients(cls, value: list[str]) -> list[str]:
        bad = [address for address in value if "@" not in address]
        if bad:
            raise ValueError(f"not an email address: {', '.join(bad)}")
        return value

    @field_validator("public_url", "console_url")
    @classmethod
    def _normalise_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _resolve_secrets(self) -> MailerSettings:
        if self.smtp_password is None and self.smtp_password_file is not None:
            password = read_secret_file(self.smtp_password_file, "MAILER_SMTP_PASSWORD_FILE")
            object.__setattr__(self, "smtp_password", SecretStr(password))
        if self.smtp_username and not self.smtp_password:
            raise ValueError(
                "MAILER_SMTP_USERNAME is set: give MAILER_SMTP_PASSWORD or MAILER_SMTP_PASSWORD_FILE"
            )
        if self.operator_token is None and self.operator_token_file is not None:
            token = read_secret_file(self.operator_token_file, "MAILER_OPERATOR_TOKEN_FILE")
            object.__setattr__(self, "operator_token", SecretStr(token))
        token = self.operator_token.get_secret_value().strip() if self.operator_token else ""
        if not token:
            raise ValueError(
                "MAILER_OPERATOR_TOKEN (or MAILER_OPERATOR_TOKEN_FILE) is required: "
                "the operator API refuses writes without a bearer token"
            )
        check_bearer_token(token, "MAILER_OPERATOR_TOKEN")
        if self.read_token is None and self.read_token_file is not None:
            read = read_secret_file(self.read_token_file, "MAILER_READ_TOKEN_FILE")
            object.__setattr__(self, "read_token", SecretStr(read))
        if self.read_token is not None:
            check_bearer_token(self.read_token.get_secret_value().strip(), "MAILER_READ_TOKEN")
        return self

    def operator_token_value(self) -> str:
        """The operator bearer token (validated non-empty at start)."""
        assert self.operator_token is not None  # noqa: S101 - guaranteed by _resolve_secrets
        return self.operator_token.get_secret_value().strip()

    def read_token_value(self) -> str | None:
        """The read-only bearer token, if one is configured."""
        return self.read_token.get_secret_value().strip() if self.read_token else None

    @property
    def console_base_url(self) -> str:
        """The console's public address (``MAILER_CONSOLE_URL``, or the API's ``/console``)."""
        return self.console_url or f"{self.public_url}/console"

    @property
    def state_db(self) -> Path:
        """The SQLite file holding alerts, sent records and resolutions."""
        return self.state_dir / "alert-mailer.sqlite3"

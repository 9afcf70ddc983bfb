"""Loading settings with errors that name the environment variable and the expected form."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from prestacop_shared.exceptions import ConfigError

SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def load_settings(settings_cls: type[SettingsT], **overrides: Any) -> SettingsT:
    """Instantiate ``settings_cls`` from the environment (and ``overrides``).

    Raises:
        ConfigError: one line per bad setting, naming its environment variable, the expected
            form and the value received.
    """
    try:
        return settings_cls(**overrides)
    except ValidationError as error:
        prefix = str(settings_cls.model_config.get("env_prefix", ""))
        lines = []
        for problem in error.errors(include_url=False):
            field = ".".join(str(part) for part in problem["loc"])
            variable = f"{prefix}{field}".upper().replace(".", "__")
            received = problem.get("input")
            shown = "" if isinstance(received, dict) else f" (got {str(received)[:80]!r})"
            lines.append(f"{variable}: {problem['msg']}{shown}")
        raise ConfigError(
            f"invalid configuration for {settings_cls.__name__}:\n  " + "\n  ".join(lines)
        ) from None


PLACEHOLDER_SECRETS = frozenset(
    {
        "changeme", "change-me", "change_me", "changethis", "secret", "password", "token",
        "admin", "xxx",
    }
)  # fmt: skip
"""Values an operator forgot to replace: refused so no API is left open behind them."""

MIN_SECRET_LENGTH = 16


def read_secret_file(path: Path, variable: str) -> str:
    """Read a secret from a file (Docker/Kubernetes secrets), stripped of surrounding blanks.

    Raises:
        ValueError: the file cannot be read; the message names ``variable``.
    """
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ValueError(f"{variable}: cannot read {path}: {error.strerror}") from None


def check_bearer_token(token: str, variable: str) -> str:
    """Refuse an empty, placeholder or short bearer token; return it stripped.

    Example:
        >>> check_bearer_token("changeme", "X_TOKEN")
        Traceback (most recent call last):
        ...
        ValueError: X_TOKEN is a placeholder or shorter than 16 characters: ...

    Raises:
        ValueError: naming ``variable`` and the expected form.
    """
    value = token.strip()
    if value.lower() in PLACEHOLDER_SECRETS or len(value) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"{variable} is a placeholder or shorter than {MIN_SECRET_LENGTH} characters: "
            "use a real secret of random characters (e.g. `openssl rand -hex 32`)"
        )
    return value

"""Loading settings with errors that name the environment variable and the expected form."""

from __future__ import annotations

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

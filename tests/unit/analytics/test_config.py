"""Settings: defaults, the reports folder, and refusal of placeholder tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from prestacop_analytics.config import AnalyticsSettings
from prestacop_shared.config import load_settings
from prestacop_shared.exceptions import ConfigError

pytestmark = pytest.mark.unit


def test_reports_default_under_the_data_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANALYTICS_DATA_DIR", "/srv/data")
    settings = load_settings(AnalyticsSettings)
    assert settings.reports_dir == Path("/srv/data/reports")
    assert settings.tickets_dir == Path("/srv/data/archived_nypd_msg")


@pytest.mark.parametrize("token", ["changeme", "CHANGEME", "secret", "short"])
def test_placeholder_tokens_are_refused(monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    monkeypatch.setenv("ANALYTICS_API_TOKEN", token)
    with pytest.raises(ConfigError, match="ANALYTICS_API_TOKEN"):
        load_settings(AnalyticsSettings)


def test_token_can_come_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("a-long-enough-real-token\n")
    monkeypatch.setenv("ANALYTICS_API_TOKEN_FILE", str(secret))
    settings = load_settings(AnalyticsSettings)
    assert settings.API_TOKEN is not None
    assert settings.API_TOKEN.get_secret_value() == "a-long-enough-real-token"


def test_a_bad_port_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANALYTICS_HTTP_PORT", "http")
    with pytest.raises(ConfigError, match="ANALYTICS_HTTP_PORT"):
        load_settings(AnalyticsSettings)

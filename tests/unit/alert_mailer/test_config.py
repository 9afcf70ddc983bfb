"""Settings refuse to start on missing or placeholder secrets and read secrets from files."""

from __future__ import annotations

from pathlib import Path

import pytest

from prestacop_alert_mailer.config import MailerSettings
from prestacop_shared.config import load_settings
from prestacop_shared.exceptions import ConfigError

pytestmark = pytest.mark.unit

TOKEN = "a-real-random-token-0123456789"  # noqa: S105 - test value


def test_recipients_are_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILER_MAIL_TO", " a@x.org,b@x.org , ")
    monkeypatch.setenv("MAILER_OPERATOR_TOKEN", TOKEN)
    assert load_settings(MailerSettings).mail_to == ["a@x.org", "b@x.org"]


@pytest.mark.parametrize("token", ["", "changeme", "CHANGEME", "short"])
def test_placeholder_or_empty_operator_token_is_refused(
    monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    monkeypatch.setenv("MAILER_MAIL_TO", "a@x.org")
    monkeypatch.setenv("MAILER_OPERATOR_TOKEN", token)
    with pytest.raises(ConfigError, match="MAILER_OPERATOR_TOKEN"):
        load_settings(MailerSettings)


def test_missing_recipients_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAILER_MAIL_TO", raising=False)
    monkeypatch.setenv("MAILER_OPERATOR_TOKEN", TOKEN)
    with pytest.raises(ConfigError, match="MAILER_MAIL_TO"):
        load_settings(MailerSettings)


def test_secrets_are_read_from_files(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(TOKEN + "\n")
    (tmp_path / "password").write_text("smtp-pass\n")
    settings = MailerSettings(
        mail_to="a@x.org",
        operator_token_file=tmp_path / "token",
        smtp_username="mailer",
        smtp_password_file=tmp_path / "password",
    )
    assert settings.operator_token_value() == TOKEN
    assert settings.smtp_password is not None
    assert settings.smtp_password.get_secret_value() == "smtp-pass"
    assert "smtp-pass" not in repr(settings)


def test_username_without_password_is_refused() -> None:
    with pytest.raises(ValueError, match="MAILER_SMTP_PASSWORD"):
        MailerSettings(mail_to="a@x.org", operator_token=TOKEN, smtp_username="mailer")


def test_read_token_is_optional_from_a_file_and_never_a_placeholder(tmp_path: Path) -> None:
    assert MailerSettings(mail_to="a@x.org", operator_token=TOKEN).read_token_value() is None
    (tmp_path / "read").write_text("a-read-only-token-0123456789\n")
    settings = MailerSettings(
        mail_to="a@x.org", operator_token=TOKEN, read_token_file=tmp_path / "read"
    )
    assert settings.read_token_value() == "a-read-only-token-0123456789"
    with pytest.raises(ValueError, match="MAILER_READ_TOKEN"):
        MailerSettings(mail_to="a@x.org", operator_token=TOKEN, read_token="changeme")  # noqa: S106

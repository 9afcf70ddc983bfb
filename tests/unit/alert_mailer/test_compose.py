"""The email of an alert: deterministic Message-ID, every fact an operator needs, safe HTML."""

from __future__ import annotations

import pytest

from prestacop_alert_mailer.compose import compose_alert_email, message_id_for
from prestacop_shared.events import Alert, AlertReason

pytestmark = pytest.mark.unit


def _alert(**overrides: object) -> Alert:
    values: dict[str, object] = {
        "event_id": "abc123",
        "drone_id": "nypd-host-0007",
        "latitude": 40.758,
        "longitude": -73.9855,
        "image_id": "img-42",
        "reason": AlertReason.VIEW_OBSTRUCTED,
        "detail": "<script>alert(1)</script>",
    }
    return Alert(**(values | overrides))


_LINKS = {"public_url": "h", "console_url": "h/console"}


def test_same_alert_same_message_id() -> None:
    first = compose_alert_email(_alert(), mail_from="m@x.org", mail_to=["o@x.org"], **_LINKS)
    second = compose_alert_email(_alert(), mail_from="m@x.org", mail_to=["o@x.org"], **_LINKS)
    assert first["Message-ID"] == second["Message-ID"] == "<alert-abc123@prestacop>"
    assert message_id_for("a b<c>") == "<alert-a_b_c_@prestacop>"


def test_mail_names_alert_drone_time_position_image_reason_and_links() -> None:
    alert = _alert()
    message = compose_alert_email(
        alert,
        mail_from="m@x.org",
        mail_to=["o@x.org", "p@x.org"],
        public_url="https://ops.example",
        console_url="https://desk.example/console",
    )
    assert message["Subject"] == "[Prestacop] Alert abc123: view obstructed (drone nypd-host-0007)"
    assert message["To"] == "o@x.org, p@x.org"
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    for body in (text, html):
        assert "nypd-host-0007" in body and "img-42" in body and "view_obstructed" in body
        assert alert.emitted_at.strftime("%Y-%m-%d %H:%M:%S UTC") in body
        assert "https://www.openstreetmap.org/?mlat=40.758000&amp;mlon=-73.985500" in body or (
            "https://www.openstreetmap.org/?mlat=40.758000&mlon=-73.985500" in body
        )
        assert "https://ops.example/alerts/abc123/resolve" in body
        assert "https://desk.example/console#alert=abc123" in body
    assert "<script>" not in html and "&lt;script&gt;" in html

"""The console's live stream over HTTP: a session opened with the token, alerts pushed, clean stop.

``EventSource`` cannot send an ``Authorization`` header, so the stream takes a session cookie
that only ``POST /console/session`` with the bearer token hands out. An open stream must not
keep the mailer from stopping on SIGTERM.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from prestacop_alert_mailer.console import SESSION_COOKIE
from prestacop_shared.kafka import KafkaSettings
from tests.integration.alert_mailer.harness import (
    AUTH,
    OPERATOR_TOKEN,
    MailerFactory,
    make_alert,
    produce_alerts,
)
from tests.support.smtp import RecordingSMTPServer

pytestmark = pytest.mark.integration


def _events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(event, data) pairs of a Server-Sent Events stream."""
    event, data = "message", ""
    for line in lines:
        if line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("data: "):
            data = line[len("data: ") :]
        elif not line and data:
            yield event, data
            event, data = "message", ""


def test_the_stream_needs_a_token_opened_session_pushes_alerts_and_ends_on_sigterm(
    kafka_settings: KafkaSettings, smtp_server: RecordingSMTPServer, mailer_factory: MailerFactory
) -> None:
    mailer = mailer_factory(smtp_server).start()
    assert httpx.get(f"{mailer.url}/console/events").status_code == 401
    assert httpx.post(f"{mailer.url}/console/session").status_code == 401
    forged = httpx.get(f"{mailer.url}/console/events", cookies={SESSION_COOKIE: OPERATOR_TOKEN})
    assert forged.status_code == 401, "the token itself is no session"
    alert = make_alert(1)
    with httpx.Client(base_url=mailer.url, timeout=20) as client:
        opened = client.post("/console/session", headers=AUTH)
        assert opened.status_code == 200, opened.text
        cookie = opened.headers["set-cookie"]
        session = client.cookies[SESSION_COOKIE]
        assert {"HttpOnly", "SameSite=strict", "Path=/console"} <= {
            part.strip() for part in cookie.split(";")
        }, cookie
        assert OPERATOR_TOKEN not in cookie and OPERATOR_TOKEN not in opened.text
        with client.stream("GET", "/console/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            assert "default-src 'none'" in stream.headers["content-security-policy"]
            events = _events(stream.iter_lines())
            assert next(events) == ("resync", "{}")
            produce_alerts(kafka_settings, [alert])
            event, data = next(events)
            assert event == "alert"
            pushed = json.loads(data)
            assert (pushed["alert_id"], pushed["status"]) == (alert.alert_id, "open")
            assert (pushed["drone_id"], pushed["image_id"]) == (alert.drone_id, alert.image_id)
            assert mailer.terminate(timeout_s=30) == 0, "an open stream must not block the stop"
    log = mailer.log()
    assert OPERATOR_TOKEN not in log and session not in log

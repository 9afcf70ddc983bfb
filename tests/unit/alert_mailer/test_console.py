"""The console's pure parts: its settings, session ids, live feed and security headers."""

from __future__ import annotations

import asyncio
import threading

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from prestacop_alert_mailer.config import MailerSettings
from prestacop_alert_mailer.console import ConsoleSessions
from prestacop_alert_mailer.live import QUEUE_LIMIT, RESYNC, LiveFeed
from prestacop_shared.config import load_settings
from prestacop_shared.exceptions import ConfigError
from prestacop_shared.web import SECURITY_HEADERS, SecurityHeaders, mount_nyc_map

pytestmark = pytest.mark.unit

TOKEN = "a-real-random-token-0123456789"  # noqa: S105 - test value


@pytest.fixture
def mailer_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("MAILER_MAIL_TO", "a@x.org")
    monkeypatch.setenv("MAILER_OPERATOR_TOKEN", TOKEN)
    monkeypatch.setenv("MAILER_PUBLIC_URL", "http://mailer:8080/")
    monkeypatch.delenv("MAILER_CONSOLE_URL", raising=False)
    return monkeypatch


def test_the_console_url_defaults_to_the_api_and_can_be_set(
    mailer_env: pytest.MonkeyPatch,
) -> None:
    assert load_settings(MailerSettings).console_base_url == "http://mailer:8080/console"
    mailer_env.setenv("MAILER_CONSOLE_URL", "https://desk.example.org/console/")
    assert load_settings(MailerSettings).console_base_url == "https://desk.example.org/console"


def test_a_bad_console_url_names_its_variable(mailer_env: pytest.MonkeyPatch) -> None:
    mailer_env.setenv("MAILER_CONSOLE_URL", "desk.example.org/console")
    with pytest.raises(ConfigError, match="MAILER_CONSOLE_URL: .*http:// or https://"):
        load_settings(MailerSettings)


def test_sessions_expire_and_forged_or_closed_ones_are_refused() -> None:
    now = [1000.0]
    sessions = ConsoleSessions(ttl_s=60, clock=lambda: now[0])
    first, second = sessions.open(), sessions.open()
    assert first != second and len(first) >= 40
    assert sessions.remaining_s(first) == 60
    assert sessions.remaining_s(None) == sessions.remaining_s("forged") == 0
    sessions.close(second)
    assert sessions.remaining_s(second) == 0
    now[0] += 59
    assert sessions.remaining_s(first) == pytest.approx(1)
    now[0] += 1
    assert sessions.remaining_s(first) == 0


async def test_the_feed_carries_changes_from_other_threads_and_ends_on_close() -> None:
    feed = LiveFeed()
    subscription = feed.subscribe()
    producer = threading.Thread(target=lambda: [feed.announce(f"a{i}") for i in range(3)])
    producer.start()
    producer.join()
    assert [await subscription.next() for _ in range(3)] == ["a0", "a1", "a2"]
    feed.close()
    assert await subscription.next() is None
    late = feed.subscribe()
    assert await late.next() is None, "a stream opened during shutdown ends at once"
    assert feed.subscribers == 1
    feed.unsubscribe(subscription)
    assert feed.subscribers == 0


async def test_a_stalled_page_is_told_to_resync_instead_of_growing_a_backlog() -> None:
    feed = LiveFeed()
    subscription = feed.subscribe()
    for index in range(QUEUE_LIMIT + 5):
        feed.announce(f"a{index}")
    await asyncio.sleep(0)
    assert await subscription.next() == RESYNC, "the backlog was dropped for a reload"
    assert [await subscription.next() for _ in range(4)] == [
        f"a{QUEUE_LIMIT + i}" for i in range(1, 5)
    ]
    assert subscription.queue.empty()


def test_the_shared_map_is_served_with_the_security_headers_on_chosen_paths_only() -> None:
    app = FastAPI()
    mount_nyc_map(app)
    app.add_middleware(SecurityHeaders, paths=("/map",))
    client = TestClient(app)
    script = client.get("/map/nyc_map.js")
    boundaries = client.get("/map/nyc_boroughs.geojson")
    assert script.status_code == boundaries.status_code == 200
    assert "window.NycMap" in script.text and script.headers["content-type"].startswith(
        "text/javascript"
    )
    assert len(boundaries.json()["features"]) == 5
    for name, value in SECURITY_HEADERS.items():
        assert script.headers[name] == value
    assert "content-security-policy" not in client.get("/docs").headers

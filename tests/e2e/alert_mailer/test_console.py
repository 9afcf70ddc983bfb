"""The operator console in a real headless Chromium, over the real mailer, broker and SMTP server.

Alerts are produced to Kafka as drones do; two console tabs are signed in with the operator
token. A new alert reaches both within 2 s without a reload (Server-Sent Events); resolving it on
the map's point in one tab puts exactly one operator violation in Kafka and takes the alert out
of the other tab's list; the alert's email links to its console entry; a wrong code shows the
API's own message, and so does a 409 when someone else resolved the alert first; HTML in an
alert's fields stays text. A screenshot of the console is kept
under ``test-artifacts/operator-console.png``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from prestacop_shared.boroughs import geojson_text
from prestacop_shared.events import Alert, AlertReason, ViolationSource
from prestacop_shared.kafka import KafkaSettings
from tests.integration.alert_mailer.harness import (
    AUTH,
    OPERATOR_TOKEN,
    MailerFactory,
    MailerProcess,
    produce_alerts,
)
from tests.support.browser import Browser, Page, find_chromium
from tests.support.kafka import violations_in_kafka
from tests.support.smtp import RecordingSMTPServer

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(find_chromium() is None, reason="no Chromium (install Debian's chromium)"),
]

TIMES_SQUARE = (40.758, -73.9855)
"""(latitude, longitude): a known position in Manhattan."""
LIVE_S = 2.0
"""The console must show an alert produced to Kafka within this long, without a reload."""
HOSTILE = "<img src=x onerror=\"document.body.dataset.xss='ran'\">"
FIVE_BOROUGHS = {"BRONX", "BROOKLYN", "MANHATTAN", "QUEENS", "STATEN ISLAND"}


@pytest.fixture
def mailer(smtp_server: RecordingSMTPServer, mailer_factory: MailerFactory) -> MailerProcess:
    return mailer_factory(smtp_server).start()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    chromium = Browser(tmp_path / "chromium")
    try:
        yield chromium
    finally:
        chromium.close()


def _signed_in_console(browser: Browser, mailer: MailerProcess, name: str) -> Page:
    page = browser.new_page(f"{mailer.url}/console")
    page.type_into("#operator-name", name)
    page.type_into("#token", OPERATOR_TOKEN)
    page.click("#sign-in-form button")
    page.wait_for(
        "document.body.dataset.loaded === 'true' && document.getElementById('live')"
        ".dataset.state === 'live' && document.getElementById('map').dataset.rendered === 'true'"
    )
    return page


def _row(alert_id: str) -> str:
    return f"document.querySelector('#alerts tr[data-alert-id=\"{alert_id}\"]')"


def _expected_svg_point(latitude: float, longitude: float) -> tuple[float, float]:
    """The projection documented in ``nyc_map.js``, computed independently of the page."""
    coordinates = [
        point
        for feature in json.loads(geojson_text())["features"]
        for polygon in feature["geometry"]["coordinates"]
        for ring in polygon
        for point in ring
    ]
    west, east = min(p[0] for p in coordinates), max(p[0] for p in coordinates)
    south, north = min(p[1] for p in coordinates), max(p[1] for p in coordinates)
    width, pad = 800, 10
    cos = math.cos(math.radians((north + south) / 2))
    k = (width - 2 * pad) / ((east - west) * cos)
    return pad + (longitude - west) * cos * k, pad + (north - latitude) * k


def _record_timing(repo_root: Path, what: str, seconds: float) -> None:
    """Append a measured duration to test-artifacts/console-timings.jsonl (for the README)."""
    timings = repo_root / "test-artifacts" / "console-timings.jsonl"
    timings.parent.mkdir(parents=True, exist_ok=True)
    with timings.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"what": what, "seconds": round(seconds, 3)}) + "\n")


def _message(page: Page) -> dict[str, Any]:
    value: dict[str, Any] = page.evaluate(
        "(() => { const m = document.getElementById('message');"
        " return {hidden: m.hidden, kind: m.dataset.kind, text: m.textContent}; })()"
    )
    return value


def test_a_new_alert_shows_live_on_the_map_and_resolving_it_publishes_one_violation(
    kafka_settings: KafkaSettings,
    smtp_server: RecordingSMTPServer,
    mailer: MailerProcess,
    browser: Browser,
    repo_root: Path,
) -> None:
    desk, other_desk = (_signed_in_console(browser, mailer, n) for n in ("jdoe", "asmith"))
    latitude, longitude = TIMES_SQUARE
    alert = Alert(
        drone_id="drone-7",
        latitude=latitude,
        longitude=longitude,
        image_id="img-times-square",
        reason=AlertReason.OFFENCE_UNCLASSIFIED,
        detail="double parked?",
        plate_id="TSQ1234",
    )
    produce_alerts(kafka_settings, [alert])
    produced_at = time.monotonic()
    for page in (desk, other_desk):
        page.wait_for(
            f"!!{_row(alert.alert_id)}", timeout_s=LIVE_S - (time.monotonic() - produced_at)
        )
    _record_timing(repo_root, "kafka_to_both_consoles_s", time.monotonic() - produced_at)
    assert desk.evaluate(f"{_row(alert.alert_id)}.textContent").count("drone-7") == 1

    boroughs = desk.evaluate(
        "[...document.querySelectorAll('#map path.borough')].map(p => p.dataset.borough)"
    )
    assert sorted(boroughs) == sorted(FIVE_BOROUGHS)
    point = desk.evaluate(
        f"(() => {{ const c = document.querySelector('circle[data-alert-id=\"{alert.alert_id}\"]');"
        " const at = new DOMPoint(Number(c.getAttribute('cx')), Number(c.getAttribute('cy')));"
        " const inside = [...document.querySelectorAll('#map path.borough')]"
        "   .filter(p => p.isPointInFill(at)).map(p => p.dataset.borough);"
        " return {cx: Number(c.getAttribute('cx')), cy: Number(c.getAttribute('cy')), inside}; })()"
    )
    expected_x, expected_y = _expected_svg_point(latitude, longitude)
    assert point["cx"] == pytest.approx(expected_x, abs=0.01)
    assert point["cy"] == pytest.approx(expected_y, abs=0.01)
    assert point["inside"] == ["MANHATTAN"]

    (email,) = smtp_server.wait_for(1, timeout_s=60, settle_s=0)
    text = email.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    link = f"{mailer.url}/console#alert={alert.alert_id}"
    assert link in text
    other_desk.navigate(link)
    other_desk.wait_for(
        f"document.getElementById('detail-id').textContent === '{alert.alert_id}'"
        " && !document.getElementById('detail').hidden"
    )

    desk.click(f"circle[data-alert-id='{alert.alert_id}']")
    desk.wait_for(f"document.getElementById('detail-id').textContent === '{alert.alert_id}'")
    desk.type_into("#code-search", "street cleaning")
    labels = desk.evaluate(
        "[...document.getElementById('code-options').options].map(o => o.textContent)"
    )
    assert labels and all("STREET CLEANING" in label.upper() for label in labels), labels
    desk.evaluate(
        "(() => { const s = document.getElementById('code-options'); s.value = '21';"
        " s.dispatchEvent(new Event('change')); })()"
    )
    assert desk.evaluate("document.getElementById('code').value") == "21"
    assert "$65" in desk.evaluate("document.getElementById('fine').textContent")
    desk.screenshot(repo_root / "test-artifacts" / "operator-console.png")

    desk.click("#resolve")
    clicked_at = time.monotonic()
    desk.wait_for("document.getElementById('message').dataset.kind === 'ok'")
    resolved_at = time.monotonic()
    _record_timing(repo_root, "resolve_click_to_published_s", resolved_at - clicked_at)
    assert f"Alert {alert.alert_id} resolved: code 21" in _message(desk)["text"]
    other_desk.wait_for(f"!{_row(alert.alert_id)}")
    _record_timing(repo_root, "published_to_other_console_s", time.monotonic() - resolved_at)
    other_desk.wait_for(
        "document.getElementById('message').textContent.includes('resolved by jdoe')"
    )
    assert desk.evaluate(f"!{_row(alert.alert_id)}")

    (violation,) = violations_in_kafka(kafka_settings, expected=1)
    assert (violation.alert_id, violation.violation_code) == (alert.alert_id, 21)
    assert (violation.source, violation.plate_id) == (ViolationSource.OPERATOR, "TSQ1234")
    assert (violation.latitude, violation.longitude) == (latitude, longitude)


def test_html_in_an_alert_stays_text_and_wrong_or_stale_actions_show_the_api_message(
    kafka_settings: KafkaSettings, mailer: MailerProcess, browser: Browser
) -> None:
    refused = browser.new_page(f"{mailer.url}/console")
    refused.type_into("#operator-name", "mallory")
    refused.type_into("#token", "not-the-operator-token-at-all")
    refused.click("#sign-in-form button")
    refused.wait_for("document.getElementById('message').dataset.kind === 'error'")
    assert _message(refused)["text"] == "This token is not valid for this console."
    assert refused.evaluate("document.getElementById('desk').hidden")

    desk = _signed_in_console(browser, mailer, "jdoe")
    hostile = Alert(
        drone_id=HOSTILE,
        latitude=40.6782,
        longitude=-73.9442,
        image_id="<b>img</b>",
        reason=AlertReason.PLATE_UNREADABLE,
        detail="<script>document.body.dataset.xss='script'</script>",
        plate_id="<i>X</i>",
    )
    produce_alerts(kafka_settings, [hostile])
    desk.wait_for(f"!!{_row(hostile.alert_id)}", timeout_s=30)
    desk.click(f"#alerts tr[data-alert-id='{hostile.alert_id}']")
    desk.wait_for(f"document.getElementById('detail-id').textContent === '{hostile.alert_id}'")
    fields = desk.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#detail-fields tr')]"
        ".map(r => [r.dataset.field, r.cells[1].textContent]))"
    )
    assert (fields["drone"], fields["image id"]) == (HOSTILE, "<b>img</b>")
    assert (fields["detail"], fields["plate"]) == (hostile.detail, "<i>X</i>")
    assert fields["borough"] == "BROOKLYN"
    assert HOSTILE in desk.evaluate(f"{_row(hostile.alert_id)}.textContent")
    assert (
        desk.evaluate(
            "document.querySelectorAll('#desk img, #desk b, #desk i, #desk script').length"
        )
        == 0
    )
    assert desk.evaluate("document.scripts.length") == 2, "only the page's own two scripts"
    assert desk.evaluate("document.body.dataset.xss") is None, "a payload ran"

    desk.type_into("#code", "100")
    desk.click("#resolve")
    desk.wait_for("document.getElementById('message').dataset.kind === 'error'")
    message = _message(desk)
    assert message["text"] == (
        "Not resolved: violation code 100 is not in the DOF violation-code table"
    ), message
    assert desk.evaluate(f"!!{_row(hostile.alert_id)}"), "a refused resolution leaves it open"

    # Its live stream drops, and meanwhile another operator resolves the alert through the API.
    desk.evaluate("state.source.close()")
    by_api = httpx.post(
        f"{mailer.url}/alerts/{hostile.alert_id}/resolve",
        json={"violation_code": 40, "operator": "bob"},
        headers=AUTH,
    )
    assert by_api.status_code == 201, by_api.text
    desk.type_into("#code", "21")
    desk.click("#resolve")
    desk.wait_for("document.getElementById('message').textContent.startsWith('Already')")
    assert _message(desk)["text"].startswith(
        "Already resolved by someone else: bob, code 40 (FIRE HYDRANT) at "
    ), _message(desk)
    assert desk.evaluate(f"!{_row(hostile.alert_id)}")
    (violation,) = violations_in_kafka(kafka_settings, expected=1)
    assert (violation.alert_id, violation.violation_code) == (hostile.alert_id, 40)

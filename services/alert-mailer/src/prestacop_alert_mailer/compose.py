"""Turn an alert into its email: subject, text and HTML parts, deterministic ``Message-ID``.

Pure functions: the same alert always gives the same message (apart from the ``Date`` header),
so a resend after a crash carries the same ``Message-ID`` and receiving systems can spot it.

Example:
    >>> from prestacop_shared.events import Alert, AlertReason
    >>> alert = Alert(event_id="a1", drone_id="d-1", latitude=40.7, longitude=-73.9,
    ...               image_id="img-1", reason=AlertReason.PLATE_UNREADABLE)
    >>> message_id_for("a1")
    '<alert-a1@prestacop>'
    >>> compose_alert_email(alert, mail_from="m@x.org", mail_to=["o@x.org"],
    ...                     public_url="http://ops", console_url="http://ops/console")["Message-ID"]
    '<alert-a1@prestacop>'
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import format_datetime
from functools import cache
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from prestacop_shared.events import Alert, AlertReason, utc_now

_REASON_TEXT = {
    AlertReason.OFFENCE_UNCLASSIFIED: "offence not classified",
    AlertReason.PLATE_UNREADABLE: "plate unreadable",
    AlertReason.VIEW_OBSTRUCTED: "view obstructed",
    AlertReason.LOW_CONFIDENCE: "low confidence",
}
_MESSAGE_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._\-]")
POSSIBLE_DUPLICATE_HEADER = "X-Prestacop-Possible-Duplicate"


@cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("prestacop_alert_mailer", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def message_id_for(alert_id: str) -> str:
    """The ``Message-ID`` of an alert's email: derived from the alert id only."""
    return f"<alert-{_MESSAGE_ID_UNSAFE.sub('_', alert_id)}@prestacop>"


def mark_possible_duplicate(message: EmailMessage) -> None:
    """Flag a copy sent after an earlier send of the same email may have been delivered.

    Same ``Message-ID`` as every copy; the header tells a person (or a filter) why two came.
    """
    if POSSIBLE_DUPLICATE_HEADER not in message:
        message[POSSIBLE_DUPLICATE_HEADER] = "yes"


def map_url(latitude: float, longitude: float) -> str:
    """An OpenStreetMap link centred on a position, with a marker.

    Example:
        >>> map_url(40.7, -73.9)
        'https://www.openstreetmap.org/?mlat=40.700000&mlon=-73.900000#map=18/40.700000/-73.900000'
    """
    lat, lon = f"{latitude:.6f}", f"{longitude:.6f}"
    return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=18/{lat}/{lon}"


def subject_for(alert: Alert) -> str:
    """The subject line: reason, drone and the alert id (so a search finds it)."""
    return (
        f"[Prestacop] Alert {alert.alert_id}: {_REASON_TEXT[alert.reason]} (drone {alert.drone_id})"
    )


def console_link(console_url: str, alert_id: str) -> str:
    """The console entry of an alert (in the fragment: the id never reaches a server's log).

    Example:
        >>> console_link("https://ops.example/console", "a 1")
        'https://ops.example/console#alert=a%201'
    """
    return f"{console_url}#alert={quote(alert_id, safe='')}"


def compose_alert_email(
    alert: Alert, *, mail_from: str, mail_to: list[str], public_url: str, console_url: str
) -> EmailMessage:
    """Build the email for one alert (text and HTML alternatives).

    Args:
        alert: the alert to announce.
        mail_from: the sender address.
        mail_to: the recipients.
        public_url: base URL of the operator API, for the links.
        console_url: address of the operator console, for the link to this alert's entry.
    """
    alert_url = f"{public_url}/alerts/{quote(alert.alert_id, safe='')}"
    message_id = message_id_for(alert.alert_id)
    subject = subject_for(alert)
    context = {
        "alert": alert,
        "subject": subject,
        "reason_text": _REASON_TEXT[alert.reason],
        "emitted_at": alert.emitted_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "map_url": map_url(alert.latitude, alert.longitude),
        "alert_url": alert_url,
        "console_url": console_link(console_url, alert.alert_id),
        "resolve_url": f"{alert_url}/resolve",
        "docs_url": f"{public_url}/docs",
        "message_id": message_id,
    }
    environment = _templates()
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = mail_from
    message["To"] = ", ".join(mail_to)
    message["Message-ID"] = message_id
    message["Date"] = format_datetime(utc_now())
    message["X-Prestacop-Alert-Id"] = alert.alert_id
    message["X-Prestacop-Drone-Id"] = alert.drone_id
    message.set_content(environment.get_template("alert.txt.j2").render(context))
    message.add_alternative(
        environment.get_template("alert.html.j2").render(context), subtype="html"
    )
    return message

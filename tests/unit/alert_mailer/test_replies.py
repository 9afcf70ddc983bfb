"""Which SMTP errors end a mail's tries: 5xx to MAIL, to every RCPT, or to DATA; nothing else."""

from __future__ import annotations

import aiosmtplib
import pytest

from prestacop_alert_mailer.sender import permanent_reply

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("error", "reply"),
    [
        (aiosmtplib.SMTPDataError(554, "5.6.0 content rejected"), "554 5.6.0 content rejected"),
        (aiosmtplib.SMTPSenderRefused(553, "no", "a@x.org"), "553 no"),
        (
            aiosmtplib.SMTPRecipientsRefused(
                [
                    aiosmtplib.SMTPRecipientRefused(550, "unknown", "a@x.org"),
                    aiosmtplib.SMTPRecipientRefused(551, "moved", "b@x.org"),
                ]
            ),
            "a@x.org: 550 unknown; b@x.org: 551 moved",
        ),
        (aiosmtplib.SMTPDataError(451, "4.3.0 try later"), None),
        (
            aiosmtplib.SMTPRecipientsRefused(
                [
                    aiosmtplib.SMTPRecipientRefused(550, "unknown", "a@x.org"),
                    aiosmtplib.SMTPRecipientRefused(452, "full", "b@x.org"),
                ]
            ),
            None,
        ),
        (aiosmtplib.SMTPAuthenticationError(535, "bad credentials"), None),
        (aiosmtplib.SMTPHeloError(554, "go away"), None),
        (aiosmtplib.SMTPServerDisconnected("gone"), None),
        (aiosmtplib.SMTPReadTimeoutError("slow"), None),
    ],
)
def test_only_refusals_of_this_mail_are_permanent(
    error: aiosmtplib.SMTPException, reply: str | None
) -> None:
    assert permanent_reply(error) == reply

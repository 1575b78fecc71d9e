"""The email channel against a real SMTP server on 127.0.0.1 (tests/alerter/smtpserver.py)."""

from __future__ import annotations

import logging
import socket

import pytest

from newswatch.alerter.channels import EmailChannel
from newswatch.alerter.channels.email import build_message, one_line
from newswatch.alerter.subscriptions import new_subscription
from newswatch.errors import DeliveryError
from newswatch.settings import Settings
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.enriched_pb2 import TermMatch
from newswatch.v1.subscription_pb2 import Subscription
from tests.alerter.smtpserver import SmtpServer
from tests.alerter.test_webhook import ALERT

PASSWORD = "smtp-pass-" + "s3cr3t"


def smtp_settings(port: int, **changes: object) -> Settings:
    base = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_security": "none",
        "smtp_from": "alerts@newswatch.example.org",
        "smtp_timeout_seconds": 5.0,
    }
    return Settings().replace(**{**base, **changes})


def subscriber(*to: str, prefix: str = "") -> Subscription:
    return new_subscription(
        "mail", email_to=to or ("ops@example.org",), subject_prefix=prefix, allow_private=False
    )


async def send(
    settings: Settings, sub: Subscription, alert: Alert = ALERT, delivery_id: str = "msg_1"
) -> None:
    channel = EmailChannel(settings)
    try:
        await channel.deliver(alert, sub, delivery_id, 1)
    finally:
        await channel.close()


def hostile_alert() -> Alert:
    alert = Alert()
    alert.CopyFrom(ALERT)
    alert.title = "Palmyra <script>alert(1)</script>\r\nBcc: victim@example.org"
    alert.matches.append(TermMatch(term_id="isis", term_label="ISIS", snippet="<b>ISIS</b> & co"))
    return alert


async def test_delivered_with_headers_text_and_escaped_html() -> None:
    async with SmtpServer() as server:
        await send(
            smtp_settings(server.port), subscriber("ops@example.org", "b@Example.ORG"), hostile_alert()
        )
    assert len(server.received) == 1
    mail = server.received[0]
    assert mail.sender == "alerts@newswatch.example.org"
    assert mail.recipients == ["ops@example.org", "b@example.org"]
    msg = mail.message()
    assert msg["Message-ID"] == "<msg_1@newswatch.example.org>"
    assert msg["From"] == "alerts@newswatch.example.org"
    assert msg["To"] == "ops@example.org, b@example.org"
    assert msg["Bcc"] is None  # the title's line break did not start a header
    assert msg["Subject"].startswith("[newswatch] Default: Palmyra <script>")
    assert "\n" not in msg["Subject"] and "\r" not in msg["Subject"]
    assert msg["X-Newswatch-Alert-Id"] == "al-1"
    text = msg.get_body(("plain",)).get_content()
    html_part = msg.get_body(("html",)).get_content()
    assert "https://www.mondialisation.ca/x/1" in text and "Score: 0.9" in text
    assert "<script>" not in html_part and "&lt;script&gt;" in html_part
    assert "&lt;b&gt;ISIS&lt;/b&gt; &amp; co" in html_part
    assert '<a href="https://www.mondialisation.ca/x/1">' in html_part


async def test_a_redelivery_carries_the_same_message_id() -> None:
    async with SmtpServer() as server:
        settings = smtp_settings(server.port)
        sub = subscriber()
        await send(settings, sub, delivery_id="msg_same")
        await send(settings, sub, delivery_id="msg_same")
    ids = {m.message()["Message-ID"] for m in server.received}
    assert ids == {"<msg_same@newswatch.example.org>"}


async def test_the_subject_prefix_is_used() -> None:
    async with SmtpServer() as server:
        await send(smtp_settings(server.port), subscriber(prefix="[ops-mena]"))
    assert server.received[0].message()["Subject"].startswith("[ops-mena] Default: Retour à Palmyre")


async def test_a_digest_is_one_message_listing_every_alert() -> None:
    second = Alert()
    second.CopyFrom(ALERT)
    second.alert_id, second.title = "al-2", "Second title"
    async with SmtpServer() as server:
        channel = EmailChannel(smtp_settings(server.port))
        await channel.deliver_digest([ALERT, second], subscriber(), "msg_digest", 1)
    assert len(server.received) == 1
    msg = server.received[0].message()
    assert msg["Subject"].startswith("[newswatch] 2 alerts:")
    assert msg["Message-ID"] == "<msg_digest@newswatch.example.org>"
    text = msg.get_body(("plain",)).get_content()
    assert "Retour à Palmyre" in text and "Second title" in text


@pytest.mark.parametrize(
    ("replies", "refuse", "retriable", "code"),
    [
        ({"MAIL": "451 4.3.0 try later"}, {}, True, 451),
        ({"MAIL": "550 5.7.1 sender refused"}, {}, False, 550),
        ({"DATA": "452 4.3.1 no space"}, {}, True, 452),
        ({"DATA": "554 5.6.0 content refused"}, {}, False, 554),
        ({}, {"ops@example.org": "450 4.2.0 mailbox busy"}, True, 450),
        ({}, {"ops@example.org": "550 5.1.1 no such user"}, False, 550),
    ],
    ids=["mail-4xx", "mail-5xx", "data-4xx", "data-5xx", "rcpt-4xx", "rcpt-5xx"],
)
async def test_smtp_replies_are_classified(
    replies: dict[str, str], refuse: dict[str, str], retriable: bool, code: int
) -> None:
    async with SmtpServer(replies=replies, refuse=refuse) as server:
        with pytest.raises(DeliveryError) as info:
            await send(smtp_settings(server.port), subscriber())
    assert info.value.retriable is retriable
    assert info.value.status == code
    assert server.received == []


async def test_one_refused_recipient_does_not_fail_the_others() -> None:
    async with SmtpServer(refuse={"gone@example.org": "550 no such user"}) as server:
        await send(smtp_settings(server.port), subscriber("ops@example.org", "gone@example.org"))
    assert server.received[0].recipients == ["ops@example.org"]


async def test_connection_refused_is_retriable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DeliveryError) as info:
        await send(smtp_settings(port), subscriber())
    assert info.value.retriable is True


async def test_starttls_is_required_when_configured_never_silently_skipped() -> None:
    async with SmtpServer() as server:
        with pytest.raises(DeliveryError) as info:
            await send(smtp_settings(server.port, smtp_security="starttls"), subscriber())
    assert info.value.retriable is True and "STARTTLS" in str(info.value)
    assert server.received == []


async def test_login_when_a_username_is_set_and_the_password_is_never_shown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with SmtpServer(credentials=("alerter", PASSWORD)) as server:
        await send(smtp_settings(server.port, smtp_username="alerter", smtp_password=PASSWORD), subscriber())
        with pytest.raises(DeliveryError) as info:
            await send(
                smtp_settings(server.port, smtp_username="alerter", smtp_password="wrong"), subscriber()
            )
    assert len(server.received) == 1 and server.auth_attempts == ["alerter", "alerter"]
    assert info.value.retriable is True and "NEWSWATCH_SMTP_PASSWORD" in str(info.value)
    assert PASSWORD not in str(info.value) and PASSWORD not in caplog.text
    assert PASSWORD not in repr(smtp_settings(1, smtp_password=PASSWORD))


async def test_without_an_smtp_host_email_is_off_and_retried() -> None:
    with pytest.raises(DeliveryError) as info:
        await send(Settings(), subscriber())
    assert info.value.retriable is True and "NEWSWATCH_SMTP_HOST" in str(info.value)


def test_message_id_domain_comes_from_the_sender() -> None:
    msg = build_message(ALERT, subscriber(), "msg_x", "n@alerts.example.net")
    assert msg["Message-ID"] == "<msg_x@alerts.example.net>"


@pytest.mark.parametrize(
    ("text", "expected"), [("a\r\nb", "a b"), ("a\tb\x00c", "a b c"), ("  many   spaces ", "many spaces")]
)
def test_one_line(text: str, expected: str) -> None:
    assert one_line(text) == expected


async def test_a_hostile_recipient_on_the_topic_is_a_final_failure_not_a_header() -> None:
    sub = subscriber()
    sub.email.to.append("x@example.org\r\nBcc: victim@example.org")  # as if written to Kafka directly
    async with SmtpServer() as server:
        with pytest.raises(DeliveryError) as info:
            await send(smtp_settings(server.port), sub)
    assert info.value.retriable is False and server.received == []

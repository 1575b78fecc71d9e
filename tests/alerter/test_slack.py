"""The Slack channel against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from newswatch.alerter.channels import RetryLaterError, SlackChannel
from newswatch.alerter.channels.slack import DIGEST_MAX_LISTED, escape, slack_digest, slack_message
from newswatch.alerter.subscriptions import new_subscription
from newswatch.errors import DeliveryError
from newswatch.settings import Settings
from newswatch.v1.alert_pb2 import Alert
from tests.alerter.receiver import Receiver, Step
from tests.alerter.test_webhook import ALERT, local_settings

TOKEN_PATH = "/hook?token=T0KEN-SECRET"


async def post(url: str, settings: Settings | None = None, alerts: list[Alert] | None = None) -> int:
    sub = new_subscription("t", slack_url=url, allow_private=True)
    channel = SlackChannel(settings or local_settings())
    try:
        if alerts is not None:
            return (await channel.deliver_digest(alerts, sub, "msg_d", 1)).http_status
        return (await channel.deliver(ALERT, sub, "msg_1", 1)).http_status
    finally:
        await channel.close()


def texts(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False)


async def test_the_message_names_title_link_watchlist_terms_places_and_score() -> None:
    async with Receiver(default=Step(200, body=b"ok")) as rx:
        assert await post(rx.url) == 200
    assert len(rx.received) == 1
    got = rx.received[0]
    assert {k.lower(): v for k, v in got.headers.items()}["content-type"] == "application/json"
    message = json.loads(got.body)
    assert set(message) == {"text", "blocks"}
    assert message["text"].startswith("[Default] Retour à Palmyre")
    assert message["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Retour à Palmyre"},
    }
    assert "<https://www.mondialisation.ca/x/1|Retour à Palmyre>" in message["blocks"][1]["text"]["text"]
    fields = " ".join(f["text"] for f in message["blocks"][2]["fields"])
    for expected in ("*Watch list*\nDefault", "*Terms*\nPalmyra", "*Places*\nPalmyra", "SY, mena", "0.9"):
        assert expected in fields
    assert "al-1" in texts(message["blocks"][3])


def test_article_text_cannot_inject_mentions_or_links() -> None:
    alert = Alert()
    alert.CopyFrom(ALERT)
    alert.title = "<!channel> see <https://evil.example|here> & more"
    alert.url = "https://x.example/a?b=1&c=<2>|3"
    message = slack_message(alert)
    assert message["blocks"][0]["text"]["type"] == "plain_text"  # shown literally, never parsed
    dumped = texts({**message, "blocks": message["blocks"][1:]})
    assert "<!channel>" not in dumped and "<https://evil" not in dumped
    assert "&lt;!channel&gt;" in dumped and "&amp; more" in dumped
    link = message["blocks"][1]["text"]["text"]
    assert link.count("|") == 1 and link.count("<") == 1 and link.count(">") == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a & b", "a &amp; b"), ("<x>", "&lt;x&gt;"), ("line\nbreak\r\n", "line break"), ("", "")],
)
def test_escape(text: str, expected: str) -> None:
    assert escape(text) == expected


def test_a_digest_lists_the_first_alerts_and_counts_the_rest() -> None:
    alerts = []
    for i in range(DIGEST_MAX_LISTED + 3):
        alert = Alert()
        alert.CopyFrom(ALERT)
        alert.alert_id, alert.title = f"al-{i}", f"Title {i}"
        alerts.append(alert)
    message = slack_digest(alerts)
    assert message["blocks"][0]["text"]["text"] == f"newswatch: {len(alerts)} alerts"
    sections = [b for b in message["blocks"] if b["type"] == "section"]
    assert len(sections) == DIGEST_MAX_LISTED
    assert "and 3 more" in texts(message["blocks"][-1])
    assert len(message["blocks"]) <= 50


async def test_a_digest_is_one_post() -> None:
    second = Alert()
    second.CopyFrom(ALERT)
    second.title = "Second"
    async with Receiver() as rx:
        await post(rx.url, alerts=[ALERT, second])
    assert len(rx.received) == 1
    assert "2 alerts" in json.loads(rx.received[0].body)["text"]


@pytest.mark.parametrize(
    ("status", "retriable"), [(400, False), (403, False), (404, False), (408, True), (500, True), (503, True)]
)
async def test_outcomes_are_classified_like_webhooks_and_never_show_the_url(
    status: int, retriable: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with Receiver(default=Step(status, body=b"invalid_payload")) as rx:
        url = f"http://127.0.0.1:{rx.port}{TOKEN_PATH}"
        with pytest.raises(DeliveryError) as info:
            await post(url)
    assert info.value.retriable is retriable and info.value.status == status
    assert "T0KEN" not in str(info.value) and "T0KEN" not in caplog.text


async def test_429_with_retry_after_is_honoured() -> None:
    async with Receiver(default=Step(429, headers={"Retry-After": "30"})) as rx:
        with pytest.raises(RetryLaterError) as info:
            await post(rx.url)
    assert info.value.retry_after_seconds == 30.0


async def test_redirects_and_private_addresses_are_refused() -> None:
    async with Receiver() as rx:
        with pytest.raises(DeliveryError) as moved:
            await post(rx.moved_url)
        with pytest.raises(DeliveryError) as private:
            await post(rx.url, Settings().replace(allow_private_networks=False))
    assert moved.value.retriable is False and "redirect" in str(moved.value)
    assert private.value.retriable is False
    assert len(rx.received) == 1  # only the redirecting endpoint was reached


async def test_connection_refused_is_retriable() -> None:
    async with Receiver() as rx:
        url = rx.url
    with pytest.raises(DeliveryError) as info:
        await post(url)
    assert info.value.retriable is True

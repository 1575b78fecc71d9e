"""The webhook channel against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import json
import time

import pytest

from newswatch.alerter.channels import DeliveryResult, RetryLaterError
from newswatch.alerter.channels.webhook import MAX_RESPONSE_BYTES, WebhookChannel, classify_status
from newswatch.alerter.subscriptions import new_subscription
from newswatch.contracts import timestamp
from newswatch.errors import DeliveryError
from newswatch.settings import Settings
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.enriched_pb2 import Place, TermMatch, TextField
from newswatch.v1.subscription_pb2 import Subscription
from tests.alerter.receiver import Receiver, Step, check_signed

ALERT = Alert(
    alert_id="al-1",
    watchlist_id="wl-default",
    watchlist_name="Default",
    article_id="ar-1",
    feed_id="f-1",
    title="Retour à Palmyre",
    url="https://www.mondialisation.ca/x/1",
    language="fr",
    matches=[
        TermMatch(
            term_id="palmyra",
            term_label="Palmyra",
            kind="place",
            matched_text="Palmyre",
            field=TextField.TEXT_FIELD_TITLE,
            start=9,
            end=16,
            snippet="Retour à Palmyre",
        )
    ],
    places=[Place(name="Palmyra", geonames_id="170592", country_code="SY", field=TextField.TEXT_FIELD_TITLE)],
    countries=["SY"],
    regions=["mena"],
    score=0.9,
    created_at=timestamp(),
)


def local_settings(**changes: object) -> Settings:
    return Settings().replace(**{"allow_private_networks": True, "webhook_timeout_seconds": 2.0, **changes})


async def deliver(
    receiver_url: str, settings: Settings | None = None, attempt: int = 1
) -> tuple[Subscription, DeliveryResult]:
    sub = new_subscription("t", webhook_url=receiver_url, allow_private=True)
    channel = WebhookChannel(settings or local_settings())
    try:
        return sub, await channel.deliver(ALERT, sub, "msg_abc", attempt)
    finally:
        await channel.close()


async def test_2xx_is_delivered_with_a_signed_json_body() -> None:
    async with Receiver(default=Step(202)) as rx:
        sub, result = await deliver(rx.url)
    assert result.http_status == 202
    assert len(rx.received) == 1
    got = rx.received[0]
    check_signed(sub.webhook.secret, got)
    headers = {k.lower(): v for k, v in got.headers.items()}
    assert headers["webhook-id"] == "msg_abc"
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 5
    assert headers["content-type"] == "application/json"
    doc = json.loads(got.body)
    assert doc["schema"] == "newswatch.alert.v1"
    assert doc["alert_id"] == "al-1"
    assert doc["watchlist"] == {"id": "wl-default", "name": "Default"}
    assert doc["title"] == "Retour à Palmyre"
    assert (
        doc["matches"][0] | {"field": "title", "start": 9, "end": 16, "snippet": "Retour à Palmyre"}
        == (doc["matches"][0])
    )
    assert doc["places"][0]["country_code"] == "SY"
    assert doc["countries"] == ["SY"] and doc["regions"] == ["mena"] and doc["score"] == 0.9
    assert doc["created_at"].endswith("Z") and doc["published_at"] is None


@pytest.mark.parametrize(
    ("status", "retriable"),
    [(400, False), (401, False), (404, False), (410, False), (408, True), (429, True), (500, True),
     (503, True)],
)  # fmt: skip
async def test_failure_statuses_are_classified(status: int, retriable: bool) -> None:
    async with Receiver(default=Step(status, body=b"nope")) as rx:
        with pytest.raises(DeliveryError) as info:
            await deliver(rx.url)
    assert info.value.retriable is retriable
    assert info.value.status == status
    assert f"HTTP {status}: nope" in str(info.value)
    assert "/hook" not in str(info.value)  # URLs may carry tokens


async def test_429_with_retry_after_says_how_long_to_wait() -> None:
    async with Receiver(default=Step(429, headers={"Retry-After": "7"})) as rx:
        with pytest.raises(RetryLaterError) as info:
            await deliver(rx.url)
    assert info.value.retriable and info.value.retry_after_seconds == 7.0


async def test_redirects_are_refused_not_followed() -> None:
    async with Receiver() as rx:
        with pytest.raises(DeliveryError) as info:
            await deliver(rx.moved_url)
    assert info.value.retriable is False
    assert info.value.status == 307
    assert "redirect" in str(info.value)
    assert len(rx.received) == 1  # the target of the redirect was not called


async def test_timeout_is_retriable() -> None:
    async with Receiver(default=Step(200, delay_seconds=1.0)) as rx:
        started = time.monotonic()
        with pytest.raises(DeliveryError) as info:
            await deliver(rx.url, local_settings(webhook_timeout_seconds=0.3))
        assert time.monotonic() - started < 0.9
    assert info.value.retriable is True
    assert "within 0.3s" in str(info.value)


async def test_connection_refused_is_retriable() -> None:
    async with Receiver() as rx:
        url = rx.url
    with pytest.raises(DeliveryError) as info:
        await deliver(url)
    assert info.value.retriable is True
    assert "cannot connect" in str(info.value)


async def test_private_address_refused_when_private_networks_are_not_allowed() -> None:
    async with Receiver() as rx:
        with pytest.raises(DeliveryError) as info:
            await deliver(rx.url, Settings().replace(allow_private_networks=False))
    assert info.value.retriable is False
    assert "refused" in str(info.value)
    assert rx.received == []


async def test_localhost_name_refused_too() -> None:
    async with Receiver() as rx:
        url = rx.url.replace("127.0.0.1", "localhost")
        with pytest.raises(DeliveryError):
            await deliver(url, Settings().replace(allow_private_networks=False))
    assert rx.received == []


async def test_response_body_read_is_capped() -> None:
    big = b"x" * (4 * MAX_RESPONSE_BYTES)
    async with Receiver(default=Step(500, body=big)) as rx:
        with pytest.raises(DeliveryError) as info:
            await deliver(rx.url)
    assert len(str(info.value)) < 400


async def test_unusable_secret_is_a_final_failure() -> None:
    async with Receiver() as rx:
        sub = new_subscription("t", webhook_url=rx.url, allow_private=True)
        sub.webhook.secret = "whsec_broken!"
        channel = WebhookChannel(local_settings())
        with pytest.raises(DeliveryError) as info:
            await channel.deliver(ALERT, sub, "msg_1", 1)
        await channel.close()
    assert info.value.retriable is False
    assert rx.received == []


async def test_closed_channel_does_not_deliver() -> None:
    channel = WebhookChannel(local_settings())
    await channel.close()
    await channel.close()
    async with Receiver() as rx:
        sub = new_subscription("t", webhook_url=rx.url, allow_private=True)
        with pytest.raises(DeliveryError):
            await channel.deliver(ALERT, sub, "msg_1", 1)
    assert rx.received == []


@pytest.mark.parametrize(
    ("status", "expected"),
    [(200, None), (204, None), (299, None), (301, False), (308, False), (400, False), (408, True),
     (429, True), (499, False), (500, True), (599, True), (100, True)],
)  # fmt: skip
def test_classify_status(status: int, expected: bool | None) -> None:
    assert classify_status(status) is expected


async def test_a_digest_is_one_signed_post_of_every_alert() -> None:
    second = Alert()
    second.CopyFrom(ALERT)
    second.alert_id = "al-2"
    async with Receiver() as rx:
        sub = new_subscription("t", webhook_url=rx.url, allow_private=True)
        channel = WebhookChannel(local_settings())
        try:
            result = await channel.deliver_digest([ALERT, second], sub, "msg_digest", 1)
        finally:
            await channel.close()
    assert result.http_status == 204
    assert len(rx.received) == 1
    check_signed(sub.webhook.secret, rx.received[0])
    doc = json.loads(rx.received[0].body)
    assert doc["schema"] == "newswatch.digest.v1" and doc["count"] == 2
    assert [a["alert_id"] for a in doc["alerts"]] == ["al-1", "al-2"]
    assert {k.lower(): v for k, v in rx.received[0].headers.items()}["webhook-id"] == "msg_digest"

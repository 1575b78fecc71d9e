"""Building, validating and storing subscriptions."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest

from newswatch.alerter import signing
from newswatch.alerter.subscriptions import (
    REDACTED,
    InvalidSubscriptionError,
    add_subscription,
    list_subscriptions,
    new_subscription,
    redacted,
    remove_subscription,
)
from newswatch.settings import Settings


def test_webhook_subscription_gets_an_id_and_a_fresh_secret() -> None:
    a = new_subscription("ops", webhook_url="https://hooks.example.org/x", allow_private=False)
    b = new_subscription("ops", webhook_url="https://hooks.example.org/x", allow_private=False)
    assert a.subscription_id and a.subscription_id != b.subscription_id
    assert a.enabled and a.WhichOneof("channel") == "webhook"
    assert a.webhook.url == "https://hooks.example.org/x"
    signing.validate_secret(a.webhook.secret)
    assert a.webhook.secret != b.webhook.secret
    assert a.created_at.seconds > 0


def test_given_secret_and_filters_are_kept_normalised() -> None:
    secret = "whsec_" + base64.b64encode(bytes(32)).decode()
    s = new_subscription(
        " ops ",
        webhook_url="https://hooks.example.org/x",
        secret=secret,
        countries=["sy", " SY", "iq", ""],
        terms=["ISIS", "ISIS"],
        min_score=0.5,
        allow_private=False,
    )
    assert s.name == "ops"
    assert s.webhook.secret == secret
    assert list(s.countries) == ["SY", "IQ"]
    assert list(s.terms) == ["ISIS"]
    assert s.min_score == 0.5


def test_console_subscription() -> None:
    s = new_subscription("log", console=True, allow_private=False)
    assert s.WhichOneof("channel") == "console"
    assert not s.HasField("webhook")


INVALID: list[tuple[str, dict[str, Any]]] = [
    ("no channel", {}),
    ("two channels", {"webhook_url": "https://h.example.org/", "console": True}),
    ("empty name", {"name": "  ", "console": True}),
    ("ftp URL", {"webhook_url": "ftp://h.example.org/"}),
    ("credentials in URL", {"webhook_url": "https://u:p@h.example.org/"}),
    ("loopback URL", {"webhook_url": "http://127.0.0.1:8080/hook"}),
    ("metadata URL", {"webhook_url": "http://169.254.169.254/latest"}),
    ("bad secret", {"webhook_url": "https://h.example.org/", "secret": "hunter2"}),
    ("secret for console", {"console": True, "secret": signing.generate_secret()}),
    ("negative score", {"console": True, "min_score": -1.0}),
    ("NaN score", {"console": True, "min_score": float("nan")}),
]


@pytest.mark.parametrize(("case", "kwargs"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_subscriptions_are_refused(case: str, kwargs: dict[str, Any]) -> None:
    kwargs.setdefault("name", "ops")
    with pytest.raises(InvalidSubscriptionError) as info:
        new_subscription(allow_private=False, **kwargs)
    assert info.value.retriable is False
    assert "hunter2" not in str(info.value)


def test_loopback_webhook_allowed_when_private_networks_are() -> None:
    s = new_subscription("dev", webhook_url="http://127.0.0.1:8080/hook", allow_private=True)
    assert s.webhook.url == "http://127.0.0.1:8080/hook"


def test_redacted_hides_the_secret_and_leaves_the_original() -> None:
    s = new_subscription("ops", webhook_url="https://h.example.org/", allow_private=False)
    secret = s.webhook.secret
    assert redacted(s).webhook.secret == REDACTED
    assert s.webhook.secret == secret


@pytest.mark.integration
async def test_add_list_remove_on_the_real_broker(settings: Settings) -> None:
    name = f"test-{uuid.uuid4().hex}"
    s = new_subscription(name, webhook_url="http://127.0.0.1:9/hook", terms=["isis"], allow_private=True)
    await add_subscription(settings, s)
    listed = {x.subscription_id: x for x in await list_subscriptions(settings)}
    assert listed[s.subscription_id].name == name
    assert listed[s.subscription_id].webhook.secret == REDACTED
    assert list(listed[s.subscription_id].terms) == ["isis"]
    with pytest.raises(InvalidSubscriptionError):
        await add_subscription(settings, listed[s.subscription_id])  # a redacted copy cannot overwrite
    assert await remove_subscription(settings, s.subscription_id) is True
    assert s.subscription_id not in {x.subscription_id for x in await list_subscriptions(settings)}
    assert await remove_subscription(settings, s.subscription_id) is False

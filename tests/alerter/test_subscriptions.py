"""Building, validating and storing subscriptions."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from newswatch.alerter import payloads, signing
from newswatch.alerter.subscriptions import (
    REDACTED,
    InvalidSubscriptionError,
    add_subscription,
    list_subscriptions,
    new_subscription,
    normalised,
    redacted,
    remove_subscription,
    validated,
)
from newswatch.settings import Settings, load_settings


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
    ("unknown region", {"console": True, "regions": ["atlantis"]}),
    ("three-letter country", {"console": True, "countries": ["SYR"]}),
    ("not a language tag", {"console": True, "languages": ["français"]}),
    ("101 terms", {"console": True, "terms": [f"t{i}" for i in range(101)]}),
    ("a 201-character term", {"console": True, "terms": ["t" * 201]}),
    ("a control character in a value", {"console": True, "watchlists": ["a\nb"]}),
    ("a 201-character name", {"name": "n" * 201, "console": True}),
]


@pytest.mark.parametrize(("case", "kwargs"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_subscriptions_are_refused(case: str, kwargs: dict[str, Any]) -> None:
    kwargs.setdefault("name", "ops")
    with pytest.raises(InvalidSubscriptionError) as info:
        new_subscription(allow_private=False, **kwargs)
    assert info.value.retriable is False
    assert "hunter2" not in str(info.value)


def test_filters_are_written_in_canonical_form() -> None:
    s = new_subscription(
        "ops",
        console=True,
        regions=["MENA", " levant ", "mena"],
        languages=["FR", "fr_ca", "zh-hant", "fr"],
        allow_private=False,
    )
    assert list(s.regions) == ["mena", "levant"]
    assert list(s.languages) == ["fr", "fr-CA", "zh-Hant"]


@pytest.mark.parametrize("bad_id", ["", "a b", "-leading-dash", "x" * 129, "é", "a/b"])
def test_ids_are_refused_unless_url_safe(bad_id: str) -> None:
    s = new_subscription("ops", console=True, allow_private=False)
    s.subscription_id = bad_id
    with pytest.raises(InvalidSubscriptionError) as info:
        normalised(s, allow_private=False)
    assert info.value.field == "id"


def test_errors_name_the_field_and_code() -> None:
    with pytest.raises(InvalidSubscriptionError) as info:
        new_subscription("ops", webhook_url="http://10.0.0.1/", allow_private=False)
    assert (info.value.field, info.value.code) == ("channel.url", "unsafe_url")
    with pytest.raises(InvalidSubscriptionError) as info:
        new_subscription("ops", console=True, regions=["nowhere"], allow_private=False)
    assert (info.value.field, info.value.code) == ("regions", "invalid_value")


async def test_validated_resolves_the_webhook_host(fake_dns: None) -> None:
    public = new_subscription("ops", webhook_url="https://hooks.example.org/x", allow_private=False)
    assert (await validated(public, allow_private=False)).webhook.url == "https://hooks.example.org/x"
    private = new_subscription("ops", webhook_url="https://internal.example.org/x", allow_private=False)
    with pytest.raises(InvalidSubscriptionError) as info:
        await validated(private, allow_private=False)
    assert (info.value.code, info.value.retriable) == ("unsafe_url", False)
    assert "10.1.2.3" in str(info.value)
    assert (await validated(private, allow_private=True)).webhook.url == "https://internal.example.org/x"
    nowhere = new_subscription("ops", webhook_url="https://nowhere.example.org/x", allow_private=False)
    with pytest.raises(InvalidSubscriptionError) as info:
        await validated(nowhere, allow_private=False)
    assert (info.value.code, info.value.retriable) == ("unresolvable_url", True)


async def test_the_cli_path_refuses_hosts_that_resolve_to_private_addresses(fake_dns: None) -> None:
    # Refused before any Kafka client is made: no broker is needed (none is configured here).
    cfg = load_settings(environ={"NEWSWATCH_KAFKA_BOOTSTRAP": "127.0.0.1:1"})
    sub = new_subscription("ops", webhook_url="https://meta.example.org/latest", allow_private=False)
    with pytest.raises(InvalidSubscriptionError, match=r"169\.254\.169\.254"):
        await add_subscription(cfg, sub)


JSON = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
FIELD_VALUES = st.fixed_dictionaries(
    {},
    optional={
        "name": JSON | st.text(max_size=30),
        "enabled": JSON,
        "terms": st.lists(st.text(max_size=10), max_size=5) | JSON,
        "regions": st.lists(st.sampled_from(["mena", "MENA", "europe", "atlantis", ""]), max_size=3),
        "languages": st.lists(st.sampled_from(["fr", "fr-CA", "x", "english!", "zh_Hant"]), max_size=3),
        "min_score": JSON,
        "channel": JSON
        | st.fixed_dictionaries(
            {"type": st.sampled_from(["webhook", "console", "x"])},
            optional={"url": st.text(max_size=40) | JSON, "secret": st.text(max_size=60) | JSON},
        ),
        "id": JSON,
    },
)


@hsettings(max_examples=300, deadline=None)
@given(body=JSON | FIELD_VALUES)
def test_request_bodies_never_raise_anything_but_invalid_subscription(body: Any) -> None:
    """Property: any JSON body is either a valid subscription or a clear InvalidSubscriptionError."""
    current = new_subscription("ops", webhook_url="https://hooks.example.org/x", allow_private=False)
    for build in (lambda: payloads.new_from_json(body, "sub-1"), lambda: payloads.patched(current, body)):
        try:
            draft, generated = build()
            clean = normalised(draft, allow_private=False)
        except InvalidSubscriptionError as exc:
            assert str(exc) and exc.code
            continue
        assert clean.name and clean.WhichOneof("channel") in ("webhook", "console")
        if generated is not None:
            assert clean.webhook.secret == generated
        shown = payloads.to_json(clean)
        assert "secret" not in shown["channel"]


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

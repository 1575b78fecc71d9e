"""The alerter's HTTP API: unit tests on an in-memory store, the OpenAPI document, and the real broker."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec
from prometheus_client import CollectorRegistry

from newswatch import contracts
from newswatch.alerter import signing
from newswatch.alerter.api import SubscriptionsApi
from newswatch.alerter.metrics import AlerterMetrics
from newswatch.alerter.openapi import document
from newswatch.alerter.payloads import MAX_BODY_BYTES
from newswatch.alerter.service import AlerterService
from newswatch.alerter.store import MemorySubscriptionStore, StoreUnavailableError
from newswatch.alerter.subscriptions import add_subscription, new_subscription
from newswatch.errors import SettingsError
from newswatch.kafka import ensure_topics, make_producer, publish
from newswatch.settings import Settings, is_secret, load_settings
from newswatch.topics import ALERTS, SUBSCRIPTIONS
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.subscription_pb2 import Subscription
from tests.alerter.kafkatools import Tail, commit_group_to_end

TOKEN = "test-token-" + "x" * 24
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PUBLIC_HOOK = "https://hooks.example.org/newswatch"


def schema_of(name: str) -> Draft202012Validator:
    """A validator for one component schema of the OpenAPI document (its $refs resolve in the document)."""
    doc = document()
    return Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": doc["components"]})


ERROR_SCHEMA = schema_of("Error")
SUBSCRIPTION_SCHEMA = schema_of("Subscription")


@dataclass
class Api:
    client: TestClient[web.Request, web.Application]
    store: MemorySubscriptionStore
    registry: CollectorRegistry

    async def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any, Any]:
        headers = kwargs.pop("headers", AUTH)
        if body is not None:
            kwargs["json"] = body
        async with self.client.request(method, path, headers=headers, **kwargs) as resp:
            text = await resp.text()
            data = json.loads(text) if text else None
            if resp.status >= 400:
                ERROR_SCHEMA.validate(data)
            return resp.status, data, resp.headers

    async def create(self, **fields: Any) -> dict[str, Any]:
        body = {"name": "ops", "channel": {"type": "webhook", "url": PUBLIC_HOOK}, **fields}
        status, data, _ = await self.call("POST", "/v1/subscriptions", body)
        assert status == 201, data
        return dict(data)

    def requests(self, route: str, status: str) -> float:
        value = self.registry.get_sample_value(
            "newswatch_alerter_api_requests_total", {"route": route, "status": status}
        )
        assert value is not None
        return value


async def serve(token: str = TOKEN, allow_private: bool = False) -> AsyncIterator[Api]:
    registry = CollectorRegistry()
    store = MemorySubscriptionStore()
    api = SubscriptionsApi(store, token=token, allow_private=allow_private, metrics=AlerterMetrics(registry))
    async with TestClient(TestServer(api.app())) as client:
        yield Api(client, store, registry)


@pytest.fixture
async def api(fake_dns: None) -> AsyncIterator[Api]:
    async for served in serve():
        yield served


# ---------------------------------------------------------------- authentication


async def test_missing_token_is_401_with_a_bearer_challenge(api: Api) -> None:
    status, data, headers = await api.call("GET", "/v1/subscriptions", headers={})
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Bearer")
    assert data["error"]["code"] == "missing_token"
    assert "Authorization: Bearer" in data["error"]["message"]
    assert api.requests("/v1/subscriptions", "401") == 1


@pytest.mark.parametrize(
    "header",
    [f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer wrong", f"bearer  {TOKEN[::-1]}", "Bearer é"],
    ids=["longer", "shorter", "other", "reversed", "non-ascii"],
)
async def test_wrong_token_is_401(api: Api, header: str) -> None:
    status, data, headers = await api.call(
        "POST", "/v1/subscriptions", {"name": "x"}, headers={"Authorization": header}
    )
    assert status == 401
    assert 'error="invalid_token"' in headers["WWW-Authenticate"]
    assert data["error"]["code"] == "invalid_token"
    assert api.store.writes == []


async def test_other_schemes_count_as_missing(api: Api) -> None:
    status, data, _ = await api.call("GET", "/v1/subscriptions", headers={"Authorization": f"Basic {TOKEN}"})
    assert (status, data["error"]["code"]) == (401, "missing_token")


async def test_the_token_scheme_is_case_insensitive(api: Api) -> None:
    status, _, _ = await api.call("GET", "/v1/subscriptions", headers={"Authorization": f"bearer {TOKEN}"})
    assert status == 200


async def test_without_a_configured_token_the_api_is_off_not_open() -> None:
    async for off in serve(token=""):
        for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer anything"}):
            status, data, _ = await off.call("GET", "/v1/subscriptions", headers=headers)
            assert status == 503
            assert data["error"]["code"] == "api_disabled"
            assert "NEWSWATCH_API_TOKEN" in data["error"]["message"]
        status, doc, _ = await off.call("GET", "/openapi.json", headers={})
        assert status == 200 and doc["openapi"] == "3.1.0"


# ---------------------------------------------------------------- create: every refusal is a clear 4xx

WEBHOOK = {"type": "webhook", "url": PUBLIC_HOOK}
URL = "channel.url"
PRIVATE = "NEWSWATCH_ALLOW_PRIVATE_NETWORKS"


def body(**fields: Any) -> dict[str, Any]:
    return {"name": "ops", "channel": WEBHOOK, **fields}


def hook(url: Any) -> dict[str, Any]:
    return body(channel={"type": "webhook", "url": url})


SLACK = "https://hooks.example.org/services/T000/B000/XXXXSECRETXXXX"


def mail(to: Any, **channel: Any) -> dict[str, Any]:
    return body(channel={"type": "email", "to": to, **channel})


def quiet(start: str, end: str, timezone: Any = "") -> dict[str, Any]:
    return body(quiet_hours={"start": start, "end": end, "timezone": timezone})


BAD_CREATES: list[tuple[str, Any, str, str | None, str]] = [
    # (case, body, code, field, words in the message)
    ("missing name", {"channel": WEBHOOK}, "missing_field", "name", "name"),
    ("missing channel", {"name": "ops"}, "missing_field", "channel", "channel"),
    ("missing channel type", body(channel={"url": PUBLIC_HOOK}), "missing_field", "channel.type", "console"),
    ("webhook without url", body(channel={"type": "webhook"}), "missing_field", URL, "required"),
    ("unknown field", body(colour="red"), "unknown_field", "colour", "unknown field"),
    ("read-only id", body(id="mine"), "unknown_field", "id", "read-only"),
    ("unknown channel field", body(channel={**WEBHOOK, "x": 1}), "unknown_field", "channel.x", "unknown"),
    ("unknown channel type", body(channel={"type": "pigeon"}), "invalid_value", "channel.type", "console"),
    ("console with url", body(channel={"type": "console", "url": PUBLIC_HOOK}), "invalid_value", URL, "only"),
    ("name not a string", body(name=5), "invalid_type", "name", "string"),
    ("name null", body(name=None), "invalid_type", "name", "string"),
    ("enabled not a boolean", body(enabled="yes"), "invalid_type", "enabled", "true or false"),
    ("score as text", body(min_score="1"), "invalid_type", "min_score", "number"),
    ("score as boolean", body(min_score=True), "invalid_type", "min_score", "number"),
    ("negative score", body(min_score=-0.5), "invalid_value", "min_score", ">= 0"),
    ("terms not a list", body(terms="isis"), "invalid_type", "terms", "list"),
    ("terms of numbers", body(terms=[1]), "invalid_type", "terms", "string"),
    ("empty name", body(name="  "), "invalid_value", "name", "1-200"),
    ("name too long", body(name="n" * 201), "invalid_value", "name", "1-200"),
    ("too many terms", body(terms=[f"t{i}" for i in range(101)]), "invalid_value", "terms", "at most 100"),
    ("term too long", body(terms=["t" * 201]), "invalid_value", "terms", "1-200"),
    ("unknown region", body(regions=["atlantis"]), "invalid_value", "regions", "mena"),
    ("bad country", body(countries=["SYR"]), "invalid_value", "countries", "alpha-2"),
    ("bad language", body(languages=["english!"]), "invalid_value", "languages", "language tag"),
    (
        "bad secret",
        body(channel={**WEBHOOK, "secret": "hunter2hunter2"}),
        "invalid_value",
        "channel.secret",
        "whsec_",
    ),
    # Bad URLs
    ("ftp URL", hook("ftp://hooks.example.org/x"), "unsafe_url", URL, "http or https"),
    ("no scheme", hook("hooks.example.org/x"), "unsafe_url", URL, "scheme"),
    ("credentials", hook("https://u:p@hooks.example.org/"), "unsafe_url", URL, "credentials"),
    ("empty URL", hook(""), "unsafe_url", URL, "empty"),
    ("URL not a string", hook(["x"]), "invalid_type", URL, "string"),
    (
        "host does not resolve",
        hook("https://nowhere.example.org/"),
        "unresolvable_url",
        URL,
        "cannot resolve",
    ),
    # Private addresses
    ("loopback literal", hook("http://127.0.0.1:8080/"), "unsafe_url", URL, PRIVATE),
    ("localhost", hook("http://localhost/hook"), "unsafe_url", URL, PRIVATE),
    ("RFC 1918 literal", hook("http://10.0.0.5/"), "unsafe_url", URL, "private"),
    ("IPv6 loopback", hook("http://[::1]/"), "unsafe_url", URL, "private"),
    ("cloud metadata", hook("http://169.254.169.254/latest"), "unsafe_url", URL, "link-local"),
    (
        "name resolving to a private address",
        hook("https://internal.example.org/"),
        "unsafe_url",
        URL,
        "10.1.2.3",
    ),
    ("name resolving to metadata", hook("https://meta.example.org/"), "unsafe_url", URL, "169.254.169.254"),
    # Slack
    ("slack without url", body(channel={"type": "slack"}), "missing_field", URL, "required"),
    (
        "slack private",
        body(channel={"type": "slack", "url": "http://10.0.0.1/x"}),
        "unsafe_url",
        URL,
        "private",
    ),
    (
        "slack masked",
        body(channel={"type": "slack", "url": "https://hooks.example.org/…"}),
        "invalid_value",
        URL,
        "masked",
    ),
    (
        "slack with secret",
        body(channel={"type": "slack", "url": SLACK, "secret": "x"}),
        "invalid_value",
        "channel.secret",
        "only to webhook",
    ),
    # Email
    ("email without to", body(channel={"type": "email"}), "missing_field", "channel.to", "required"),
    ("email to empty", body(channel={"type": "email", "to": []}), "invalid_value", "channel.to", "1-20"),
    (
        "email to a string",
        body(channel={"type": "email", "to": "a@b.org"}),
        "invalid_type",
        "channel.to",
        "list",
    ),
    ("email bad address", mail(["not-an-address"]), "invalid_value", "channel.to", "email address"),
    ("email display name", mail(["Ops <ops@example.org>"]), "invalid_value", "channel.to", "email address"),
    (
        "email header injection",
        mail(["ops@example.org\r\nBcc: x@evil.org"]),
        "invalid_value",
        "channel.to",
        "control characters",
    ),
    (
        "email two in one",
        mail(["a@example.org,b@example.org"]),
        "invalid_value",
        "channel.to",
        "email address",
    ),
    (
        "email too many",
        mail([f"u{i}@example.org" for i in range(21)]),
        "invalid_value",
        "channel.to",
        "at most 20",
    ),
    (
        "email prefix with line break",
        mail(["a@example.org"], subject_prefix="[x]\nBcc: y"),
        "invalid_value",
        "channel.subject_prefix",
        "line breaks",
    ),
    (
        "email with url",
        body(channel={"type": "email", "to": ["a@example.org"], "url": SLACK}),
        "invalid_value",
        URL,
        "does not apply",
    ),
    (
        "stream with url",
        body(channel={"type": "stream", "url": SLACK}),
        "invalid_value",
        URL,
        "does not apply",
    ),
    # Delivery policy
    (
        "rate limit negative",
        body(rate_limit_per_hour=-1),
        "invalid_value",
        "rate_limit_per_hour",
        "0 or more",
    ),
    ("rate limit fraction", body(rate_limit_per_hour=1.5), "invalid_type", "rate_limit_per_hour", "integer"),
    ("rate limit text", body(rate_limit_per_hour="10"), "invalid_type", "rate_limit_per_hour", "integer"),
    ("rate limit boolean", body(rate_limit_per_hour=True), "invalid_type", "rate_limit_per_hour", "integer"),
    ("rate limit huge", body(rate_limit_per_hour=10**6), "invalid_value", "rate_limit_per_hour", "100000"),
    ("digest empty", body(digest={}), "invalid_value", "digest", "every_alerts"),
    (
        "digest both zero",
        body(digest={"every_alerts": 0, "every_seconds": 0}),
        "invalid_value",
        "digest",
        "every_seconds",
    ),
    ("digest of one", body(digest={"every_alerts": 1}), "invalid_value", "digest.every_alerts", "2-1000"),
    ("digest too often", body(digest={"every_seconds": 1}), "invalid_value", "digest.every_seconds", "10-"),
    (
        "digest unknown key",
        body(digest={"every_minutes": 5}),
        "unknown_field",
        "digest.every_minutes",
        "known",
    ),
    ("digest not an object", body(digest=5), "invalid_type", "digest", "JSON object"),
    (
        "quiet hours without end",
        body(quiet_hours={"start": "22:00"}),
        "missing_field",
        "quiet_hours.end",
        "required",
    ),
    ("quiet hours bad time", quiet("25:00", "07:00"), "invalid_value", "quiet_hours.start", "HH:MM"),
    ("quiet hours no colon", quiet("2200", "0700"), "invalid_value", "quiet_hours.start", "HH:MM"),
    ("quiet hours equal", quiet("22:00", "22:00"), "invalid_value", "quiet_hours.end", "differ"),
    (
        "quiet hours bad zone",
        quiet("22:00", "07:00", "Mars/Olympus"),
        "invalid_value",
        "quiet_hours.timezone",
        "IANA",
    ),
    (
        "quiet hours path zone",
        quiet("22:00", "07:00", "../../etc/passwd"),
        "invalid_value",
        "quiet_hours.timezone",
        "IANA",
    ),
    (
        "quiet hours long zone",
        quiet("22:00", "07:00", "x" * 300),
        "invalid_value",
        "quiet_hours.timezone",
        "IANA",
    ),
    ("quiet hours zone type", quiet("22:00", "07:00", 1), "invalid_type", "quiet_hours.timezone", "string"),
    ("owner email bad", body(owner_email="ops"), "invalid_value", "owner_email", "email address"),
    ("owner email type", body(owner_email=["ops@example.org"]), "invalid_type", "owner_email", "string"),
    (
        "read-only updated_at",
        body(updated_at="2026-01-01T00:00:00Z"),
        "unknown_field",
        "updated_at",
        "read-only",
    ),
    ("read-only disabled_reason", body(disabled_reason=""), "unknown_field", "disabled_reason", "read-only"),
]


@pytest.mark.parametrize(
    ("case", "body", "code", "field", "words"), BAD_CREATES, ids=[c[0] for c in BAD_CREATES]
)
async def test_bad_creates_are_400_naming_the_field(
    api: Api, case: str, body: Any, code: str, field: str | None, words: str
) -> None:
    status, data, _ = await api.call("POST", "/v1/subscriptions", body)
    assert status == 400, data
    assert data["error"]["code"] == code
    assert data["error"].get("field") == field
    assert words in data["error"]["message"]
    assert api.store.writes == []
    assert api.requests("/v1/subscriptions", "400") == 1


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b"{not json", {"Content-Type": "application/json"}, 400, "invalid_json"),
        (b"[1, 2]", {"Content-Type": "application/json"}, 400, "invalid_type"),
        (b"\xff\xfe{}", {"Content-Type": "application/json"}, 400, "invalid_json"),
        (b"[" * 100_000 + b"]" * 100_000, {"Content-Type": "application/json"}, 413, "body_too_large"),
        (b"{" + b" " * MAX_BODY_BYTES + b"}", {"Content-Type": "application/json"}, 413, "body_too_large"),
        (b'{"name": "ops"}', {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
        (b'{"name": "ops"}', {}, 415, "unsupported_media_type"),
    ],
    ids=[
        "not JSON",
        "not an object",
        "bad encoding",
        "deep nesting, large",
        "large",
        "text/plain",
        "no type",
    ],
)
async def test_bodies_that_cannot_be_read(
    api: Api, body: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    got, data, _ = await api.call("POST", "/v1/subscriptions", data=body, headers={**AUTH, **headers})
    assert (got, data["error"]["code"]) == (status, code)


async def test_a_large_chunked_body_is_413_without_content_length(api: Api) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * 8192

    headers = {**AUTH, "Content-Type": "application/json"}
    async with api.client.post("/v1/subscriptions", data=chunks(), headers=headers) as resp:
        assert resp.status == 413
        assert (await resp.json())["error"]["code"] == "body_too_large"


async def test_deep_nesting_within_the_cap_is_a_400() -> None:
    async for served in serve():
        body = b"[" * 30_000 + b"]" * 30_000
        status, data, _ = await served.call(
            "POST", "/v1/subscriptions", data=body, headers={**AUTH, "Content-Type": "application/json"}
        )
        assert (status, data["error"]["code"]) in {(400, "invalid_json"), (400, "invalid_type")}


async def test_unknown_routes_and_methods_answer_in_the_error_shape(api: Api) -> None:
    status, data, _ = await api.call("GET", "/v1/nothing")
    assert (status, data["error"]["code"]) == (404, "not_found")
    status, data, headers = await api.call("PUT", "/v1/subscriptions", {})
    assert (status, data["error"]["code"]) == (405, "method_not_allowed")
    assert "POST" in headers["Allow"]
    assert api.requests("other", "404") == 1


# ---------------------------------------------------------------- create, read, update, delete


async def test_create_returns_the_generated_secret_once_and_never_again(api: Api) -> None:
    created = await api.create(
        terms=["ISIS", "ISIS", " Palmyra "], countries=["sy"], regions=["MENA"], languages=["fr_ca"]
    )
    SUBSCRIPTION_SCHEMA.validate(created)
    secret = created["channel"]["secret"]
    signing.validate_secret(secret)
    assert created["channel"] == {"type": "webhook", "url": PUBLIC_HOOK, "has_secret": True, "secret": secret}
    assert created["terms"] == ["ISIS", "Palmyra"] and created["countries"] == ["SY"]
    assert created["regions"] == ["mena"] and created["languages"] == ["fr-CA"]
    assert created["enabled"] is True and created["min_score"] == 0
    [(key, stored)] = api.store.writes
    assert key == created["id"] and stored is not None and stored.webhook.secret == secret

    for path in ("/v1/subscriptions", f"/v1/subscriptions/{created['id']}"):
        async with api.client.get(path, headers=AUTH) as resp:
            assert resp.status == 200
            text = await resp.text()
        assert secret not in text and secret.removeprefix("whsec_") not in text
        assert '"has_secret": true' in text
    _, one, _ = await api.call("GET", f"/v1/subscriptions/{created['id']}")
    SUBSCRIPTION_SCHEMA.validate(one)
    assert "secret" not in one["channel"]
    assert one == {**created, "channel": {"type": "webhook", "url": PUBLIC_HOOK, "has_secret": True}}


async def test_a_given_secret_is_stored_and_not_echoed(api: Api) -> None:
    secret = signing.generate_secret()
    created = await api.create(channel={**WEBHOOK, "secret": secret})
    assert "secret" not in created["channel"] and created["channel"]["has_secret"] is True
    assert api.store.items[created["id"]].webhook.secret == secret


async def test_create_answers_201_with_location_and_the_list_is_oldest_first(api: Api) -> None:
    status, first, headers = await api.call(
        "POST", "/v1/subscriptions", {"name": "a", "channel": {"type": "console"}}
    )
    assert status == 201 and headers["Location"] == f"/v1/subscriptions/{first['id']}"
    assert first["channel"] == {"type": "console"}
    await asyncio.sleep(0.01)
    second = await api.create(name="b")
    status, listed, _ = await api.call("GET", "/v1/subscriptions")
    assert status == 200
    assert [s["id"] for s in listed["subscriptions"]] == [first["id"], second["id"]]
    for sub in listed["subscriptions"]:
        SUBSCRIPTION_SCHEMA.validate(sub)


async def test_unknown_ids_are_404(api: Api) -> None:
    for method, body in (("GET", None), ("PATCH", {"name": "x"}), ("DELETE", None)):
        status, data, _ = await api.call(method, f"/v1/subscriptions/{uuid.uuid4().hex}", body)
        assert (status, data["error"]["code"]) == (404, "not_found"), method
    status, _, _ = await api.call("GET", "/v1/subscriptions/" + "x" * 500)
    assert status == 404
    assert api.requests("/v1/subscriptions/{id}", "404") == 4
    assert api.store.writes == []


async def test_patch_changes_only_what_it_names(api: Api) -> None:
    created = await api.create(terms=["isis"], min_score=1)
    secret = api.store.items[created["id"]].webhook.secret
    status, patched, _ = await api.call(
        "PATCH",
        f"/v1/subscriptions/{created['id']}",
        {"enabled": False, "min_score": 2.5, "regions": ["levant"]},
    )
    assert status == 200
    assert patched == {
        **created,
        "enabled": False,
        "min_score": 2.5,
        "regions": ["levant"],
        "channel": {"type": "webhook", "url": PUBLIC_HOOK, "has_secret": True},
        "updated_at": patched["updated_at"],
    }
    assert patched["updated_at"] >= created["updated_at"]
    stored = api.store.items[created["id"]]
    assert stored.webhook.secret == secret and list(stored.terms) == ["isis"] and not stored.enabled


async def test_patch_rotates_the_secret_and_moves_the_url_separately(api: Api) -> None:
    created = await api.create()
    new_secret = signing.generate_secret()
    path = f"/v1/subscriptions/{created['id']}"
    status, rotated, _ = await api.call("PATCH", path, {"channel": {"secret": new_secret}})
    assert status == 200 and "secret" not in rotated["channel"]
    assert api.store.items[created["id"]].webhook.secret == new_secret
    status, moved, _ = await api.call("PATCH", path, {"channel": {"url": "https://hooks.example.org/v2"}})
    assert status == 200 and moved["channel"]["url"] == "https://hooks.example.org/v2"
    assert api.store.items[created["id"]].webhook.secret == new_secret
    status, data, _ = await api.call("PATCH", path, {"channel": {"url": "https://internal.example.org/"}})
    assert (status, data["error"]["code"], data["error"]["field"]) == (400, "unsafe_url", "channel.url")
    assert api.store.items[created["id"]].webhook.url == "https://hooks.example.org/v2"
    assert len(api.store.writes) == 3


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("https://internal.example.org/services/T1/B1/x", "unsafe_url"),  # resolves to 10.1.2.3
        ("https://meta.example.org/services/T1/B1/x", "unsafe_url"),  # resolves to the metadata address
        ("https://nowhere.example.org/services/T1/B1/x", "unresolvable_url"),
    ],
)
async def test_patch_of_a_slack_url_is_resolved_and_checked_again(api: Api, url: str, code: str) -> None:
    created = await api.create(channel={"type": "slack", "url": SLACK})
    path = f"/v1/subscriptions/{created['id']}"
    status, data, _ = await api.call("PATCH", path, {"channel": {"url": url}})
    assert (status, data["error"]["code"], data["error"]["field"]) == (400, code, "channel.url")
    assert api.store.items[created["id"]].slack.url == SLACK
    moved = "https://hooks.example.org/services/T2/B2/y"
    status, _, _ = await api.call("PATCH", path, {"channel": {"url": moved}})
    assert status == 200 and api.store.items[created["id"]].slack.url == moved


async def test_patch_switching_channels(api: Api) -> None:
    created = await api.create()
    path = f"/v1/subscriptions/{created['id']}"
    status, console, _ = await api.call("PATCH", path, {"channel": {"type": "console"}})
    assert status == 200 and console["channel"] == {"type": "console"}
    assert not api.store.items[created["id"]].HasField("webhook")
    status, data, _ = await api.call("PATCH", path, {"channel": {"type": "webhook"}})
    assert (status, data["error"]["field"]) == (400, "channel.url")
    status, back, _ = await api.call("PATCH", path, {"channel": {"type": "webhook", "url": PUBLIC_HOOK}})
    assert status == 200
    generated = back["channel"]["secret"]
    assert api.store.items[created["id"]].webhook.secret == generated


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"id": "other"}, "unknown_field", "id"),
        ({"created_at": "2020-01-01T00:00:00Z"}, "unknown_field", "created_at"),
        ({"name": ""}, "invalid_value", "name"),
        ({"terms": None}, "invalid_type", "terms"),
        ({"colour": "red"}, "unknown_field", "colour"),
        ([], "invalid_type", "body"),
    ],
)
async def test_bad_patches_change_nothing(api: Api, body: Any, code: str, field: str) -> None:
    created = await api.create()
    before = list(api.store.writes)
    status, data, _ = await api.call("PATCH", f"/v1/subscriptions/{created['id']}", body)
    assert (status, data["error"]["code"], data["error"]["field"]) == (400, code, field)
    assert api.store.writes == before


async def test_an_empty_patch_writes_nothing(api: Api) -> None:
    created = await api.create()
    status, same, _ = await api.call("PATCH", f"/v1/subscriptions/{created['id']}", {})
    assert status == 200 and same["id"] == created["id"]
    assert len(api.store.writes) == 1


async def test_delete_writes_a_tombstone(api: Api) -> None:
    created = await api.create()
    async with api.client.delete(f"/v1/subscriptions/{created['id']}", headers=AUTH) as resp:
        assert resp.status == 204 and await resp.read() == b""
    assert api.store.writes[-1] == (created["id"], None)
    status, _, _ = await api.call("GET", f"/v1/subscriptions/{created['id']}")
    assert status == 404


async def test_a_broker_that_does_not_acknowledge_is_503_with_retry_after(api: Api) -> None:
    api.store.fail_with = StoreUnavailableError("the broker did not acknowledge the write within 15s")
    status, data, headers = await api.call(
        "POST", "/v1/subscriptions", {"name": "ops", "channel": {"type": "console"}}
    )
    assert (status, data["error"]["code"]) == (503, "store_unavailable")
    assert int(headers["Retry-After"]) > 0


async def test_an_unexpected_failure_is_a_500_in_the_error_shape_and_logged(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    api.store.fail_with = RuntimeError("boom")
    status, data, _ = await api.call(
        "POST", "/v1/subscriptions", {"name": "ops", "channel": {"type": "console"}}
    )
    assert (status, data["error"]["code"]) == (500, "internal")
    assert "boom" not in data["error"]["message"]
    assert "api request failed" in caplog.text and "boom" in caplog.text
    assert api.requests("/v1/subscriptions", "500") == 1


def test_the_token_setting_is_a_secret_with_a_minimum_length() -> None:
    assert is_secret("api_token")
    cfg = load_settings(environ={"NEWSWATCH_API_TOKEN": TOKEN})
    assert cfg.api_token == TOKEN and TOKEN not in repr(cfg)
    assert load_settings(environ={}).api_token == ""
    with pytest.raises(SettingsError) as info:
        load_settings(environ={"NEWSWATCH_API_TOKEN": "short-secret"})
    assert info.value.name == "NEWSWATCH_API_TOKEN" and "short-secret" not in str(info.value)


async def test_private_webhooks_are_accepted_when_private_networks_are_allowed(fake_dns: None) -> None:
    async for served in serve(allow_private=True):
        created = await served.create(channel={"type": "webhook", "url": "http://127.0.0.1:9/hook"})
        assert created["channel"]["url"] == "http://127.0.0.1:9/hook"


async def test_neither_the_token_nor_secrets_are_logged(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    given = signing.generate_secret()
    rotated = signing.generate_secret()
    wrong = "Bearer not-the-token-but-close-" + TOKEN
    created = await api.create()
    await api.create(channel={**WEBHOOK, "secret": given})
    await api.call("PATCH", f"/v1/subscriptions/{created['id']}", {"channel": {"secret": rotated}})
    await api.call("PATCH", f"/v1/subscriptions/{created['id']}", {"channel": {"secret": "whsec_short"}})
    await api.call("POST", "/v1/subscriptions", {"name": "x", "channel": WEBHOOK, "secret": given})
    await api.call("GET", "/v1/subscriptions", headers={"Authorization": wrong})
    await api.call("DELETE", f"/v1/subscriptions/{created['id']}")
    assert "subscription created" in caplog.text and "api request refused" in caplog.text
    records = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    for secret in (TOKEN, wrong, given, rotated, created["channel"]["secret"], "whsec_short"):
        assert secret not in caplog.text
        assert secret not in records


# ---------------------------------------------------------------- the OpenAPI document


async def test_the_openapi_document_is_valid_and_served_without_a_token(api: Api) -> None:
    status, served, _ = await api.call("GET", "/openapi.json", headers={})
    assert status == 200
    assert served == document()
    validate_spec(served)
    assert served["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}


def test_every_route_is_documented_and_every_documented_operation_exists() -> None:
    app = SubscriptionsApi(
        MemorySubscriptionStore(),
        token=TOKEN,
        allow_private=False,
        metrics=AlerterMetrics(CollectorRegistry()),
    ).app()
    served = {(r.method.lower(), r.resource.canonical) for r in app.router.routes() if r.resource is not None}
    methods = {"get", "post", "patch", "delete", "put", "head", "options"}
    documented = {(m, path) for path, item in document()["paths"].items() for m in item if m in methods}
    assert served == documented
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            if method not in methods:
                continue
            assert operation["responses"], (method, path)
            if operation.get("security") != []:  # the document and the console's files need no token
                assert "401" in operation["responses"] and "503" in operation["responses"], (method, path)


async def test_documented_error_codes_cover_the_ones_answered(api: Api) -> None:
    codes = set(
        document()["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
    )
    assert {c[2] for c in BAD_CREATES} <= codes
    assert {"missing_token", "invalid_token", "api_disabled", "not_found", "store_unavailable"} <= codes


def test_the_create_schema_accepts_what_the_api_accepts_and_refuses_unknown_fields() -> None:
    create = schema_of("SubscriptionCreate")
    create.validate({"name": "ops", "terms": ["isis"], "channel": {"type": "console"}})
    create.validate(
        {
            "name": "ops",
            "channel": {"type": "webhook", "url": PUBLIC_HOOK, "secret": signing.generate_secret()},
        }
    )
    assert not create.is_valid({"name": "ops", "channel": WEBHOOK, "colour": "red"})
    assert not create.is_valid({"channel": WEBHOOK})


# ---------------------------------------------------------------- Slack, email, stream, delivery policy


async def test_a_slack_url_is_write_only_and_shown_masked(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    created = await api.create(channel={"type": "slack", "url": SLACK})
    SUBSCRIPTION_SCHEMA.validate(created)
    assert created["channel"] == {"type": "slack", "url": "https://hooks.example.org/…"}
    assert api.store.items[created["id"]].slack.url == SLACK
    _, listed, _ = await api.call("GET", "/v1/subscriptions")
    _, one, _ = await api.call("GET", f"/v1/subscriptions/{created['id']}")
    # Sending the masked view back (a read-modify-write) changes nothing and is refused, not stored.
    status, refused, _ = await api.call(
        "PATCH", f"/v1/subscriptions/{created['id']}", {"channel": one["channel"]}
    )
    assert (status, refused["error"]["field"]) == (400, "channel.url")
    status, renamed, _ = await api.call("PATCH", f"/v1/subscriptions/{created['id']}", {"name": "renamed"})
    assert status == 200 and api.store.items[created["id"]].slack.url == SLACK
    for shown in (listed, one, renamed, refused, caplog.text):
        assert "XXXXSECRETXXXX" not in json.dumps(shown)


async def test_email_stream_and_policies_round_trip(api: Api) -> None:
    created = await api.create(
        channel={"type": "email", "to": ["Ops@Example.ORG", "Ops@example.org", "b@example.org"]},
        rate_limit_per_hour=30,
        digest={"every_alerts": 10, "every_seconds": 600},
        quiet_hours={"start": "22:00", "end": "07:00", "timezone": "Europe/Paris"},
        owner_email="lead@example.org",
    )
    SUBSCRIPTION_SCHEMA.validate(created)
    assert created["channel"] == {
        "type": "email",
        "to": ["Ops@example.org", "b@example.org"],
        "subject_prefix": "",
    }
    assert created["rate_limit_per_hour"] == 30
    assert created["digest"] == {"every_alerts": 10, "every_seconds": 600}
    assert created["quiet_hours"] == {"start": "22:00", "end": "07:00", "timezone": "Europe/Paris"}
    assert created["owner_email"] == "lead@example.org" and created["disabled_reason"] == ""
    assert created["updated_at"] is not None
    path = f"/v1/subscriptions/{created['id']}"
    status, patched, _ = await api.call(
        "PATCH", path, {"digest": None, "quiet_hours": None, "channel": {"subject_prefix": "[ops]"}}
    )
    assert status == 200
    assert patched["digest"] is None and patched["quiet_hours"] is None
    assert patched["channel"] == {
        "type": "email",
        "to": ["Ops@example.org", "b@example.org"],
        "subject_prefix": "[ops]",
    }
    status, streamed, _ = await api.call("PATCH", path, {"channel": {"type": "stream"}})
    assert status == 200 and streamed["channel"] == {"type": "stream"}
    stored = api.store.items[created["id"]]
    assert stored.WhichOneof("channel") == "stream" and stored.rate_limit_per_hour == 30


async def test_enabling_clears_the_reason_the_alerter_disabled_it(api: Api) -> None:
    created = await api.create()
    api.store.items[created["id"]].enabled = False
    api.store.items[created["id"]].disabled_reason = "endpoint failing since 2026-01-01"
    _, shown, _ = await api.call("GET", f"/v1/subscriptions/{created['id']}")
    assert shown["disabled_reason"].startswith("endpoint failing")
    status, enabled, _ = await api.call("PATCH", f"/v1/subscriptions/{created['id']}", {"enabled": True})
    assert status == 200 and enabled["enabled"] and enabled["disabled_reason"] == ""


def test_the_create_schema_describes_the_new_channels_and_policies() -> None:
    create = schema_of("SubscriptionCreate")
    create.validate({"name": "s", "channel": {"type": "slack", "url": SLACK}})
    create.validate(
        {"name": "e", "channel": {"type": "email", "to": ["a@example.org"], "subject_prefix": "[x]"}}
    )
    create.validate({"name": "t", "channel": {"type": "stream"}, "digest": None, "quiet_hours": None})
    create.validate(
        {
            "name": "p",
            "channel": {"type": "console"},
            "rate_limit_per_hour": 5,
            "digest": {"every_alerts": 5},
            "quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "UTC"},
            "owner_email": "",
        }
    )
    assert not create.is_valid({"name": "x", "channel": {"type": "email"}})
    assert not create.is_valid({"name": "x", "channel": {"type": "slack", "url": SLACK, "secret": "x"}})
    assert not create.is_valid({"name": "x", "channel": {"type": "console"}, "quiet_hours": {"start": "9"}})


# ---------------------------------------------------------------- the real broker


class TopicTail(Tail):
    """Records of the subscriptions topic written after ``start()``."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, SUBSCRIPTIONS)

    async def of(self, key: str, count: int, within_seconds: float = 20) -> list[Any]:
        """The first ``count`` or more records keyed ``key``."""
        return await self.wait_for(
            lambda r: r.key == key.encode(), lambda found: len(found) >= count, within_seconds
        )


@pytest.fixture
async def alerter(settings: Settings) -> AsyncIterator[tuple[AlerterService, aiohttp.ClientSession]]:
    """An alerter with its API on a free port. No channels: it consumes the shared alerts topic but
    delivers nothing, so other tests' subscriptions are never served by it."""
    cfg = settings.replace(api_port=0, alerter_metrics_port=0, api_token=TOKEN, shutdown_deadline_seconds=5)
    await ensure_topics(cfg)
    group = f"test-alerter-api-{uuid.uuid4().hex}"
    await commit_group_to_end(cfg, group, ALERTS)
    service = AlerterService(cfg, group_id=group, channels=[])
    await service.start()
    try:
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{service.api_port}") as client:
            yield service, client
    finally:
        await service.stop()


@pytest.mark.integration
async def test_the_api_on_the_real_broker(
    alerter: tuple[AlerterService, aiohttp.ClientSession], settings: Settings
) -> None:
    _, client = alerter
    tail = TopicTail(settings)
    await tail.start()
    try:
        body = {
            "name": f"api-{uuid.uuid4().hex}",
            "watchlists": [f"wl-{uuid.uuid4().hex}"],
            "channel": {"type": "webhook", "url": "http://127.0.0.1:9/hook"},
        }
        async with client.post("/v1/subscriptions", json=body, headers=AUTH) as resp:
            assert resp.status == 201, await resp.text()
            created = await resp.json()
        sid, secret = created["id"], created["channel"]["secret"]
        [record] = await tail.of(sid, 1)
        assert contracts.header(record.headers, "content-type") == contracts.content_type_for(Subscription)
        stored = contracts.decode(Subscription, record.value, record.headers)
        assert stored.name == body["name"] and stored.webhook.secret == secret

        # Read-your-writes: the alerter's view (which the API reads) has it as soon as the POST returned.
        async with client.get(f"/v1/subscriptions/{sid}", headers=AUTH) as resp:
            assert resp.status == 200
            assert (await resp.json())["name"] == body["name"]
        async with client.get("/v1/subscriptions", headers=AUTH) as resp:
            assert sid in {s["id"] for s in (await resp.json())["subscriptions"]}

        rotated = signing.generate_secret()
        patch = {"channel": {"secret": rotated}, "enabled": False}
        async with client.patch(f"/v1/subscriptions/{sid}", json=patch, headers=AUTH) as resp:
            assert resp.status == 200
            assert "secret" not in (await resp.json())["channel"]
        _, second = await tail.of(sid, 2)
        changed = contracts.decode(Subscription, second.value, second.headers)
        assert changed.webhook.secret == rotated and not changed.enabled

        async with client.delete(f"/v1/subscriptions/{sid}", headers=AUTH) as resp:
            assert resp.status == 204
        *_, tombstone = await tail.of(sid, 3)
        assert tombstone.value is None
        async with client.get(f"/v1/subscriptions/{sid}", headers=AUTH) as resp:
            assert resp.status == 404
    finally:
        await tail.stop()


@pytest.mark.integration
async def test_subscriptions_added_by_the_cli_path_show_in_the_api(
    alerter: tuple[AlerterService, aiohttp.ClientSession], settings: Settings
) -> None:
    _, client = alerter
    sub = new_subscription(
        f"cli-{uuid.uuid4().hex}", console=True, watchlists=[uuid.uuid4().hex], allow_private=True
    )
    await add_subscription(settings, sub)
    deadline = time.monotonic() + 20
    while True:
        async with client.get(f"/v1/subscriptions/{sub.subscription_id}", headers=AUTH) as resp:
            if resp.status == 200:
                assert (await resp.json())["channel"] == {"type": "console"}
                break
        assert time.monotonic() < deadline, "the alerter's view never showed the subscription"
        await asyncio.sleep(0.2)
    async with client.delete(f"/v1/subscriptions/{sub.subscription_id}", headers=AUTH) as resp:
        assert resp.status == 204


@pytest.mark.integration
async def test_a_stream_subscription_with_policies_and_its_live_stream_on_the_real_broker(
    alerter: tuple[AlerterService, aiohttp.ClientSession], settings: Settings
) -> None:
    _, client = alerter
    watchlist = f"wl-{uuid.uuid4().hex}"
    body = {
        "name": f"live-{uuid.uuid4().hex}",
        "watchlists": [watchlist],
        "channel": {"type": "stream"},
        "rate_limit_per_hour": 60,
        "quiet_hours": {"start": "23:00", "end": "06:30", "timezone": "Asia/Baghdad"},
        "owner_email": "ops@example.org",
    }
    async with client.post("/v1/subscriptions", json=body, headers=AUTH) as resp:
        assert resp.status == 201, await resp.text()
        sid = (await resp.json())["id"]
    try:
        async with client.get(f"/v1/subscriptions/{sid}", headers=AUTH) as resp:
            shown = await resp.json()
        assert shown["quiet_hours"]["timezone"] == "Asia/Baghdad" and shown["rate_limit_per_hour"] == 60
        async with client.get(f"/v1/subscriptions/{sid}/stream", headers=AUTH) as stream:
            assert stream.status == 200
            other = Alert(alert_id=f"x-{uuid.uuid4().hex}", watchlist_id=f"wl-{uuid.uuid4().hex}")
            mine = Alert(alert_id=f"m-{uuid.uuid4().hex}", watchlist_id=watchlist, title="Palmyra")
            producer = make_producer(settings, "test-api-stream")
            await producer.start()
            try:
                for a in (other, mine):
                    await (await publish(producer, ALERTS, a.alert_id, a))
            finally:
                await producer.stop()
            async with asyncio.timeout(30):  # a hang guard
                while not (line := (await stream.content.readline()).decode()).startswith("id: "):
                    pass
            assert line.strip() == f"id: {mine.alert_id}"
    finally:
        async with client.delete(f"/v1/subscriptions/{sid}", headers=AUTH) as resp:
            assert resp.status == 204

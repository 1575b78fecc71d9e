"""The HTTP API's JSON bodies ↔ :class:`~newswatch.v1.subscription_pb2.Subscription`.

Request bodies are untrusted: every key must be known (``unknown_field``), every value of the right JSON
type (``invalid_type``: a boolean is not a number, ``null`` is no value), lists are checked for length
before their items are read. Everything else — limits, known regions, URL rules, the secret's form —
is :func:`~newswatch.alerter.subscriptions.normalised`'s job, shared with the CLI. Errors are
:class:`~newswatch.alerter.subscriptions.InvalidSubscriptionError` with ``field`` and ``code``.

Create (``POST``): ``name`` and ``channel`` are required; ``enabled`` defaults to true, filters to empty
(match everything), ``min_score`` to 0. ``channel`` is ``{"type": "console"}`` or
``{"type": "webhook", "url": ..., "secret"?: "whsec_..."}``; without a secret the server generates one.

Patch (``PATCH``): the fields given replace the current ones; ``id`` and ``created_at`` are read-only.
A ``channel`` of the current type (``type`` may then be omitted) keeps what it does not name: give only
``secret`` to rotate it, only ``url`` to move the endpoint. Switching to a webhook needs a ``url``.

Responses (:func:`to_json`) never carry a secret: a webhook channel shows ``has_secret``. The one
exception is a secret the server generated while handling the request, returned once as
``channel.secret``.
"""

from __future__ import annotations

import math
from typing import Any

from newswatch.alerter import signing
from newswatch.alerter.subscriptions import (
    FILTERS,
    MAX_FILTER_VALUES,
    InvalidSubscriptionError,
    channel_of,
)
from newswatch.v1.subscription_pb2 import ConsoleChannel, Subscription, WebhookChannel

__all__ = [
    "CHANNEL_TYPES",
    "MAX_BODY_BYTES",
    "READ_ONLY_FIELDS",
    "WRITABLE_FIELDS",
    "new_from_json",
    "patched",
    "to_json",
]

MAX_BODY_BYTES = 64 * 1024  # request bodies larger than this are refused (413)
WRITABLE_FIELDS = ("name", "enabled", *FILTERS, "min_score", "channel")
READ_ONLY_FIELDS = ("id", "created_at")
CHANNEL_FIELDS = ("type", "url", "secret")
CHANNEL_TYPES = ("webhook", "console")


def _fail(code: str, field: str, message: str) -> InvalidSubscriptionError:
    return InvalidSubscriptionError(message, field=field, code=code)


def _object(
    value: Any, field: str, allowed: tuple[str, ...], read_only: tuple[str, ...] = ()
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail("invalid_type", field or "body", f"{field or 'the request body'} must be a JSON object")
    prefix = f"{field}." if field else ""
    for key in value:
        if key in read_only:
            raise _fail("unknown_field", prefix + key, f"{prefix}{key} is read-only")
        if key not in allowed:
            shown = key[:50] if isinstance(key, str) else "?"
            raise _fail(
                "unknown_field",
                prefix + shown,
                f"unknown field {prefix}{shown!r}; known: {', '.join(allowed)}",
            )
    return value


def _string(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise _fail("invalid_type", field, f"{field} must be a string")
    return value


def _strings(value: Any, field: str) -> list[str]:
    if not isinstance(value, list):
        raise _fail("invalid_type", field, f"{field} must be a list of strings")
    if len(value) > MAX_FILTER_VALUES:
        raise _fail("invalid_value", field, f"{field}: at most {MAX_FILTER_VALUES} values")
    return [_string(v, field) for v in value]


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail("invalid_type", field, f"{field} must be a number")
    number = float(value)
    if not math.isfinite(number):
        raise _fail("invalid_value", field, f"{field} must be a finite number")
    return number


def _apply(sub: Subscription, body: dict[str, Any]) -> None:
    """Copy the scalar and list fields present in ``body`` onto ``sub``."""
    if "name" in body:
        sub.name = _string(body["name"], "name")
    if "enabled" in body:
        if not isinstance(body["enabled"], bool):
            raise _fail("invalid_type", "enabled", "enabled must be true or false")
        sub.enabled = body["enabled"]
    for name in FILTERS:
        if name in body:
            values = _strings(body[name], name)
            del getattr(sub, name)[:]
            getattr(sub, name).extend(values)
    if "min_score" in body:
        sub.min_score = _number(body["min_score"], "min_score")


def _set_channel(sub: Subscription, value: Any, current: Subscription | None) -> str | None:
    """Set ``sub``'s channel from ``value``; return the secret generated here, if any."""
    obj = _object(value, "channel", CHANNEL_FIELDS)
    current_type = channel_of(current) if current is not None else None
    if "type" not in obj and current_type is None:
        raise _fail("missing_field", "channel.type", "channel.type is required: webhook or console")
    kind = _string(obj["type"], "channel.type") if "type" in obj else current_type
    if kind not in CHANNEL_TYPES:
        raise _fail(
            "invalid_value", "channel.type", f"channel.type must be one of {', '.join(CHANNEL_TYPES)}"
        )
    if kind == "console":
        for key in ("url", "secret"):
            if key in obj:
                raise _fail("invalid_value", f"channel.{key}", f"channel.{key} only applies to webhooks")
        sub.console.CopyFrom(ConsoleChannel())
        return None
    kept = current.webhook if current is not None and current_type == "webhook" else None
    if "url" in obj:
        url = _string(obj["url"], "channel.url")
    elif kept is not None:
        url = kept.url
    else:
        raise _fail("missing_field", "channel.url", "channel.url is required for a webhook")
    generated: str | None = None
    if "secret" in obj:
        secret = _string(obj["secret"], "channel.secret")
    elif kept is not None:
        secret = kept.secret
    else:
        secret = generated = signing.generate_secret()
    sub.webhook.CopyFrom(WebhookChannel(url=url, secret=secret))
    return generated


def new_from_json(body: Any, subscription_id: str) -> tuple[Subscription, str | None]:
    """A subscription from a create body (not yet validated) and the secret generated for it, if any."""
    obj = _object(body, "", WRITABLE_FIELDS, READ_ONLY_FIELDS)
    for required in ("name", "channel"):
        if required not in obj:
            raise _fail("missing_field", required, f"missing field: {required}")
    sub = Subscription(subscription_id=subscription_id, enabled=True)
    _apply(sub, obj)
    generated = _set_channel(sub, obj["channel"], None)
    return sub, generated


def patched(current: Subscription, body: Any) -> tuple[Subscription, str | None]:
    """``current`` with a patch body applied (not yet validated) and the secret generated, if any."""
    obj = _object(body, "", WRITABLE_FIELDS, READ_ONLY_FIELDS)
    sub = Subscription()
    sub.CopyFrom(current)
    _apply(sub, obj)
    generated = _set_channel(sub, obj["channel"], current) if "channel" in obj else None
    return sub, generated


def to_json(sub: Subscription, generated_secret: str | None = None) -> dict[str, Any]:
    """The API's view of ``sub``: never its secret, except ``generated_secret`` when given."""
    channel: dict[str, Any] = {"type": channel_of(sub) or "none"}
    if sub.HasField("webhook"):
        channel["url"] = sub.webhook.url
        channel["has_secret"] = bool(sub.webhook.secret)
        if generated_secret is not None:
            channel["secret"] = generated_secret
    return {
        "id": sub.subscription_id,
        "name": sub.name,
        "enabled": sub.enabled,
        **{name: list(getattr(sub, name)) for name in FILTERS},
        "min_score": sub.min_score,
        "channel": channel,
        "created_at": sub.created_at.ToJsonString() if sub.HasField("created_at") else None,
    }

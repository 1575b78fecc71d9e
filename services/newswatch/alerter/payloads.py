"""The HTTP API's JSON bodies ↔ :class:`~newswatch.v1.subscription_pb2.Subscription`.

Request bodies are untrusted: every key must be known (``unknown_field``), every value of the right JSON
type (``invalid_type``: a boolean is not a number, ``null`` is no value), lists are checked for length
before their items are read. Everything else — limits, known regions, URL rules, the secret's form —
is :func:`~newswatch.alerter.subscriptions.normalised`'s job, shared with the CLI. Errors are
:class:`~newswatch.alerter.subscriptions.InvalidSubscriptionError` with ``field`` and ``code``.

Create (``POST``): ``name`` and ``channel`` are required; ``enabled`` defaults to true, filters to empty
(match everything), ``min_score`` to 0. ``channel`` is one of ``{"type": "console"}``,
``{"type": "stream"}``, ``{"type": "webhook", "url": ..., "secret"?: "whsec_..."}`` (without a secret the
server generates one), ``{"type": "slack", "url": ...}`` or
``{"type": "email", "to": [...], "subject_prefix"?: ...}``. Delivery policy (optional):
``rate_limit_per_hour`` (integer, 0 = none), ``digest`` ``{"every_alerts", "every_seconds"}`` or null,
``quiet_hours`` ``{"start": "22:00", "end": "07:00", "timezone"?: "Europe/Paris"}`` or null,
``owner_email`` (string, "" = none).

Patch (``PATCH``): the fields given replace the current ones (null removes a digest or quiet hours);
``id``, ``created_at``, ``updated_at`` and ``disabled_reason`` are read-only, and setting ``enabled`` to
true clears ``disabled_reason``. A ``channel`` of the current type (``type`` may then be omitted) keeps
what it does not name: give only ``secret`` to rotate it, only ``url`` to move the endpoint. Switching to
a webhook or Slack needs a ``url``, to email a ``to``.

Responses (:func:`to_json`) never carry a secret: a webhook channel shows ``has_secret``, a Slack
channel its URL masked to scheme and host. The one exception is a webhook secret the server generated
while handling the request, returned once as ``channel.secret``.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from newswatch.alerter import signing
from newswatch.alerter.subscriptions import (
    FILTERS,
    MAX_FILTER_VALUES,
    InvalidSubscriptionError,
    channel_of,
)
from newswatch.alerter.validation import MAX_RECIPIENTS, masked_url
from newswatch.v1.subscription_pb2 import (
    ConsoleChannel,
    Digest,
    EmailChannel,
    QuietHours,
    SlackChannel,
    StreamChannel,
    Subscription,
    WebhookChannel,
)

__all__ = [
    "CHANNEL_TYPES",
    "MAX_BODY_BYTES",
    "POLICY_FIELDS",
    "READ_ONLY_FIELDS",
    "WRITABLE_FIELDS",
    "new_from_json",
    "patched",
    "to_json",
]

MAX_BODY_BYTES = 64 * 1024  # request bodies larger than this are refused (413)
POLICY_FIELDS = ("rate_limit_per_hour", "digest", "quiet_hours", "owner_email")
WRITABLE_FIELDS = ("name", "enabled", *FILTERS, "min_score", "channel", *POLICY_FIELDS)
READ_ONLY_FIELDS = ("id", "created_at", "updated_at", "disabled_reason")
CHANNEL_FIELDS = ("type", "url", "secret", "to", "subject_prefix")
CHANNEL_TYPES = ("webhook", "slack", "email", "console", "stream")
DIGEST_FIELDS = ("every_alerts", "every_seconds")
QUIET_HOURS_FIELDS = ("start", "end", "timezone")
# Which channel keys each type takes (besides "type").
_CHANNEL_KEYS = {
    "webhook": ("url", "secret"),
    "slack": ("url",),
    "email": ("to", "subject_prefix"),
    "console": (),
    "stream": (),
}
_UINT32_MAX = 2**32 - 1


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


def _integer(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail("invalid_type", field, f"{field} must be an integer")
    if isinstance(value, float) and not value.is_integer():
        raise _fail("invalid_type", field, f"{field} must be an integer")
    number = int(value)
    if not 0 <= number <= _UINT32_MAX:
        raise _fail("invalid_value", field, f"{field} must be 0 or more")
    return number


def _apply_policy(sub: Subscription, body: dict[str, Any]) -> None:
    """Copy the delivery policy fields present in ``body`` onto ``sub`` (checked later)."""
    if "rate_limit_per_hour" in body:
        sub.rate_limit_per_hour = _integer(body["rate_limit_per_hour"], "rate_limit_per_hour")
    if "digest" in body:
        if body["digest"] is None:
            sub.ClearField("digest")
        else:
            obj = _object(body["digest"], "digest", DIGEST_FIELDS)
            sub.digest.CopyFrom(Digest(**{k: _integer(obj.get(k, 0), f"digest.{k}") for k in DIGEST_FIELDS}))
    if "quiet_hours" in body:
        if body["quiet_hours"] is None:
            sub.ClearField("quiet_hours")
        else:
            obj = _object(body["quiet_hours"], "quiet_hours", QUIET_HOURS_FIELDS)
            for required in ("start", "end"):
                if required not in obj:
                    raise _fail(
                        "missing_field", f"quiet_hours.{required}", f"quiet_hours.{required} is required"
                    )
            sub.quiet_hours.CopyFrom(
                QuietHours(**{k: _string(obj.get(k, ""), f"quiet_hours.{k}") for k in QUIET_HOURS_FIELDS})
            )
    if "owner_email" in body:
        sub.owner_email = _string(body["owner_email"], "owner_email")


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
    _apply_policy(sub, body)


def _set_channel(sub: Subscription, value: Any, current: Subscription | None) -> str | None:
    """Set ``sub``'s channel from ``value``; return the webhook secret generated here, if any."""
    obj = _object(value, "channel", CHANNEL_FIELDS)
    current_type = channel_of(current) if current is not None else None
    if "type" not in obj and current_type is None:
        raise _fail("missing_field", "channel.type", f"channel.type is required: {', '.join(CHANNEL_TYPES)}")
    kind = _string(obj["type"], "channel.type") if "type" in obj else current_type
    if kind not in CHANNEL_TYPES:
        raise _fail(
            "invalid_value", "channel.type", f"channel.type must be one of {', '.join(CHANNEL_TYPES)}"
        )
    for key in obj:
        if key != "type" and key not in _CHANNEL_KEYS[kind]:
            users = [k for k, keys in _CHANNEL_KEYS.items() if key in keys]
            raise _fail(
                "invalid_value",
                f"channel.{key}",
                f"channel.{key} does not apply to {kind} channels (only to {', '.join(users)})",
            )
    same = current if current is not None and current_type == kind else None

    def given(key: str, kept: str, needed: bool) -> str:
        if key in obj:
            return _string(obj[key], f"channel.{key}")
        if same is None and needed:
            raise _fail("missing_field", f"channel.{key}", f"channel.{key} is required for {kind} channels")
        return kept

    if kind == "console":
        sub.console.CopyFrom(ConsoleChannel())
    elif kind == "stream":
        sub.stream.CopyFrom(StreamChannel())
    elif kind == "slack":
        sub.slack.CopyFrom(SlackChannel(url=given("url", same.slack.url if same else "", True)))
    elif kind == "email":
        if "to" in obj:
            if not isinstance(obj["to"], list):
                raise _fail("invalid_type", "channel.to", "channel.to must be a list of email addresses")
            if len(obj["to"]) > MAX_RECIPIENTS:
                raise _fail("invalid_value", "channel.to", f"channel.to: at most {MAX_RECIPIENTS} addresses")
            to = [_string(v, "channel.to") for v in obj["to"]]
        elif same is not None:
            to = list(same.email.to)
        else:
            raise _fail("missing_field", "channel.to", "channel.to is required for email channels")
        prefix = given("subject_prefix", same.email.subject_prefix if same else "", False)
        sub.email.CopyFrom(EmailChannel(to=to, subject_prefix=prefix))
    else:
        url = given("url", same.webhook.url if same else "", True)
        generated: str | None = None
        if "secret" in obj:
            secret = _string(obj["secret"], "channel.secret")
        elif same is not None:
            secret = same.webhook.secret
        else:
            secret = generated = signing.generate_secret()
        sub.webhook.CopyFrom(WebhookChannel(url=url, secret=secret))
        return generated
    return None


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
    if obj.get("enabled") is True:
        sub.disabled_reason = ""
    generated = _set_channel(sub, obj["channel"], current) if "channel" in obj else None
    return sub, generated


def _when(sub: Subscription, name: Literal["created_at", "updated_at"]) -> str | None:
    return getattr(sub, name).ToJsonString() if sub.HasField(name) else None


def to_json(sub: Subscription, generated_secret: str | None = None) -> dict[str, Any]:
    """The API's view of ``sub``: never its secret, except ``generated_secret`` when given."""
    channel: dict[str, Any] = {"type": channel_of(sub) or "none"}
    if sub.HasField("webhook"):
        channel["url"] = sub.webhook.url
        channel["has_secret"] = bool(sub.webhook.secret)
        if generated_secret is not None:
            channel["secret"] = generated_secret
    elif sub.HasField("slack"):
        channel["url"] = masked_url(sub.slack.url)
    elif sub.HasField("email"):
        channel["to"] = list(sub.email.to)
        channel["subject_prefix"] = sub.email.subject_prefix
    digest = sub.digest if sub.HasField("digest") else None
    quiet = sub.quiet_hours if sub.HasField("quiet_hours") else None
    return {
        "id": sub.subscription_id,
        "name": sub.name,
        "enabled": sub.enabled,
        **{name: list(getattr(sub, name)) for name in FILTERS},
        "min_score": sub.min_score,
        "channel": channel,
        "rate_limit_per_hour": sub.rate_limit_per_hour,
        "digest": {k: getattr(digest, k) for k in DIGEST_FIELDS} if digest else None,
        "quiet_hours": {k: getattr(quiet, k) for k in QUIET_HOURS_FIELDS} if quiet else None,
        "owner_email": sub.owner_email,
        "disabled_reason": sub.disabled_reason,
        "created_at": _when(sub, "created_at"),
        "updated_at": _when(sub, "updated_at"),
    }

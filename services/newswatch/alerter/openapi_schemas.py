"""The component schemas of the alerter API's OpenAPI document (:mod:`~newswatch.alerter.openapi`).

Built from the constants the API validates with (limits, filter names, channel types, region ids, policy
bounds), so the schemas cannot drift from the code on those.
"""

from __future__ import annotations

from typing import Any

from newswatch.alerter.payloads import CHANNEL_TYPES
from newswatch.alerter.subscriptions import MAX_FILTER_VALUES, MAX_NAME_CHARS, MAX_VALUE_CHARS
from newswatch.alerter.validation import (
    MAX_DIGEST_ALERTS,
    MAX_DIGEST_SECONDS,
    MAX_PREFIX_CHARS,
    MAX_RATE_PER_HOUR,
    MAX_RECIPIENTS,
    MIN_DIGEST_SECONDS,
)
from newswatch.processor.regions import default_regions

__all__ = ["ERROR_CODES", "ref", "schemas"]

ERROR_CODES = (
    "api_disabled",
    "missing_token",
    "invalid_token",
    "invalid_json",
    "missing_field",
    "unknown_field",
    "invalid_type",
    "invalid_value",
    "unsafe_url",
    "unresolvable_url",
    "not_found",
    "method_not_allowed",
    "body_too_large",
    "unsupported_media_type",
    "store_unavailable",
    "too_many_streams",
    "stream_unavailable",
    "console_unavailable",
    "http_error",
    "internal",
)


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _strings(description: str) -> dict[str, Any]:
    return {
        "type": "array",
        "maxItems": MAX_FILTER_VALUES,
        "items": {"type": "string", "minLength": 1, "maxLength": MAX_VALUE_CHARS},
        "description": description + " Empty: every alert passes this filter.",
    }


def schemas() -> dict[str, Any]:
    regions = ", ".join(sorted(default_regions().regions))
    filters = {
        "watchlists": _strings(
            "Watch-list ids or names; an alert passes when its watch list is one of them."
        ),
        "terms": _strings("Term ids or labels; an alert passes when it matched one of them."),
        "regions": _strings(f"Region ids (case-insensitive): {regions}."),
        "countries": _strings("ISO 3166-1 alpha-2 country codes, e.g. SY, IQ (case-insensitive)."),
        "languages": _strings("Language tags (BCP 47 style: en, fr, fr-CA); fr also matches fr-CA."),
        "min_score": {"type": "number", "minimum": 0, "description": "Least alert score (inclusive)."},
    }
    name = {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS}
    secret = {
        "type": "string",
        "pattern": "^whsec_[A-Za-z0-9+/=]+$",
        "writeOnly": True,
        "description": "Standard Webhooks secret: whsec_ + base64 of 24-64 bytes. Write-only.",
    }
    url = {"type": "string", "format": "uri", "maxLength": 2048}
    slack_url = {
        **url,
        "writeOnly": True,
        "description": "Slack-compatible incoming webhook URL. A secret: responses show scheme and host "
        "only.",
    }
    address = {"type": "string", "format": "email", "maxLength": 254}
    recipients = {"type": "array", "minItems": 1, "maxItems": MAX_RECIPIENTS, "items": address}
    prefix = {
        "type": "string",
        "maxLength": MAX_PREFIX_CHARS,
        "description": "Subject prefix (printable, no line breaks); empty = [newswatch].",
    }
    clock = {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$", "description": "HH:MM, 24 h"}
    policy: dict[str, Any] = {
        "rate_limit_per_hour": {
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_RATE_PER_HOUR,
            "description": "At most this many deliveries per rolling hour; 0 = no limit.",
        },
        "digest": {
            "oneOf": [ref("Digest"), {"type": "null"}],
            "description": "Deliver alerts together; null = one delivery per alert.",
        },
        "quiet_hours": {
            "oneOf": [ref("QuietHours"), {"type": "null"}],
            "description": "Hold alerts during these hours, delivered as one digest when they end.",
        },
        "owner_email": {
            "anyOf": [address, {"const": ""}],
            "description": "Told when the alerter disables this subscription's endpoint; empty = nobody.",
        },
    }
    webhook_in: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["type", "url"],
        "properties": {
            "type": {"const": "webhook"},
            "url": url,
            "secret": secret,
        },
    }
    return {
        "WebhookChannelInput": {
            **webhook_in,
            "description": "Signed POSTs to url. Without a secret the server generates one and "
            "returns it once.",
        },
        "SlackChannelInput": {
            "type": "object",
            "additionalProperties": False,
            "required": ["type", "url"],
            "properties": {"type": {"const": "slack"}, "url": slack_url},
            "description": "A message with blocks POSTed to a Slack-compatible incoming webhook.",
        },
        "EmailChannelInput": {
            "type": "object",
            "additionalProperties": False,
            "required": ["type", "to"],
            "properties": {"type": {"const": "email"}, "to": recipients, "subject_prefix": prefix},
            "description": "One email (text and HTML) per alert through the alerter's SMTP server.",
        },
        "StreamChannelInput": {
            "type": "object",
            "additionalProperties": False,
            "required": ["type"],
            "properties": {"type": {"const": "stream"}},
            "description": "Alerts read live at /v1/subscriptions/{id}/stream; nothing is pushed.",
        },
        "Digest": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "every_alerts": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": MAX_DIGEST_ALERTS,
                    "description": "Deliver once this many are pending "
                    f"(0 = unused, else 2-{MAX_DIGEST_ALERTS}).",
                },
                "every_seconds": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": MAX_DIGEST_SECONDS,
                    "description": f"Deliver this long after the first pending one (0 = unused, else at "
                    f"least {MIN_DIGEST_SECONDS}). Not both 0.",
                },
            },
        },
        "QuietHours": {
            "type": "object",
            "additionalProperties": False,
            "required": ["start", "end"],
            "properties": {
                "start": clock,
                "end": clock,
                "timezone": {
                    "type": "string",
                    "maxLength": 64,
                    "description": "IANA time zone, e.g. Europe/Paris; empty = UTC. start > end spans "
                    "midnight.",
                },
            },
        },
        "ConsoleChannelInput": {
            "type": "object",
            "additionalProperties": False,
            "required": ["type"],
            "properties": {"type": {"const": "console"}},
            "description": "Alerts written to the alerter's log and live stream.",
        },
        "ChannelPatch": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "type": {"type": "string", "enum": list(CHANNEL_TYPES)},
                "url": url,
                "secret": secret,
                "to": recipients,
                "subject_prefix": prefix,
            },
            "description": "Omitted parts of a channel of the same type are kept: give only secret to "
            "rotate it. Switching to a webhook or Slack needs url, to email to. url and secret apply "
            "to webhooks, url to Slack, to and subject_prefix to email.",
        },
        "SubscriptionCreate": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "channel"],
            "properties": {
                "name": name,
                "enabled": {"type": "boolean", "default": True},
                **filters,
                "channel": {
                    "oneOf": [
                        ref("WebhookChannelInput"),
                        ref("SlackChannelInput"),
                        ref("EmailChannelInput"),
                        ref("ConsoleChannelInput"),
                        ref("StreamChannelInput"),
                    ]
                },
                **policy,
            },
        },
        "SubscriptionPatch": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "name": name,
                "enabled": {"type": "boolean"},
                **filters,
                "channel": ref("ChannelPatch"),
                **policy,
            },
        },
        "Channel": {
            "type": "object",
            "required": ["type"],
            "properties": {
                "type": {"type": "string", "enum": [*CHANNEL_TYPES, "none"]},
                "url": {"type": "string", "description": "Slack URLs are shown as scheme://host/…"},
                "has_secret": {"type": "boolean", "description": "Secrets are never returned."},
                "to": {"type": "array", "items": {"type": "string"}},
                "subject_prefix": {"type": "string"},
                "secret": {
                    "type": "string",
                    "description": "Only in the response to the request in which the server generated it.",
                },
            },
        },
        "Subscription": {
            "type": "object",
            "required": ["id", "name", "enabled", *filters, "channel", *policy, "created_at"],
            "properties": {
                "id": {"type": "string", "readOnly": True},
                "name": {"type": "string"},
                "enabled": {"type": "boolean"},
                **filters,
                "channel": ref("Channel"),
                **policy,
                "owner_email": {"type": "string"},
                "disabled_reason": {
                    "type": "string",
                    "readOnly": True,
                    "description": "Why the alerter disabled the subscription; cleared by enabling it.",
                },
                "created_at": {"type": ["string", "null"], "format": "date-time", "readOnly": True},
                "updated_at": {"type": ["string", "null"], "format": "date-time", "readOnly": True},
            },
        },
        "SubscriptionList": {
            "type": "object",
            "required": ["subscriptions"],
            "properties": {"subscriptions": {"type": "array", "items": ref("Subscription")}},
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string", "enum": list(ERROR_CODES)},
                        "message": {"type": "string"},
                        "field": {"type": "string", "description": "The offending field, e.g. channel.url."},
                    },
                }
            },
        },
    }

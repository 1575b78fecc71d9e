"""The OpenAPI 3.1 document of the alerter's HTTP API (:mod:`~newswatch.alerter.api`), served at
``/openapi.json``.

Built from the same constants the API validates with (limits, filter names, channel types, region ids),
so the document cannot drift from the code on those; a test checks that every route of the aiohttp app
is documented and every documented operation exists, and validates the document with
``openapi-spec-validator``.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from newswatch import __version__
from newswatch.alerter.payloads import CHANNEL_TYPES, MAX_BODY_BYTES
from newswatch.alerter.subscriptions import MAX_FILTER_VALUES, MAX_NAME_CHARS, MAX_VALUE_CHARS
from newswatch.processor.regions import default_regions

__all__ = ["ERROR_CODES", "document"]

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
    "http_error",
    "internal",
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _strings(description: str) -> dict[str, Any]:
    return {
        "type": "array",
        "maxItems": MAX_FILTER_VALUES,
        "items": {"type": "string", "minLength": 1, "maxLength": MAX_VALUE_CHARS},
        "description": description + " Empty: every alert passes this filter.",
    }


def _schemas() -> dict[str, Any]:
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
            },
            "description": "Omitted parts of a channel of the same type are kept: give only secret to "
            "rotate it. Switching to a webhook needs url.",
        },
        "SubscriptionCreate": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "channel"],
            "properties": {
                "name": name,
                "enabled": {"type": "boolean", "default": True},
                **filters,
                "channel": {"oneOf": [_ref("WebhookChannelInput"), _ref("ConsoleChannelInput")]},
            },
        },
        "SubscriptionPatch": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "name": name,
                "enabled": {"type": "boolean"},
                **filters,
                "channel": _ref("ChannelPatch"),
            },
        },
        "Channel": {
            "type": "object",
            "required": ["type"],
            "properties": {
                "type": {"type": "string", "enum": [*CHANNEL_TYPES, "none"]},
                "url": {"type": "string"},
                "has_secret": {"type": "boolean", "description": "Secrets are never returned."},
                "secret": {
                    "type": "string",
                    "description": "Only in the response to the request in which the server generated it.",
                },
            },
        },
        "Subscription": {
            "type": "object",
            "required": ["id", "name", "enabled", *filters, "channel", "created_at"],
            "properties": {
                "id": {"type": "string", "readOnly": True},
                "name": {"type": "string"},
                "enabled": {"type": "boolean"},
                **filters,
                "channel": _ref("Channel"),
                "created_at": {"type": ["string", "null"], "format": "date-time", "readOnly": True},
            },
        },
        "SubscriptionList": {
            "type": "object",
            "required": ["subscriptions"],
            "properties": {"subscriptions": {"type": "array", "items": _ref("Subscription")}},
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


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _ref("Error")}},
    }
    if headers:
        response["headers"] = headers
    return response


def _responses() -> dict[str, Any]:
    retry_after = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}
    return {
        "BadRequest": _error(
            "Not JSON, an unknown or read-only field, a wrong type or an invalid value (a webhook URL "
            "that is not http(s), carries credentials, or resolves to a private, loopback, link-local "
            "or metadata address)."
        ),
        "Unauthorized": _error(
            "Missing or wrong bearer token.",
            {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}},
        ),
        "NotFound": _error("No subscription with this id."),
        "TooLarge": _error(f"The body is larger than {MAX_BODY_BYTES} bytes."),
        "UnsupportedMediaType": _error("The body is not application/json."),
        "Unavailable": _error(
            "The API is off (no NEWSWATCH_API_TOKEN configured) or the broker did not acknowledge a write.",
            retry_after,
        ),
    }


def _errors(*names: str) -> dict[str, Any]:
    codes = {"BadRequest": "400", "NotFound": "404", "TooLarge": "413", "UnsupportedMediaType": "415"}
    out = {"401": {"$ref": "#/components/responses/Unauthorized"}}
    out.update({codes[n]: {"$ref": f"#/components/responses/{n}"} for n in names})
    out["503"] = {"$ref": "#/components/responses/Unavailable"}
    return out


def _json(schema: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": _ref(schema)}}}


def _paths() -> dict[str, Any]:
    id_param = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 128}}
    body_errors = ("BadRequest", "TooLarge", "UnsupportedMediaType")
    return {
        "/openapi.json": {
            "get": {
                "operationId": "getOpenApi",
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": {"description": "The OpenAPI document", "content": {"application/json": {}}}
                },
            }
        },
        "/v1/subscriptions": {
            "get": {
                "operationId": "listSubscriptions",
                "summary": "Every subscription, oldest first (secrets never included)",
                "responses": {
                    "200": {"description": "The subscriptions", **_json("SubscriptionList")},
                    **_errors(),
                },
            },
            "post": {
                "operationId": "createSubscription",
                "summary": "Create a subscription (written to newswatch.subscriptions.v1)",
                "requestBody": {"required": True, **_json("SubscriptionCreate")},
                "responses": {
                    "201": {
                        "description": "Created. channel.secret is present only when the server "
                        "generated it.",
                        "headers": {"Location": {"schema": {"type": "string"}}},
                        **_json("Subscription"),
                    },
                    **_errors(*body_errors),
                },
            },
        },
        "/v1/subscriptions/{id}": {
            "parameters": [id_param],
            "get": {
                "operationId": "getSubscription",
                "summary": "One subscription",
                "responses": {
                    "200": {"description": "The subscription", **_json("Subscription")},
                    **_errors("NotFound"),
                },
            },
            "patch": {
                "operationId": "updateSubscription",
                "summary": "Change the fields given; rotate a webhook secret by giving a new one",
                "requestBody": {"required": True, **_json("SubscriptionPatch")},
                "responses": {
                    "200": {"description": "The subscription as written", **_json("Subscription")},
                    **_errors(*body_errors, "NotFound"),
                },
            },
            "delete": {
                "operationId": "deleteSubscription",
                "summary": "Remove a subscription (a tombstone on the topic)",
                "responses": {"204": {"description": "Removed"}, **_errors("NotFound")},
            },
        },
    }


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "newswatch alerter API",
            "version": __version__,
            "description": "Manage alert subscriptions. Every route but /openapi.json needs "
            "Authorization: Bearer <NEWSWATCH_API_TOKEN>. Errors are {error: {code, message, field?}}.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": _schemas(),
            "responses": _responses(),
        },
    }


def document() -> dict[str, Any]:
    """The document (a fresh copy: callers may change it)."""
    return copy.deepcopy(_document())

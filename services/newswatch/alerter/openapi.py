"""The OpenAPI 3.1 document of the alerter's HTTP API (:mod:`~newswatch.alerter.api`), served at
``/openapi.json``.

Paths and responses here, component schemas in :mod:`~newswatch.alerter.openapi_schemas`; both are built
from the constants the API validates with, so the document cannot drift from the code on those. A test
checks that every route of the aiohttp app is documented and every documented operation exists, and
validates the document with ``openapi-spec-validator``.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from newswatch import __version__
from newswatch.alerter.eventstream import BUFFER_SIZE
from newswatch.alerter.openapi_console import console_paths, console_schemas
from newswatch.alerter.openapi_schemas import ERROR_CODES, schemas
from newswatch.alerter.openapi_schemas import ref as _ref
from newswatch.alerter.payloads import MAX_BODY_BYTES

__all__ = ["ERROR_CODES", "document"]


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
        "NotFound": _error("No subscription (or recent alert, or console file) with this id."),
        "TooLarge": _error(f"The body is larger than {MAX_BODY_BYTES} bytes."),
        "UnsupportedMediaType": _error("The body is not application/json."),
        "Unavailable": _error(
            "The API is off (no NEWSWATCH_API_TOKEN configured), the broker did not acknowledge a write, "
            "(streams) NEWSWATCH_SSE_MAX_CLIENTS streams are open already, or (console data) this "
            "alerter does not have the source.",
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
        "/v1/alerts/stream": {
            "get": {
                "operationId": "streamAlerts",
                "summary": "Every alert as it arrives (Server-Sent Events), filtered by the query",
                "parameters": [*_filter_parameters(), *_resume_parameters()],
                "responses": {**_event_stream(), **_errors("BadRequest")},
            }
        },
        "/v1/subscriptions/{id}/stream": {
            "parameters": [id_param],
            "get": {
                "operationId": "streamSubscription",
                "summary": "The alerts that pass this subscription's filters, live (Server-Sent Events)",
                "parameters": _resume_parameters(),
                "responses": {**_event_stream(), **_errors("BadRequest", "NotFound")},
            },
        },
        **console_paths(_errors, _filter_parameters()),
    }


def _filter_parameters() -> list[dict[str, Any]]:
    def values(name: str, what: str) -> dict[str, Any]:
        return {
            "name": name,
            "in": "query",
            "description": f"Only alerts with one of these {what} (repeatable or comma-separated).",
            "schema": {"type": "array", "items": {"type": "string"}},
            "style": "form",
            "explode": True,
        }

    return [
        values("watchlist", "watch lists (id or name)"),
        values("term", "terms (id or label)"),
        values("region", "region ids"),
        values("country", "ISO country codes"),
        values("language", "languages"),
        {"name": "min_score", "in": "query", "schema": {"type": "number", "minimum": 0}},
    ]


def _resume_parameters() -> list[dict[str, Any]]:
    event_id = {"type": "string", "maxLength": 200}
    return [
        {
            "name": "last",
            "in": "query",
            "description": "First replay the newest N buffered alerts that pass the filters.",
            "schema": {"type": "integer", "minimum": 0, "maximum": BUFFER_SIZE, "default": 0},
        },
        {
            "name": "Last-Event-ID",
            "in": "header",
            "description": "Resume after this event id (sent by EventSource when it reconnects).",
            "schema": event_id,
        },
        {
            "name": "last_event_id",
            "in": "query",
            "description": "Same as the Last-Event-ID header.",
            "schema": event_id,
        },
    ]


def _event_stream() -> dict[str, Any]:
    return {
        "200": {
            "description": "text/event-stream: per alert `id: <alert id>`, `event: alert`, `data: <alert "
            "JSON, schema newswatch.alert.v1>`; comment lines keep the connection alive. The stream ends "
            "when the alerter stops or cuts off a client that reads too slowly (reconnect with "
            "Last-Event-ID).",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    }


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "newswatch alerter API",
            "version": __version__,
            "description": "Manage alert subscriptions, read alerts live, see feed health; the ops "
            "console is served at /console/. Every route but /openapi.json and the console's files "
            "needs Authorization: Bearer <NEWSWATCH_API_TOKEN>. Errors are "
            "{error: {code, message, field?}}.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": {**schemas(), **console_schemas()},
            "responses": _responses(),
        },
    }


def document() -> dict[str, Any]:
    """The document (a fresh copy: callers may change it)."""
    return copy.deepcopy(_document())

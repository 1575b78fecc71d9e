"""The console's part of the OpenAPI document (:mod:`~newswatch.alerter.openapi`): its data routes
(:mod:`~newswatch.alerter.console.routes`), the page's files (:mod:`~newswatch.alerter.console.static`)
and the schemas of feeds and alerts (:func:`~newswatch.alerter.channels.base.alert_document`)."""

from __future__ import annotations

from typing import Any

from newswatch.alerter.console.documents import FEED_STATES, MAX_TEXT_CHARS
from newswatch.alerter.console.routes import DEFAULT_LIMIT, MAX_DUPLICATES, MAX_LIMIT
from newswatch.alerter.eventstream import BUFFER_SIZE
from newswatch.alerter.openapi_schemas import ref

__all__ = ["console_paths", "console_schemas"]

_WHEN = {"type": ["string", "null"], "format": "date-time"}
_FIELD = {"type": "string", "enum": ["title", "summary", "content", "unknown"]}


def _json(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref(schema)}}}


def console_paths(errors: Any, filter_parameters: list[dict[str, Any]]) -> dict[str, Any]:
    """``errors(*names)`` builds the error responses as the rest of the document does."""
    page = {
        "200": {"description": "The console page or one of its files", "content": {"text/html": {}}},
        "404": {"$ref": "#/components/responses/NotFound"},
    }
    return {
        "/v1/feeds": {
            "get": {
                "operationId": "listFeeds",
                "summary": "Every feed of newswatch.feeds.v1 with its health as the pollers last wrote it",
                "responses": {"200": _json("FeedList", "The feeds, by title"), **errors()},
            }
        },
        "/v1/alerts/recent": {
            "get": {
                "operationId": "listRecentAlerts",
                "summary": f"The newest alerts (of the last {BUFFER_SIZE} on the topic) that pass the "
                "filters, newest first",
                "parameters": [
                    *filter_parameters,
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_LIMIT,
                            "default": DEFAULT_LIMIT,
                        },
                    },
                ],
                "responses": {"200": _json("AlertList", "The alerts"), **errors("BadRequest")},
            }
        },
        "/v1/alerts/{id}": {
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 200}}
            ],
            "get": {
                "operationId": "getAlert",
                "summary": "One recent alert with its article text (from newswatch.articles.enriched.v1, "
                "null when not found in time) and its duplicates",
                "responses": {"200": _json("AlertDetail", "The alert"), **errors("NotFound")},
            },
        },
        "/": {
            "get": {
                "operationId": "consoleRoot",
                "summary": "Redirects to the console",
                "security": [],
                "responses": {"302": {"description": "To /console/"}},
            }
        },
        "/console/": {
            "get": {
                "operationId": "getConsole",
                "summary": "The ops console (no token needed: the page asks for it)",
                "security": [],
                "responses": page,
            }
        },
        "/console/{name}": {
            "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": {
                "operationId": "getConsoleFile",
                "summary": "A file of the console page (CSS, JavaScript module, icon)",
                "security": [],
                "responses": page,
            },
        },
    }


def console_schemas() -> dict[str, Any]:
    match = {
        "type": "object",
        "properties": {
            "term_id": {"type": "string"},
            "term_label": {"type": "string"},
            "kind": {"type": "string"},
            "matched_text": {"type": "string"},
            "field": _FIELD,
            "start": {"type": "integer", "description": "Code-point offset into field"},
            "end": {"type": "integer"},
            "snippet": {"type": "string"},
        },
    }
    place = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "matched_text": {"type": "string"},
            "geonames_id": {"type": "string"},
            "country_code": {"type": "string"},
            "field": _FIELD,
            "start": {"type": "integer"},
            "end": {"type": "integer"},
        },
    }
    strings = {"type": "array", "items": {"type": "string"}}
    return {
        "Feed": {
            "type": "object",
            "required": ["feed_id", "url", "title", "enabled", "health"],
            "properties": {
                "feed_id": {"type": "string"},
                "url": {"type": "string", "description": "Without credentials, query or fragment."},
                "title": {"type": "string"},
                "language": {"type": "string"},
                "enabled": {"type": "boolean"},
                "poll_interval_seconds": {"type": "integer"},
                "health": {
                    "type": "object",
                    "properties": {
                        "state": {"type": "string", "enum": list(FEED_STATES)},
                        "last_error": {"type": "string"},
                        "last_success_at": _WHEN,
                        "last_attempt_at": _WHEN,
                        "next_check_at": _WHEN,
                        "consecutive_failures": {"type": "integer"},
                    },
                },
            },
        },
        "FeedList": {
            "type": "object",
            "required": ["feeds"],
            "properties": {"feeds": {"type": "array", "items": ref("Feed")}},
        },
        "Alert": {
            "type": "object",
            "description": "The alert document (newswatch.alert.v1), as webhooks and streams carry it.",
            "required": ["schema", "alert_id", "article_id", "watchlist", "title", "url", "matches", "score"],
            "properties": {
                "schema": {"const": "newswatch.alert.v1"},
                "alert_id": {"type": "string"},
                "article_id": {"type": "string"},
                "feed_id": {"type": "string"},
                "watchlist": {
                    "type": "object",
                    "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
                },
                "title": {"type": "string"},
                "url": {"type": "string"},
                "language": {"type": "string"},
                "matches": {"type": "array", "items": match},
                "places": {"type": "array", "items": place},
                "countries": strings,
                "regions": strings,
                "score": {"type": "number"},
                "duplicate_cluster_id": {"type": "string"},
                "published_at": _WHEN,
                "created_at": _WHEN,
            },
        },
        "AlertList": {
            "type": "object",
            "required": ["alerts"],
            "properties": {"alerts": {"type": "array", "items": ref("Alert")}},
        },
        "AlertDetail": {
            "type": "object",
            "required": ["alert", "article", "duplicates"],
            "properties": {
                "alert": ref("Alert"),
                "article": {
                    "oneOf": [
                        {
                            "type": "object",
                            "properties": {
                                "title": {"type": "string"},
                                "summary": {"type": "string", "maxLength": MAX_TEXT_CHARS},
                                "content": {"type": "string", "maxLength": MAX_TEXT_CHARS},
                                "truncated": {"type": "boolean"},
                            },
                        },
                        {"type": "null"},
                    ],
                    "description": "The fields match offsets point into; null when not found in time.",
                },
                "duplicates": {
                    "type": "array",
                    "maxItems": MAX_DUPLICATES,
                    "description": "Recent alerts of other articles in the same duplicate cluster.",
                    "items": {
                        "type": "object",
                        "properties": {
                            "alert_id": {"type": "string"},
                            "article_id": {"type": "string"},
                            "feed_id": {"type": "string"},
                            "title": {"type": "string"},
                            "url": {"type": "string"},
                            "created_at": _WHEN,
                        },
                    },
                },
            },
        },
    }

"""The JSON shapes the console's data routes answer with (documented in the OpenAPI document).

- :func:`feed_document`: a feed from ``newswatch.feeds.v1`` with its health as the pollers last wrote it
  (``state`` one of :data:`FEED_STATES`; times RFC 3339 UTC or null). The URL is shown without
  credentials, query or fragment (:func:`~newswatch.poller.health.redact_url`): a feed URL may carry a
  token.
- :func:`article_document`: the article text of an alert (``title``, ``summary``, ``content``, the fields
  its match offsets point into — code points), ``content`` cut at :data:`MAX_TEXT_CHARS`.
- :func:`duplicate_document`: a short view of another alert of the same duplicate cluster.
"""

from __future__ import annotations

from typing import Any

from newswatch.alerter.channels.base import alert_document, rfc3339
from newswatch.poller.health import redact_url
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.enriched_pb2 import EnrichedArticle
from newswatch.v1.feed_pb2 import (
    FEED_STATE_DEGRADED,
    FEED_STATE_FAILING,
    FEED_STATE_OK,
    Feed,
)

__all__ = [
    "FEED_STATES",
    "MAX_TEXT_CHARS",
    "article_document",
    "detail_document",
    "duplicate_document",
    "feed_document",
]

FEED_STATES = ("ok", "degraded", "failing", "unknown")
_STATE_NAMES = {FEED_STATE_OK: "ok", FEED_STATE_DEGRADED: "degraded", FEED_STATE_FAILING: "failing"}
MAX_TEXT_CHARS = 200_000
"""Longer article fields are cut (code points); matches past the cut are not highlighted."""


def feed_document(feed: Feed) -> dict[str, Any]:
    health = feed.health
    return {
        "feed_id": feed.feed_id,
        "url": redact_url(feed.url),
        "title": feed.title,
        "language": feed.language,
        "enabled": feed.enabled,
        "poll_interval_seconds": feed.poll_interval_seconds,
        "health": {
            "state": _STATE_NAMES.get(health.state, "unknown"),
            "last_error": health.last_error,
            "last_success_at": rfc3339(health.last_success_at),
            "last_attempt_at": rfc3339(health.last_attempt_at),
            "next_check_at": rfc3339(health.next_check_at),
            "consecutive_failures": health.consecutive_failures,
        },
    }


def article_document(enriched: EnrichedArticle) -> dict[str, Any]:
    article = enriched.article
    return {
        "title": article.title[:MAX_TEXT_CHARS],
        "summary": article.summary[:MAX_TEXT_CHARS],
        "content": article.content[:MAX_TEXT_CHARS],
        "truncated": max(len(article.summary), len(article.content)) > MAX_TEXT_CHARS,
    }


def duplicate_document(alert: Alert) -> dict[str, Any]:
    return {
        "alert_id": alert.alert_id,
        "article_id": alert.article_id,
        "feed_id": alert.feed_id,
        "title": alert.title,
        "url": alert.url,
        "created_at": rfc3339(alert.created_at),
    }


def detail_document(alert: Alert, article: EnrichedArticle | None, duplicates: list[Alert]) -> dict[str, Any]:
    """``{"alert": alert_document, "article": article_document | null, "duplicates": [...]}``."""
    return {
        "alert": alert_document(alert),
        "article": article_document(article) if article is not None else None,
        "duplicates": [duplicate_document(d) for d in duplicates],
    }

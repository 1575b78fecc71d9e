"""The seam between fan-out and the ways an alert reaches a subscriber.

A :class:`Channel` delivers one alert to one subscription, once per call. It returns a
:class:`DeliveryResult` when the receiver accepted the alert and raises
:class:`~newswatch.errors.DeliveryError` otherwise, with ``retriable`` saying whether the same request
may succeed later (timeouts, 5xx, 429) or never will (4xx, refused URL, bad secret). A
:class:`RetryLaterError` also carries how long the receiver asked us to wait. Channels never retry on
their own: fan-out owns retries, backoff and the audit trail. Any other exception is a bug in the channel
and is treated as a retriable failure.

:func:`alert_document` is the one JSON shape of an alert that every channel shows to people and programs
(the webhook body, the console log line and the later live view). Its keys are stable:

- ``schema`` ``"newswatch.alert.v1"``; ``alert_id``, ``article_id``, ``feed_id``
- ``watchlist``: ``{"id", "name"}``; ``title``, ``url``, ``language``
- ``matches``: ``[{"term_id", "term_label", "kind", "matched_text", "field", "start", "end", "snippet"}]``
  (``start``/``end`` are code-point offsets into ``field`` — ``title``, ``summary`` or ``content``)
- ``places``: ``[{"name", "matched_text", "geonames_id", "country_code", "field", "start", "end"}]``
- ``countries`` (ISO 3166-1 alpha-2), ``regions`` (region ids), ``score`` (number),
  ``duplicate_cluster_id`` (string, may be empty)
- ``published_at``, ``created_at``: RFC 3339 UTC strings, or null when unknown
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from newswatch.contracts import to_datetime
from newswatch.errors import DeliveryError
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.enriched_pb2 import TextField
from newswatch.v1.subscription_pb2 import Subscription

__all__ = [
    "SCHEMA",
    "Channel",
    "DeliveryResult",
    "RetryLaterError",
    "ScriptedChannel",
    "alert_document",
    "digest_document",
    "rfc3339",
]

SCHEMA = "newswatch.alert.v1"
_FIELDS = {
    TextField.TEXT_FIELD_TITLE: "title",
    TextField.TEXT_FIELD_SUMMARY: "summary",
    TextField.TEXT_FIELD_CONTENT: "content",
}


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """A successful delivery: the receiver's HTTP status (0 for channels without one)."""

    http_status: int = 0


class RetryLaterError(DeliveryError):
    """A retriable failure where the receiver named a delay (HTTP 429/503 with Retry-After)."""

    def __init__(self, message: str, *, status: int | None, retry_after_seconds: float | None) -> None:
        super().__init__(message, retriable=True, status=status)
        self.retry_after_seconds = retry_after_seconds


class Channel(Protocol):
    """One way of delivering alerts. Instances are shared by concurrent deliveries."""

    name: str  # a closed metric label: "webhook", "slack", "email", "console", "stream"

    async def deliver(
        self, alert: Alert, subscription: Subscription, delivery_id: str, attempt: int
    ) -> DeliveryResult:
        """Deliver ``alert`` once. ``delivery_id`` is the same for every attempt of one
        (alert, subscription); ``attempt`` is 1-based. Raises DeliveryError(retriable=...)."""
        ...

    async def close(self) -> None:
        """Release connections. Idempotent; no delivery is attempted afterwards."""
        ...


def rfc3339(ts: Any) -> str | None:
    """A protobuf Timestamp as an RFC 3339 UTC string (``...Z``), or None when unset."""
    moment = to_datetime(ts)
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def alert_document(alert: Alert) -> dict[str, Any]:
    """The stable JSON document of ``alert`` (see the module docstring)."""
    return {
        "schema": SCHEMA,
        "alert_id": alert.alert_id,
        "article_id": alert.article_id,
        "feed_id": alert.feed_id,
        "watchlist": {"id": alert.watchlist_id, "name": alert.watchlist_name},
        "title": alert.title,
        "url": alert.url,
        "language": alert.language,
        "matches": [
            {
                "term_id": m.term_id,
                "term_label": m.term_label,
                "kind": m.kind,
                "matched_text": m.matched_text,
                "field": _FIELDS.get(m.field, "unknown"),
                "start": m.start,
                "end": m.end,
                "snippet": m.snippet,
            }
            for m in alert.matches
        ],
        "places": [
            {
                "name": p.name,
                "matched_text": p.matched_text,
                "geonames_id": p.geonames_id,
                "country_code": p.country_code,
                "field": _FIELDS.get(p.field, "unknown"),
                "start": p.start,
                "end": p.end,
            }
            for p in alert.places
        ],
        "countries": list(alert.countries),
        "regions": list(alert.regions),
        "score": alert.score,
        "duplicate_cluster_id": alert.duplicate_cluster_id,
        "published_at": rfc3339(alert.published_at),
        "created_at": rfc3339(alert.created_at),
    }


DIGEST_SCHEMA = "newswatch.digest.v1"


def digest_document(alerts: Sequence[Alert]) -> dict[str, Any]:
    """Several alerts delivered together (digest mode, quiet hours, rate limit): ``{"schema":
    "newswatch.digest.v1", "count": n, "alerts": [alert_document, ...]}``, oldest alert first."""
    return {"schema": DIGEST_SCHEMA, "count": len(alerts), "alerts": [alert_document(a) for a in alerts]}


class ScriptedChannel:
    """A fake channel for unit tests: each call takes the next scripted step.

    A step is a :class:`DeliveryResult` (success) or an exception to raise; when the script runs out,
    calls succeed. ``calls`` records ``(alert_id, subscription_id, delivery_id, attempt)``.
    """

    def __init__(self, name: str = "webhook", script: Sequence[DeliveryResult | Exception] = ()) -> None:
        self.name = name
        self.script = list(script)
        self.calls: list[tuple[str, str, str, int]] = []
        self.closed = False

    async def deliver(
        self, alert: Alert, subscription: Subscription, delivery_id: str, attempt: int
    ) -> DeliveryResult:
        self.calls.append((alert.alert_id, subscription.subscription_id, delivery_id, attempt))
        step = self.script.pop(0) if self.script else DeliveryResult(http_status=200)
        if isinstance(step, Exception):
            raise step
        return step

    async def close(self) -> None:
        self.closed = True

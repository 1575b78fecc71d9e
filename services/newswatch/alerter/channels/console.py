"""Console channel: alerts written to the log (logger ``newswatch.alerts``) and kept for a live view.

Each delivery logs one INFO line ``"alert"`` with the stable keys ``alert_id``, ``delivery_id``,
``subscription_id``, ``watchlist``, ``alert_title``, ``alert_url``, ``score``, ``countries``,
``regions``, ``terms``. The last ``capacity`` alert documents (:func:`alert_document`) are kept in a
bounded ring buffer; :meth:`ConsoleChannel.recent` returns them oldest first. Delivery never fails.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

from newswatch.alerter.channels.base import DeliveryResult, alert_document
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.subscription_pb2 import Subscription

__all__ = ["DEFAULT_CAPACITY", "ConsoleChannel"]

alerts_log = logging.getLogger("newswatch.alerts")

DEFAULT_CAPACITY = 1000


class ConsoleChannel:
    """Logs alerts and remembers the most recent ``capacity`` of them."""

    name = "console"

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._recent: deque[dict[str, Any]] = deque(maxlen=capacity)

    async def deliver(
        self, alert: Alert, subscription: Subscription, delivery_id: str, attempt: int
    ) -> DeliveryResult:
        doc = alert_document(alert)
        alerts_log.info(
            "alert %s: %s",
            alert.watchlist_name or alert.watchlist_id,
            alert.title,
            extra={
                "alert_id": alert.alert_id,
                "delivery_id": delivery_id,
                "subscription_id": subscription.subscription_id,
                "watchlist": alert.watchlist_name or alert.watchlist_id,
                "alert_title": alert.title,
                "alert_url": alert.url,
                "score": alert.score,
                "countries": list(alert.countries),
                "regions": list(alert.regions),
                "terms": sorted({m.term_label or m.term_id for m in alert.matches}),
            },
        )
        self._recent.append({**doc, "delivery_id": delivery_id})
        return DeliveryResult()

    def recent(self) -> list[dict[str, Any]]:
        """The latest alert documents, oldest first (each with its ``delivery_id``)."""
        return list(self._recent)

    async def close(self) -> None:
        return None

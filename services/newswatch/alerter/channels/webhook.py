"""Webhook channel: one signed HTTP POST per delivery (Standard Webhooks).

Request: ``POST <subscription url>`` with the JSON of :func:`~newswatch.alerter.channels.base.alert_document`
(or, for several alerts delivered together, :func:`~newswatch.alerter.channels.base.digest_document`),
``content-type: application/json`` and the headers ``webhook-id`` (the delivery id, identical for every
attempt of one alert to one subscription, so receivers can drop duplicates), ``webhook-timestamp`` and
``webhook-signature`` (see :mod:`newswatch.alerter.signing`).

Outcome, URL checks, redirect refusal, body cap and timeouts: :class:`~.httppost.GuardedPoster` — 2xx =
delivered; 3xx and 4xx final except 408 and 429, which are retriable along with 5xx, timeouts and
connection errors; ``Retry-After`` honoured. URLs can carry tokens: neither logs nor error messages
include the URL's path or query.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from newswatch.alerter import signing
from newswatch.alerter.channels.base import DeliveryResult, alert_document, digest_document
from newswatch.alerter.channels.httppost import MAX_RESPONSE_BYTES, GuardedPoster, classify_status
from newswatch.errors import DeliveryError
from newswatch.settings import Settings
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.subscription_pb2 import Subscription

__all__ = ["BODY_CACHE_SIZE", "MAX_RESPONSE_BYTES", "WebhookChannel", "classify_status", "encode_body"]

BODY_CACHE_SIZE = 1024


def encode_body(alert: Alert) -> bytes:
    """The exact bytes POSTed for ``alert`` (compact UTF-8 JSON)."""
    return _compact(alert_document(alert))


def _compact(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class WebhookChannel:
    """Delivers alerts as signed POSTs. Create and use it inside one event loop; ``close()`` when done."""

    name = "webhook"

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._poster = GuardedPoster.for_alerter(settings, "webhook", clock)
        self._bodies: OrderedDict[str, tuple[Alert, bytes]] = OrderedDict()

    async def deliver(
        self, alert: Alert, subscription: Subscription, delivery_id: str, attempt: int
    ) -> DeliveryResult:
        """POST ``alert`` to the subscription's URL once; see the module docstring for outcomes."""
        return await self._post(subscription, delivery_id, self._body(alert))

    def _body(self, alert: Alert) -> bytes:
        """:func:`encode_body`, kept for the last :data:`BODY_CACHE_SIZE` alerts: an alert fanned out to
        several subscriptions is encoded once (each delivery is still signed with its own secret)."""
        cached = self._bodies.get(alert.alert_id)
        if cached is not None and (cached[0] is alert or cached[0] == alert):
            return cached[1]
        body = encode_body(alert)
        self._bodies[alert.alert_id] = (alert, body)
        if len(self._bodies) > BODY_CACHE_SIZE:
            self._bodies.popitem(last=False)
        return body

    async def deliver_digest(
        self, alerts: Sequence[Alert], subscription: Subscription, delivery_id: str, attempt: int
    ) -> DeliveryResult:
        """POST several alerts as one signed ``newswatch.digest.v1`` body; outcomes as :meth:`deliver`."""
        return await self._post(subscription, delivery_id, _compact(digest_document(alerts)))

    async def _post(self, subscription: Subscription, delivery_id: str, body: bytes) -> DeliveryResult:
        target = subscription.webhook
        try:
            headers = signing.signed_headers(target.secret, delivery_id, int(self._clock()), body)
        except signing.InvalidSecretError as exc:
            raise DeliveryError(f"subscription secret unusable: {exc}", retriable=False) from None
        headers["content-type"] = "application/json"
        status = await self._poster.post(target.url, body, headers)
        return DeliveryResult(http_status=status)

    async def close(self) -> None:
        await self._poster.close()

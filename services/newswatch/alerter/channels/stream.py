"""Stream channel: subscriptions read on the alerter's Server-Sent Events stream.

The live stream (:mod:`newswatch.alerter.eventstream`) reads ``newswatch.alerts.v1`` itself and applies
the subscription's filters for each client of ``GET /v1/subscriptions/{id}/stream``; nothing is pushed,
retried or dead-lettered per subscription. Delivering to this channel is therefore a no-op that always
succeeds, so fan-out records the (alert, subscription) as settled.
"""

from __future__ import annotations

from newswatch.alerter.channels.base import DeliveryResult
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.subscription_pb2 import Subscription

__all__ = ["StreamChannel"]


class StreamChannel:
    """Always succeeds; the event stream serves the alert to the subscription's readers."""

    name = "stream"

    async def deliver(
        self, alert: Alert, subscription: Subscription, delivery_id: str, attempt: int
    ) -> DeliveryResult:
        return DeliveryResult()

    async def close(self) -> None:
        return None

"""The alerter: alerts from ``newswatch.alerts.v1`` fanned out to subscribers.

Modules: :mod:`~newswatch.alerter.service` (the Kafka service), :mod:`~newswatch.alerter.fanout`
(matching subscriptions → channel calls, retries, audit, DLQ), :mod:`~newswatch.alerter.subscriptions`
(the compacted subscriptions topic and the filter), :mod:`~newswatch.alerter.signing` (Standard
Webhooks), :mod:`~newswatch.alerter.channels` (webhook, console), :mod:`~newswatch.alerter.metrics`.
"""

from newswatch.alerter.service import AlerterService
from newswatch.alerter.subscriptions import (
    Subscription,
    add_subscription,
    list_subscriptions,
    matches,
    new_subscription,
    remove_subscription,
)

__all__ = [
    "AlerterService",
    "Subscription",
    "add_subscription",
    "list_subscriptions",
    "matches",
    "new_subscription",
    "remove_subscription",
]

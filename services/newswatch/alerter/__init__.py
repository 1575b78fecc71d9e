"""The alerter: alerts from ``newswatch.alerts.v1`` fanned out to subscribers.

Modules: :mod:`~newswatch.alerter.service` (the Kafka service), :mod:`~newswatch.alerter.targets` (which
subscriptions an alert goes to), :mod:`~newswatch.alerter.fanout` (channel calls, audit, DLQ),
:mod:`~newswatch.alerter.schedule` (the durable schedule of retries, deferred and replayed deliveries),
:mod:`~newswatch.alerter.policies` (rate limit, digest, quiet hours), :mod:`~newswatch.alerter.ledger`
(final outcomes already recorded), :mod:`~newswatch.alerter.endpoints` (endpoint health, disabling),
:mod:`~newswatch.alerter.replay` (``newswatch deliveries replay``), :mod:`~newswatch.alerter.subscriptions`
(the compacted subscriptions topic, validation and the filter), :mod:`~newswatch.alerter.signing`
(Standard Webhooks), :mod:`~newswatch.alerter.channels` (webhook, Slack, email, console, stream), the HTTP
API (:mod:`~newswatch.alerter.api` routes, :mod:`~newswatch.alerter.apihttp` auth and error shape,
:mod:`~newswatch.alerter.payloads` JSON bodies, :mod:`~newswatch.alerter.store` reads and writes,
:mod:`~newswatch.alerter.openapi` its document), :mod:`~newswatch.alerter.metrics`.
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

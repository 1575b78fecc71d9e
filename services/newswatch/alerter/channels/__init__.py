"""How alerts reach subscribers: the :class:`Channel` seam and its implementations (one module each)."""

from newswatch.alerter.channels.base import (
    Channel,
    DeliveryResult,
    RetryLaterError,
    ScriptedChannel,
    alert_document,
)
from newswatch.alerter.channels.console import ConsoleChannel
from newswatch.alerter.channels.webhook import WebhookChannel

__all__ = [
    "Channel",
    "ConsoleChannel",
    "DeliveryResult",
    "RetryLaterError",
    "ScriptedChannel",
    "WebhookChannel",
    "alert_document",
]

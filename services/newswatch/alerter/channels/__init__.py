"""How alerts reach subscribers: the :class:`Channel` seam and its implementations (one module each).

:func:`build_channels` makes one of each, keyed by the subscription's channel name (``webhook``,
``slack``, ``email``, ``console``, ``stream``), for fan-out.
"""

from __future__ import annotations

from newswatch.alerter.channels.base import (
    Channel,
    DeliveryResult,
    RetryLaterError,
    ScriptedChannel,
    alert_document,
)
from newswatch.alerter.channels.console import ConsoleChannel
from newswatch.alerter.channels.email import EmailChannel
from newswatch.alerter.channels.slack import SlackChannel
from newswatch.alerter.channels.stream import StreamChannel
from newswatch.alerter.channels.webhook import WebhookChannel
from newswatch.settings import Settings

__all__ = [
    "Channel",
    "ConsoleChannel",
    "DeliveryResult",
    "EmailChannel",
    "RetryLaterError",
    "ScriptedChannel",
    "SlackChannel",
    "StreamChannel",
    "WebhookChannel",
    "alert_document",
    "build_channels",
]


def build_channels(settings: Settings) -> dict[str, Channel]:
    """One channel of every kind, by name. Create inside the event loop that will use them; close each."""
    channels: list[Channel] = [
        WebhookChannel(settings),
        SlackChannel(settings),
        EmailChannel(settings),
        ConsoleChannel(),
        StreamChannel(),
    ]
    return {c.name: c for c in channels}

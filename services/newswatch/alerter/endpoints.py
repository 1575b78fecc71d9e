"""Endpoint health: a subscription whose endpoint fails for too long is disabled and its owner told.

State per subscription, kept durably on the compacted topic ``newswatch.alerter.endpoints.v1``
(key = subscription id, value :class:`EndpointHealth`) and written on state changes only:

- ``healthy``: the last attempt succeeded (or none failed yet; no record is needed for that);
- ``failing``: every attempt since ``failing_since`` failed (retriable or not);
- ``disabled``: still failing ``endpoint_disable_after_seconds`` after ``failing_since``. The tracker
  then calls ``disable(subscription, reason)`` once: the alerter writes the subscription back with
  ``enabled = false`` and ``disabled_reason``, logs a WARNING, counts
  ``newswatch_alerter_endpoints_disabled_total`` and tells the owner (email when possible).

A success makes the endpoint healthy again. A subscription enabled again by a person after being
disabled starts a fresh failure window at its next failure. The alerter reads the topic at start-up and
follows it (a :class:`~newswatch.kafka.CompactedView` fed into :meth:`EndpointTracker.apply`), so every
alerter process sees the same failure windows. :func:`count_states` gives the gauge by state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from newswatch.alerter.channels.base import Channel
from newswatch.alerter.store import Publish
from newswatch.contracts import timestamp, to_datetime
from newswatch.errors import DeliveryError
from newswatch.settings import Settings
from newswatch.topics import ENDPOINTS
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.delivery_pb2 import EndpointHealth, EndpointState
from newswatch.v1.subscription_pb2 import EmailChannel, Subscription

__all__ = ["Disable", "EndpointTracker", "count_states", "notify_owner", "owner_notice"]

log = logging.getLogger(__name__)

Disable = Callable[[Subscription, str], Awaitable[None]]
_ERROR_CHARS = 300


class EndpointTracker:
    """Failure windows per subscription (module docstring). One event loop; not thread-safe."""

    def __init__(
        self,
        publish: Publish,
        disable: Disable,
        *,
        disable_after_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._publish = publish
        self._disable = disable
        self._after = disable_after_seconds
        self._clock = clock
        self.states: dict[str, EndpointHealth] = {}

    def apply(self, subscription_id: str, health: EndpointHealth | None) -> None:
        """A record of the endpoints topic (None = tombstone)."""
        if health is None:
            self.states.pop(subscription_id, None)
        else:
            self.states[subscription_id] = health

    def state(self, subscription_id: str) -> EndpointState.ValueType:
        known = self.states.get(subscription_id)
        return known.state if known is not None else EndpointState.ENDPOINT_STATE_HEALTHY

    async def success(self, sub: Subscription) -> Awaitable[Any] | None:
        """Record a delivered attempt; returns the acknowledgement of a state change, if one was written."""
        if self.state(sub.subscription_id) == EndpointState.ENDPOINT_STATE_HEALTHY:
            return None
        log.info("endpoint healthy again", extra={"subscription_id": sub.subscription_id})
        return await self._write(sub.subscription_id, EndpointState.ENDPOINT_STATE_HEALTHY, None, "")

    async def failure(self, sub: Subscription, error: str) -> Awaitable[Any] | None:
        """Record a failed attempt; disables the subscription when it failed for too long."""
        known = self.states.get(sub.subscription_id)
        now = self._clock()
        if known is None or known.state != EndpointState.ENDPOINT_STATE_FAILING:
            if known is not None and known.state == EndpointState.ENDPOINT_STATE_DISABLED and not sub.enabled:
                return None  # already disabled; the owner was told
            return await self._write(sub.subscription_id, EndpointState.ENDPOINT_STATE_FAILING, now, error)
        since = to_datetime(known.failing_since)
        started = since.timestamp() if since is not None else now
        if now - started < self._after:
            return None
        reason = (
            f"endpoint failed every delivery for {int(now - started)} s "
            f"(since {since.isoformat() if since else 'unknown'}); last error: {error[:_ERROR_CHARS]}"
        )
        log.warning(
            "endpoint failing too long; subscription disabled",
            extra={
                "subscription_id": sub.subscription_id,
                "failing_seconds": round(now - started, 1),
                "error": error[:_ERROR_CHARS],
            },
        )
        ack = await self._write(sub.subscription_id, EndpointState.ENDPOINT_STATE_DISABLED, started, error)
        await self._disable(sub, reason)
        return ack

    async def _write(
        self, subscription_id: str, state: EndpointState.ValueType, since: float | None, error: str
    ) -> Awaitable[Any]:
        health = EndpointHealth(
            subscription_id=subscription_id,
            state=state,
            last_error=error[:_ERROR_CHARS],
            updated_at=timestamp(),
        )
        if since is not None:
            health.failing_since.FromNanoseconds(int(since * 1e9))
        self.states[subscription_id] = health
        return await self._publish(ENDPOINTS, subscription_id, health, ())


def count_states(subs: Iterable[Subscription], tracker: EndpointTracker) -> dict[str, int]:
    """Subscriptions by endpoint state: disabled (not enabled), failing, healthy."""
    counts = {"healthy": 0, "failing": 0, "disabled": 0}
    for sub in subs:
        if not sub.enabled:
            counts["disabled"] += 1
        elif tracker.state(sub.subscription_id) == EndpointState.ENDPOINT_STATE_FAILING:
            counts["failing"] += 1
        else:
            counts["healthy"] += 1
    return counts


def owner_notice(sub: Subscription, reason: str) -> tuple[Alert, Subscription]:
    """The notice to the owner of a disabled subscription, shaped for the email channel: an alert-like
    message (title = what happened) and a one-off email subscription to ``owner_email``."""
    notice = Alert(
        alert_id=f"subscription-disabled:{sub.subscription_id}",
        watchlist_name="newswatch",
        title=f"Subscription {sub.name or sub.subscription_id!r} was disabled: {reason}",
        created_at=timestamp(),
    )
    to_owner = Subscription(
        subscription_id=sub.subscription_id,
        name=sub.name,
        enabled=True,
        email=EmailChannel(to=[sub.owner_email], subject_prefix="[newswatch] subscription disabled"),
    )
    return notice, to_owner


async def notify_owner(
    channels: Mapping[str, Channel], settings: Settings, sub: Subscription, reason: str
) -> bool:
    """Email the owner of ``sub`` (True when sent). Needs ``owner_email``, ``smtp_host`` and an email
    channel; otherwise, or when sending fails, the WARNING log line of the disabling is the notice."""
    email = channels.get("email")
    if not sub.owner_email or not settings.smtp_host or email is None:
        return False
    notice, to_owner = owner_notice(sub, reason)
    try:
        await email.deliver(notice, to_owner, f"notice_{int(time.time())}", 1)
    except DeliveryError as exc:
        log.warning(
            "owner of a disabled subscription could not be emailed",
            extra={"subscription_id": sub.subscription_id, "error": str(exc)[:_ERROR_CHARS]},
        )
        return False
    log.info("owner told of the disabled subscription", extra={"subscription_id": sub.subscription_id})
    return True

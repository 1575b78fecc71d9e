"""WebSub subscription records and every decision on them: synchronous, no I/O, clock injected.

Per feed at most one :class:`Subscription` (so the table is bounded by the feeds the poller owns):

- ``idle`` → ``pending`` when a subscribe request is sent (:meth:`Subscriptions.requested`);
- ``pending``/``active``/``idle`` → ``active`` when the hub verifies the intent for the record's topic
  (:meth:`Subscriptions.verify`), the lease running from then for the ``hub.lease_seconds`` granted;
- → ``idle`` when the request fails (:meth:`Subscriptions.request_failed`: retried after a back-off of
  5 min doubling to a day; a day for a refused URL or a 4xx), the hub denies it
  (:meth:`Subscriptions.denied`: a day), or the lease ran out (:meth:`Subscriptions.expire`).

A subscribe request is due (:meth:`Subscriptions.due`) once ``retry_at`` has come: at once for a new
record, at :func:`renewal_margin` before the lease ends, after a back-off, or
:data:`VERIFY_TIMEOUT_SECONDS` after a request the hub accepted but never verified (counted as a failure
for the back-off).

Secrets and tokens: ``hub.secret`` = hex HMAC-SHA256(key, feed_id); ``hub.callback`` =
``<base>/<feed_id>?token=<t>``, ``t`` an HMAC of (feed_id, topic). Any process holding the key — another
poller behind the same callback URL, or this one after a restart — thus checks push signatures and
confirms intents that a holder of the key asked for, without the record. With a record, the record
decides (only its topic is confirmed). Unsubscriptions are confirmed when this process asked
(:meth:`Subscriptions.leave`) or, with a valid token, when the feed has left the catalogue (or is
disabled).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from newswatch import netguard
from newswatch.errors import UnsafeURLError
from newswatch.poller.metrics import WEBSUB_STATES, PollerMetrics
from newswatch.poller.scheduler import Clock
from newswatch.v1.feed_pb2 import Feed

__all__ = [
    "DENIED_RETRY_SECONDS",
    "VERIFY_TIMEOUT_SECONDS",
    "Subscription",
    "Subscriptions",
    "backoff_seconds",
    "renewal_margin",
]

VERIFY_TIMEOUT_SECONDS = 600.0
RETRY_INITIAL_SECONDS = 300.0
RETRY_MAX_SECONDS = 86400.0
DENIED_RETRY_SECONDS = 86400.0
MAX_LEASE_SECONDS = 366 * 86400
MIN_RENEWAL_SECONDS = 60.0  # between a verification and the renewal it schedules
LEAVING_MAX = 10_000  # unsubscriptions awaiting the hub's verification


def renewal_margin(lease_seconds: float) -> float:
    """How long before a lease ends it is renewed: a tenth of it, at least an hour, at most half of it."""
    return min(lease_seconds / 2, max(lease_seconds / 10, 3600.0))


def backoff_seconds(failures: int) -> float:
    """Wait before the next request after ``failures`` failures in a row (0 after none)."""
    return 0.0 if failures <= 0 else min(RETRY_MAX_SECONDS, RETRY_INITIAL_SECONDS * 2 ** (failures - 1))


@dataclass(slots=True)
class Subscription:
    hub: str
    topic: str
    state: str = "idle"  # idle | pending | active (see the module docstring)
    retry_at: float = 0.0  # no subscribe request before this (clock seconds)
    expires_at: float = 0.0  # end of the verified lease
    failures: int = 0
    in_flight: bool = False


class Subscriptions:
    """The subscription records of one poller (one per feed) and the decisions on them."""

    def __init__(
        self,
        metrics: PollerMetrics,
        feed_for: Callable[[str], Feed | None],
        *,
        key: bytes,
        callback_base: str,
        lease_seconds: int,
        clock: Clock,
    ) -> None:
        self._metrics = metrics
        self._feed_for = feed_for
        self._key = key
        self._base = callback_base.rstrip("/")
        self._lease_seconds = lease_seconds
        self._clock = clock
        self._subs: dict[str, Subscription] = {}
        self._leaving: dict[str, tuple[str, float]] = {}  # feed_id -> (topic, asked until)

    def get(self, feed_id: str) -> Subscription | None:
        return self._subs.get(feed_id)

    def items(self) -> list[tuple[str, Subscription]]:
        return list(self._subs.items())

    def put(self, feed_id: str, hub: str, topic: str) -> Subscription:
        """A new idle record for ``feed_id`` (replacing any), due at once."""
        sub = self._subs[feed_id] = Subscription(hub, topic, retry_at=self._clock())
        self._refresh_gauge()
        return sub

    def pop(self, feed_id: str) -> Subscription | None:
        sub = self._subs.pop(feed_id, None)
        if sub is not None:
            self._refresh_gauge()
        return sub

    def active(self, feed_id: str) -> bool:
        sub = self._subs.get(feed_id)
        return sub is not None and sub.state == "active" and self._clock() < sub.expires_at

    def due(self, sub: Subscription) -> bool:
        return not sub.in_flight and self._clock() >= sub.retry_at

    def secret_for(self, feed_id: str) -> str:
        return hmac.new(self._key, feed_id.encode(), hashlib.sha256).hexdigest()

    def callback_for(self, feed_id: str, topic: str) -> str:
        return f"{self._base}/{quote(feed_id, safe='')}?token={self._token(feed_id, topic)}"

    def _token(self, feed_id: str, topic: str) -> str:
        return hmac.new(self._key, f"callback\0{feed_id}\0{topic}".encode(), hashlib.sha256).hexdigest()[:32]

    def _token_ok(self, feed_id: str, topic: str, token: str) -> bool:
        return hmac.compare_digest(self._token(feed_id, topic).encode(), token.encode("utf-8", "replace"))

    @staticmethod
    def topic_for(feed: Feed, self_url: str | None) -> str:
        """``hub.topic``: the feed's self link when it is a well-formed http(s) URL, else the feed URL."""
        if self_url:
            try:
                netguard.check_url(self_url, allow_private=True)  # an identifier: never contacted
            except UnsafeURLError:
                return feed.url
            return self_url.strip()
        return feed.url

    def requested(self, sub: Subscription) -> None:
        """A subscribe request for ``sub`` is about to be sent."""
        if sub.state == "pending":
            sub.failures += 1  # the previous request was never verified
        sub.in_flight = True
        sub.retry_at = self._clock() + max(VERIFY_TIMEOUT_SECONDS, backoff_seconds(sub.failures))
        if sub.state == "idle":
            sub.state = "pending"
            self._refresh_gauge()

    def request_failed(self, sub: Subscription, *, retriable: bool) -> float:
        """The hub did not accept the request: back off. Returns the wait in seconds."""
        sub.failures += 1
        wait = backoff_seconds(sub.failures) if retriable else RETRY_MAX_SECONDS
        sub.retry_at = self._clock() + wait
        if sub.state == "pending":
            sub.state = "idle"
            self._refresh_gauge()
        return wait

    def expire(self) -> None:
        """Active records whose lease has ended become idle."""
        now = self._clock()
        ended = [s for s in self._subs.values() if s.state == "active" and now >= s.expires_at]
        for sub in ended:
            sub.state = "idle"
        if ended:
            self._refresh_gauge()

    def leave(self, feed_id: str, topic: str) -> None:
        """Remember that we asked to unsubscribe ``feed_id`` from ``topic`` (for VERIFY_TIMEOUT_SECONDS)."""
        now = self._clock()
        self._leaving = {k: v for k, v in self._leaving.items() if v[1] > now}
        while len(self._leaving) >= LEAVING_MAX:
            del self._leaving[next(iter(self._leaving))]
        self._leaving[feed_id] = (topic, now + VERIFY_TIMEOUT_SECONDS)

    def stay(self, feed_id: str) -> None:
        """The unsubscribe request was not sent after all."""
        self._leaving.pop(feed_id, None)

    def verify(self, feed_id: str, mode: str, topic: str, lease_seconds: int | None, token: str) -> bool:
        """Confirm a hub's intent verification? A confirmed subscribe on a record starts its lease."""
        sub = self._subs.get(feed_id)
        if mode == "subscribe":
            if sub is None:
                feed = self._feed_for(feed_id)
                return feed is not None and feed.enabled and self._token_ok(feed_id, topic, token)
            if sub.topic != topic:
                return False
            granted = float(min(max(lease_seconds or self._lease_seconds, 1), MAX_LEASE_SECONDS))
            sub.state, sub.failures = "active", 0
            now = self._clock()
            sub.expires_at = now + granted
            # A hub granting tiny leases gets at most one renewal a minute from us.
            sub.retry_at = max(sub.expires_at - renewal_margin(granted), now + MIN_RENEWAL_SECONDS)
            self._refresh_gauge()
            return True
        leaving = self._leaving.get(feed_id)
        if leaving is not None and leaving[0] == topic and leaving[1] > self._clock():
            del self._leaving[feed_id]
            return True
        if sub is not None and sub.topic == topic:
            return False  # still wanted
        feed = self._feed_for(feed_id)
        return (feed is None or not feed.enabled) and self._token_ok(feed_id, topic, token)

    def denied(self, feed_id: str, topic: str) -> bool:
        """The hub refused the subscription of ``topic``: no new request for DENIED_RETRY_SECONDS.
        False (and nothing changes) when ``feed_id`` has no record for ``topic``."""
        sub = self._subs.get(feed_id)
        if sub is None or sub.topic != topic:
            return False
        sub.state, sub.expires_at = "idle", 0.0
        sub.retry_at = self._clock() + DENIED_RETRY_SECONDS
        self._refresh_gauge()
        return True

    def _refresh_gauge(self) -> None:
        counts = dict.fromkeys(WEBSUB_STATES, 0)
        for sub in self._subs.values():
            if sub.state in counts:
                counts[sub.state] += 1
        for state, count in counts.items():
            self._metrics.websub_subscriptions.labels(state=state).set(count)

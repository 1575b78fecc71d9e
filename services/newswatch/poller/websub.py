"""WebSub subscriber (W3C WebSub, subscriber side): feeds that advertise a hub are pushed; polling stays.

Discovery is the parser's (``ParsedFeed.hub_url`` / ``self_url``). After every successful parse the
poller calls :meth:`WebSub.advertised`, which subscribes when the feed advertises a hub and there is no
record, unsubscribes the old and subscribes the new when the hub or topic changed, and renews when due;
the records, their states and every decision live in :mod:`newswatch.poller.websub_state`. A background
task (:meth:`WebSub.renew_due` every :data:`RENEW_TICK_SECONDS`) renews and retries on its own, so renewal
does not depend on the slowed polling of pushed feeds. :meth:`WebSub.stop` unsubscribes nothing: leases
run out, and the next process subscribes again at its first poll of each feed.

The poller keeps polling pushed feeds (:meth:`WebSub.active`: at the maximum interval), so a silent hub
loses nothing. Pushed bodies arrive at the callback endpoint (:mod:`newswatch.poller.websub_server`) and
go to ``deliver``; hub requests go through :mod:`newswatch.poller.websub_hub` (SSRF guard, timeouts).

``hub.callback`` = ``<websub_callback_url>/<feed_id>?token=…``. The endpoint serves ``/websub/<feed_id>``
and also ``<path of websub_callback_url>/<feed_id>``, so a callback URL such as
``https://poller.example.org/websub`` (or a proxy mapping its own path to ``/websub``) reaches it; the
callback URL must carry no query string of its own.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable

from yarl import URL

from newswatch.poller.health import redact_url
from newswatch.poller.metrics import PollerMetrics
from newswatch.poller.scheduler import Clock
from newswatch.poller.websub_hub import HubClient, HubRequestError
from newswatch.poller.websub_server import CallbackServer, Deliver
from newswatch.poller.websub_state import Subscription, Subscriptions
from newswatch.settings import Settings
from newswatch.v1.feed_pb2 import Feed

__all__ = ["RENEW_TICK_SECONDS", "WebSub"]

log = logging.getLogger(__name__)

RENEW_TICK_SECONDS = 60.0


class WebSub:
    """The subscriber. ``enabled`` when ``websub_callback_url`` is set; otherwise every method is a no-op.

    Contracts: :meth:`advertised` and :meth:`forget` never raise (cancellation aside) and await at most two
    hub requests, each bounded by ``fetch_timeout_seconds``, and only when one is due. :meth:`active` is
    cheap. ``hub.secret`` derives from ``websub_secret`` (a random key per process when empty): never
    logged. :meth:`verify`, :meth:`denied` and :meth:`secret_for` answer the callback endpoint.
    """

    def __init__(
        self,
        settings: Settings,
        metrics: PollerMetrics,
        deliver: Deliver,
        feed_for: Callable[[str], Feed | None],
        *,
        clock: Clock = time.monotonic,
        hub_client: HubClient | None = None,
    ) -> None:
        base = settings.websub_callback_url.strip().rstrip("/")
        self._enabled = bool(base)
        self._metrics = metrics
        self._subs = Subscriptions(
            metrics,
            feed_for,
            key=(settings.websub_secret or secrets.token_hex(32)).encode(),
            callback_base=base,
            lease_seconds=settings.websub_lease_seconds,
            clock=clock,
        )
        self._lease_seconds = settings.websub_lease_seconds
        self._hub = hub_client or HubClient(settings)
        own_path = URL(base).path.rstrip("/") if base else ""
        paths = ("/websub", own_path) if own_path else ("/websub",)
        self._server = CallbackServer(settings, metrics, self, deliver, feed_for, paths)
        self._renewer: asyncio.Task[None] | None = None
        self._stopped = False

    @property
    def enabled(self) -> bool:
        return self._enabled

    @property
    def port(self) -> int:
        """The callback endpoint's bound port (``websub_port`` before :meth:`start`)."""
        return self._server.port

    async def start(self) -> None:
        """Bind the callback endpoint at ``websub_host:websub_port`` and start renewals (when enabled).

        Start it once the catalogue view is loaded: pushes for feeds it does not know are answered 410.
        """
        if not self._enabled or self._stopped:
            return
        await self._server.start()
        self._renewer = asyncio.create_task(self._renew_forever(), name="websub-renewals")
        log.info("websub callback endpoint listening", extra={"port": self.port})

    async def stop(self) -> None:
        """Stop renewals, then the endpoint (queued pushes get a short drain, so stop this before the
        publisher), then the hub client. Idempotent; unsubscribes nothing."""
        self._stopped = True
        renewer, self._renewer = self._renewer, None
        if renewer is not None:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)
        await self._server.stop()
        await self._hub.close()

    def active(self, feed_id: str) -> bool:
        """True while ``feed_id`` has a verified, unexpired subscription (poll it only as a fallback)."""
        return self._subs.active(feed_id)

    async def advertised(self, feed: Feed, hub_url: str | None, self_url: str | None) -> None:
        """After a successful parse of ``feed``: subscribe, re-subscribe or renew as due. Never raises."""
        if not self._enabled or self._stopped:
            return
        feed_id = feed.feed_id
        sub = self._subs.get(feed_id)
        hub = (hub_url or "").strip()
        if not hub:
            if sub is not None:  # no longer advertised: stop renewing, the lease runs out
                self._subs.pop(feed_id)
                log.info("feed no longer advertises a websub hub", extra={"feed_id": feed_id})
            return
        topic = self._subs.topic_for(feed, self_url)
        if sub is not None and (sub.hub, sub.topic) != (hub, topic):
            self._subs.pop(feed_id)
            if sub.state != "idle":
                await self._unsubscribe(feed_id, sub)
            sub = None
        if sub is None:
            sub = self._subs.put(feed_id, hub, topic)
        if self._subs.due(sub):
            await self._subscribe(feed_id, sub)

    async def forget(self, feed_id: str, *, removed: bool) -> None:
        """``feed_id`` is no longer this poller's; when ``removed`` (gone from the catalogue) also
        unsubscribe from its hub (the hub verifies that too). Never raises."""
        sub = self._subs.pop(feed_id)
        if sub is not None and removed and sub.state != "idle" and not self._stopped:
            await self._unsubscribe(feed_id, sub)

    async def renew_due(self) -> int:
        """Expire ended leases, then send the subscribe requests that are due. Returns how many."""
        self._subs.expire()
        sent = 0
        for feed_id, sub in self._subs.items():
            if self._subs.get(feed_id) is sub and self._subs.due(sub) and not self._stopped:
                await self._subscribe(feed_id, sub)
                sent += 1
        return sent

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(RENEW_TICK_SECONDS)
            await self.renew_due()

    async def _subscribe(self, feed_id: str, sub: Subscription) -> None:
        self._subs.requested(sub)
        form = {
            "hub.mode": "subscribe",
            "hub.topic": sub.topic,
            "hub.callback": self._subs.callback_for(feed_id, sub.topic),
            "hub.secret": self._subs.secret_for(feed_id),
            "hub.lease_seconds": str(self._lease_seconds),
        }
        fields = {"feed_id": feed_id, "hub": redact_url(sub.hub)}
        try:
            await self._hub.send(sub.hub, form)
        except HubRequestError as exc:
            wait = self._subs.request_failed(sub, retriable=exc.retriable)
            self._metrics.websub_requests.labels(mode="subscribe", outcome="failed").inc()
            log.warning(
                "websub subscription request failed",
                extra={**fields, "error": str(exc), "retriable": exc.retriable, "retry_in_seconds": wait},
            )
        else:
            self._metrics.websub_requests.labels(mode="subscribe", outcome="accepted").inc()
            log.info("websub subscription requested", extra=fields)
        finally:
            sub.in_flight = False

    async def _unsubscribe(self, feed_id: str, sub: Subscription) -> None:
        self._subs.leave(feed_id, sub.topic)
        form = {
            "hub.mode": "unsubscribe",
            "hub.topic": sub.topic,
            "hub.callback": self._subs.callback_for(feed_id, sub.topic),
        }
        fields = {"feed_id": feed_id, "hub": redact_url(sub.hub)}
        try:
            await self._hub.send(sub.hub, form)
        except HubRequestError as exc:
            self._subs.stay(feed_id)
            self._metrics.websub_requests.labels(mode="unsubscribe", outcome="failed").inc()
            fields["error"] = str(exc)
            log.warning("websub unsubscription failed; the lease runs out", extra=fields)
        else:
            self._metrics.websub_requests.labels(mode="unsubscribe", outcome="accepted").inc()
            log.info("websub unsubscription requested", extra=fields)

    def verify(self, feed_id: str, mode: str, topic: str, lease_seconds: int | None, token: str) -> bool:
        """Confirm a hub's intent verification? (see :meth:`.websub_state.Subscriptions.verify`)"""
        confirmed = self._subs.verify(feed_id, mode, topic, lease_seconds, token)
        if confirmed:
            fields = {"feed_id": feed_id, "mode": mode, "lease_seconds": lease_seconds}
            log.info("websub intent confirmed", extra=fields)
        return confirmed

    def denied(self, feed_id: str, topic: str, reason: str) -> None:
        if self._subs.denied(feed_id, topic):
            log.warning("websub subscription denied by the hub", extra={"feed_id": feed_id, "reason": reason})

    def secret_for(self, feed_id: str) -> str:
        return self._subs.secret_for(feed_id)

"""WebSub through the running poller on the real broker: discovery, subscription, signed pushes published
like polled entries, forged pushes dropped, unsubscribe when the feed is removed."""

from __future__ import annotations

import hashlib
import hmac
import uuid

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from newswatch import kafka
from newswatch.feeds import add_feeds, make_feed, remove_feed
from newswatch.poller.scheduler import Policy
from newswatch.poller.service import PollerService
from newswatch.settings import Settings
from tests.helpers import free_port, wait_until

from .conftest import ServeFn
from .test_service_integration import RawTail
from .test_websub import Hub

pytestmark = pytest.mark.integration


def rss(run: str, hub: str, self_url: str, items: range) -> bytes:
    entries = "".join(
        f'<item><guid isPermaLink="false">{run}-{i}</guid><title>Story {i}</title>'
        f"<description>Palmyra report {i}.</description></item>"
        for i in items
    )
    return (
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>pushed</title>'
        f'<atom:link rel="hub" href="{hub}"/><atom:link rel="self" href="{self_url}"/>{entries}'
        "</channel></rss>"
    ).encode()


async def test_a_feed_advertising_a_hub_is_subscribed_and_its_pushes_published(
    settings: Settings, serve: ServeFn
) -> None:
    run = uuid.uuid4().hex[:12]
    tag = f"websub-{run}"
    hub = Hub(auto_verify=True)
    await hub.start(serve)
    polls: list[str] = []
    feed_app = web.Application()
    self_url = ""

    async def feed(request: web.Request) -> web.Response:
        polls.append(request.path)
        return web.Response(body=rss(run, hub.url, self_url, range(1)), content_type="application/rss+xml")

    feed_app.router.add_get("/feed", feed)
    base = await serve(feed_app)
    self_url = f"{base}/feed"
    port = free_port()
    settings = settings.replace(
        poller_metrics_port=0,
        fetch_timeout_seconds=5.0,
        websub_callback_url=f"http://127.0.0.1:{port}/websub",
        websub_port=port,
        websub_secret=uuid.uuid4().hex,
    )
    pushed_feed = make_feed(self_url, tags=[tag])
    await kafka.ensure_topics(settings)
    tail = RawTail(settings, prefix=run)
    registry = CollectorRegistry()

    def value(name: str, **labels: str) -> float:
        return registry.get_sample_value(f"newswatch_poller_{name}", labels) or 0.0

    service = PollerService(
        settings,
        registry,
        policy=Policy(
            default_interval_seconds=1.0, first_check_max_delay_seconds=0.2, max_interval_seconds=3600
        ),
        feed_filter=lambda f: tag in f.tags,
    )
    try:
        await tail.start()
        await add_feeds(settings, [pushed_feed])
        await service.start()
        await wait_until(
            lambda: value("websub_subscriptions", state="active") == 1, 30, "a verified subscription"
        )
        form = hub.requests[0]
        assert form["hub.mode"] == "subscribe" and form["hub.topic"] == self_url
        assert form["hub.callback"].startswith(f"http://127.0.0.1:{port}/websub/{pushed_feed.feed_id}")
        await wait_until(lambda: f"{run}-0" in tail.received, 30, "the polled entry")

        body = rss(run, hub.url, self_url, range(3))
        forged = rss(run, hub.url, self_url, range(5))
        signature = "sha256=" + hmac.new(form["hub.secret"].encode(), body, hashlib.sha256).hexdigest()
        assert await hub.push(form["hub.callback"], forged, "sha256=" + "0" * 64) in (200, 202, 204)
        assert await hub.push(form["hub.callback"], body, signature) in (200, 202, 204)
        await wait_until(
            lambda: value("websub_pushes_total", outcome="accepted") == 1, 30, "the push handled"
        )
        await wait_until(lambda: {f"{run}-1", f"{run}-2"} <= tail.received.keys(), 30, "the pushed entries")
        assert value("websub_pushes_total", outcome="bad_signature") == 1
        assert not {f"{run}-3", f"{run}-4"} & tail.received.keys()  # the forged push published nothing
        assert all(len(copies) == 1 for copies in tail.received.values())  # entry 0 not published again
        polls_before = len(polls)
        await remove_feed(settings, pushed_feed.feed_id)
        await wait_until(
            lambda: any(r["hub.mode"] == "unsubscribe" for r in hub.requests), 30, "the unsubscribe request"
        )
        assert len(polls) <= polls_before + 1  # a pushed feed is polled only as a fallback
    finally:
        await service.stop()
        await tail.stop()
        await hub.close()
        await remove_feed(settings, pushed_feed.feed_id)

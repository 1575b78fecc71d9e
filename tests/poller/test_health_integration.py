"""Health and permanent redirects written back to newswatch.feeds.v1, against the real broker.

Each test's poller takes only feeds tagged with the test's run id; assertions look only at this run's
feed ids. Pollers of other suites may check these feeds too (and write their health the same way), so
the tests wait for states to be seen rather than asserting an exact sequence of records.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from newswatch import kafka
from newswatch.feeds import add_feeds, make_feed, remove_feed
from newswatch.poller.scheduler import Policy
from newswatch.poller.service import PollerService
from newswatch.settings import Settings
from newswatch.topics import FEEDS
from newswatch.v1.feed_pb2 import FEED_STATE_DEGRADED, FEED_STATE_FAILING, FEED_STATE_OK, Feed
from tests.helpers import wait_until

from .conftest import ServeFn

pytestmark = pytest.mark.integration

RSS = (
    '<rss version="2.0"><channel><title>t</title>'
    "<item><title>one</title><guid>{run}-1</guid><link>http://127.0.0.1/{run}/1</link></item>"
    "</channel></rss>"
)
POLICY = Policy(
    default_interval_seconds=0.3,
    backoff_initial_seconds=0.2,
    backoff_max_seconds=0.4,
    first_check_max_delay_seconds=0.1,
    failing_after=3,
)


class Server:
    def __init__(self, run: str) -> None:
        self.run = run
        self.status = 200
        self.hits: dict[str, int] = {}
        self.app = web.Application()
        self.app.router.add_get("/flaky", self.flaky)
        self.app.router.add_get("/old", self.moved(301))
        self.app.router.add_get("/temp", self.moved(302))
        self.app.router.add_get("/new", self.feed)

    def _hit(self, request: web.Request) -> None:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1

    async def flaky(self, request: web.Request) -> web.Response:
        self._hit(request)
        if self.status != 200:
            return web.Response(status=self.status, text="down")
        return web.Response(text=RSS.format(run=self.run), content_type="application/rss+xml")

    async def feed(self, request: web.Request) -> web.Response:
        self._hit(request)
        return web.Response(text=RSS.format(run=self.run), content_type="application/rss+xml")

    def moved(self, status: int) -> Callable[[web.Request], object]:
        async def handler(request: web.Request) -> web.Response:
            self._hit(request)
            return web.Response(status=status, headers={"Location": "/new"})

        return handler


class Watch:
    """A view of the feeds topic that records every version of the watched feeds."""

    def __init__(self, settings: Settings, feed_ids: set[str]) -> None:
        self.feed_ids = feed_ids
        self.history: dict[str, list[Feed]] = {}
        self.view = kafka.CompactedView(settings, FEEDS, Feed, role="test", on_change=self._changed)

    def _changed(self, feed_id: str, feed: Feed | None) -> None:
        if feed_id in self.feed_ids and feed is not None:
            self.history.setdefault(feed_id, []).append(feed)

    def latest(self, feed_id: str) -> Feed | None:
        return self.view.items.get(feed_id)

    def states(self, feed_id: str) -> list[int]:
        return [f.health.state for f in self.history.get(feed_id, [])]


async def start(settings: Settings, tag: str, feeds: list[Feed]) -> tuple[PollerService, Watch]:
    await kafka.ensure_topics(settings)
    watch = Watch(settings, {f.feed_id for f in feeds})
    await watch.view.start()
    watch.view.follow()
    await add_feeds(settings, feeds)
    service = PollerService(
        settings.replace(poller_metrics_port=0, fetch_timeout_seconds=5.0),
        CollectorRegistry(),
        policy=POLICY,
        feed_filter=lambda f: tag in f.tags,
    )
    await service.start()
    return service, watch


async def test_health_goes_degraded_failing_and_ok_and_keeps_a_user_edit(
    settings: Settings, serve: ServeFn
) -> None:
    run = uuid.uuid4().hex[:12]
    tag = f"test-{run}"
    server = Server(run)
    base = await serve(server.app)
    feed = make_feed(f"{base}/flaky?run={run}", title=f"flaky {run}", tags=[tag])
    service, watch = await start(settings, tag, [feed])
    fid = feed.feed_id
    try:
        await wait_until(lambda: FEED_STATE_OK in watch.states(fid), 30, "health ok")
        ok = watch.latest(fid)
        assert (
            ok is not None and ok.health.HasField("last_success_at") and ok.health.HasField("next_check_at")
        )

        server.status = 500
        await wait_until(lambda: FEED_STATE_FAILING in watch.states(fid), 30, "health failing")
        states = watch.states(fid)
        assert FEED_STATE_DEGRADED in states[states.index(FEED_STATE_OK) :]
        failing = watch.latest(fid)
        assert failing is not None and failing.health.consecutive_failures >= 3
        assert failing.health.last_error == "http_error: HTTP 500"
        assert failing.health.last_success_at == ok.health.last_success_at
        assert failing.title == f"flaky {run}"

        # A user edit between checks survives the next health write.
        edited = Feed()
        edited.CopyFrom(failing)
        edited.title = f"renamed {run}"
        await add_feeds(settings, [edited])
        server.status = 200

        def recovered() -> bool:
            latest = watch.latest(fid)
            return latest is not None and latest.health.state == FEED_STATE_OK

        await wait_until(recovered, 30, "health ok again")
        latest = watch.latest(fid)
        assert latest is not None
        assert latest.title == f"renamed {run}"
        assert latest.health.last_error == ""
        assert latest.health.consecutive_failures == 0
        assert latest.url == feed.url and list(latest.tags) == [tag]
        # Health-only records do not reschedule the feed: it is still checked at its own pace.
        assert fid in service.scheduled_feed_ids
    finally:
        await service.stop()
        await watch.view.stop()
        await remove_feed(settings, fid)


async def test_a_301_updates_the_stored_url_and_a_302_does_not(settings: Settings, serve: ServeFn) -> None:
    run = uuid.uuid4().hex[:12]
    tag = f"test-{run}"
    server = Server(run)
    base = await serve(server.app)
    permanent = make_feed(f"{base}/old", title="moved", tags=[tag], feed_id=f"old-{run}")
    temporary = make_feed(f"{base}/temp", title="temp", tags=[tag], feed_id=f"temp-{run}")
    service, watch = await start(settings, tag, [permanent, temporary])
    try:

        def moved() -> bool:
            latest = watch.latest(permanent.feed_id)
            return latest is not None and latest.url == f"{base}/new"

        await wait_until(moved, 30, "the new URL on the feeds topic")
        latest = watch.latest(permanent.feed_id)
        assert latest is not None and latest.title == "moved" and latest.feed_id == f"old-{run}"
        # The poller follows the new URL: /old is no longer asked for.
        await wait_until(lambda: service.scheduled_feed_ids >= {permanent.feed_id}, 10, "still scheduled")
        old_hits = server.hits.get("/old", 0)
        await wait_until(lambda: server.hits.get("/temp", 0) >= 3, 30, "checks of the 302 feed")
        await asyncio.sleep(1.0)
        assert server.hits.get("/old", 0) <= old_hits + 1  # at most a check already in flight
        stored = watch.latest(temporary.feed_id)
        assert stored is not None and stored.url == f"{base}/temp"
        assert all(f.url == f"{base}/temp" for f in watch.history[temporary.feed_id])
    finally:
        await service.stop()
        await watch.view.stop()
        await remove_feed(settings, permanent.feed_id)
        await remove_feed(settings, temporary.feed_id)

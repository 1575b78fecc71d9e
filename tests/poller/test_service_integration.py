"""PollerService against the real broker and local feed servers.

Other suites share the broker and the feeds topic and may run pollers of their own (which poll every feed
in the catalogue, ours included). So this test's poller only takes feeds tagged with this run's id; on the
topic it asserts only about its own article ids (present, right key and header), and it asserts
"published once" through its own metrics.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime

import aiohttp
import pytest
from aiohttp import web
from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry

from newswatch import contracts, kafka
from newswatch.errors import InvalidMessageError
from newswatch.feeds import add_feeds, make_feed, remove_feed
from newswatch.poller.checker import check_feed
from newswatch.poller.scheduler import Policy
from newswatch.poller.service import PollerService
from newswatch.settings import Settings
from newswatch.topics import ARTICLES_RAW
from newswatch.v1.article_pb2 import Article
from tests.helpers import wait_until

from .conftest import ServeFn

pytestmark = pytest.mark.integration
CONTENT_TYPE = "application/x-protobuf; messageType=newswatch.v1.Article"


def rss(run: str, name: str, count: int) -> str:
    items = "".join(
        f"<item><title>{name} story {i}</title>"
        f"<link>http://127.0.0.1/{run}/{name}/{i}?utm_source=rss</link>"
        f'<guid isPermaLink="false">{run}-{name}-{i}</guid>'
        f"<description>Body {i} of {name}.</description></item>"
        for i in range(count)
    )
    channel = f"<title>{name}</title><lastBuildDate>{{build}}</lastBuildDate>{items}"
    return f'<rss version="2.0"><channel>{channel}</channel></rss>'


class FeedApp:
    """/a answers conditional GETs (ETag → 304); /b has no validators and a new lastBuildDate every time."""

    def __init__(self, run: str) -> None:
        self.bodies = {"a": rss(run, "a", 2), "b": rss(run, "b", 3)}
        self.hits = {"a": 0, "b": 0}
        self.not_modified = 0
        self.app = web.Application()
        self.app.router.add_get("/a", self.a)
        self.app.router.add_get("/b", self.b)

    async def a(self, request: web.Request) -> web.Response:
        self.hits["a"] += 1
        if request.headers.get("If-None-Match") == '"a1"':
            self.not_modified += 1
            return web.Response(status=304)
        body = self.bodies["a"].format(build="Mon, 03 Mar 2025 10:00:00 GMT")
        return web.Response(text=body, content_type="application/rss+xml", headers={"ETag": '"a1"'})

    async def b(self, request: web.Request) -> web.Response:
        self.hits["b"] += 1
        build = format_datetime(datetime.now(UTC), usegmt=True)
        return web.Response(text=self.bodies["b"].format(build=build), content_type="application/rss+xml")


class RawTail:
    """Reads newswatch.articles.raw.v1 from its current end; keeps the articles whose guid has ``prefix``."""

    def __init__(self, settings: Settings, prefix: str) -> None:
        self.consumer = kafka.make_consumer(settings, "test-raw", group_id=None)
        self.prefix = prefix
        self.received: dict[str, list[tuple[bytes, Article, str | None]]] = {}
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        await self.consumer._client.force_metadata_update()  # as kafka.CompactedView does
        partitions = self.consumer.partitions_for_topic(ARTICLES_RAW.name) or set()
        tps = [TopicPartition(ARTICLES_RAW.name, p) for p in sorted(partitions)]
        assert tps
        self.consumer.assign(tps)
        await self.consumer.seek_to_end(*tps)
        for tp in tps:
            await self.consumer.position(tp)
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=200)
            for record in (r for records in batch.values() for r in records):
                try:
                    article = contracts.decode(Article, record.value, record.headers)
                except InvalidMessageError:
                    continue  # not an article this test could have produced
                if article.guid.startswith(self.prefix):
                    content_type = contracts.header(record.headers, "content-type")
                    self.received.setdefault(article.guid, []).append((record.key, article, content_type))

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.consumer.stop()


async def test_poller_publishes_new_articles_once_and_follows_the_catalogue(
    settings: Settings, serve: ServeFn
) -> None:
    run = uuid.uuid4().hex[:12]
    tag = f"test-{run}"
    feeds_app = FeedApp(run)
    base = await serve(feeds_app.app)
    settings = settings.replace(poller_metrics_port=0, fetch_timeout_seconds=5.0)
    policy = Policy(
        default_interval_seconds=0.5,
        first_check_max_delay_seconds=0.2,
        backoff_initial_seconds=0.5,
        backoff_max_seconds=2.0,
    )
    feed_a = make_feed(f"{base}/a", title=f"a {run}", tags=[tag])
    feed_b = make_feed(f"{base}/b", title=f"b {run}", tags=[tag])
    await kafka.ensure_topics(settings)
    tail = RawTail(settings, prefix=run)
    registry = CollectorRegistry()
    get = registry.get_sample_value
    service = PollerService(settings, registry, policy=policy, feed_filter=lambda f: tag in f.tags)
    try:
        await tail.start()
        await add_feeds(settings, [feed_a])
        await service.start()
        assert service.ready()
        await wait_until(lambda: len(tail.received) == 2, 30, "articles of feed a")
        for key, article, content_type in (entries[0] for entries in tail.received.values()):
            assert key == article.article_id.encode()
            assert len(article.article_id) == 32
            assert content_type == CONTENT_TYPE
            assert article.feed_id == feed_a.feed_id
            assert article.url.endswith("?utm_source=rss")  # the link as published; only the id ignores it
            assert article.summary.startswith("Body ")

        # A feed added while running is picked up.
        await add_feeds(settings, [feed_b])
        await wait_until(lambda: len(tail.received) == 5, 30, "articles of feed b")
        feed_ids = {a.feed_id for entries in tail.received.values() for _, a, _ in entries}
        assert feed_ids == {feed_a.feed_id, feed_b.feed_id}

        # Later polls of unchanged feeds publish nothing: /a answers 304, /b re-parses but has no new entry.
        hits = dict(feeds_app.hits)
        await wait_until(lambda: all(feeds_app.hits[k] >= hits[k] + 2 for k in hits), 30, "further polls")
        await asyncio.sleep(0.3)
        assert feeds_app.not_modified >= 2
        assert get("newswatch_poller_articles_published_total") == 5
        assert get("newswatch_poller_articles_unchanged_total") >= 3
        assert get("newswatch_poller_fetches_total", {"outcome": "not_modified"}) >= 2
        assert get("newswatch_poller_feeds", {"state": "ok"}) == 2

        # A new entry in a known feed is published, and only that one.
        feeds_app.bodies["b"] = rss(run, "b", 4)
        await wait_until(lambda: len(tail.received) == 6, 30, "the new entry of feed b")
        await asyncio.sleep(0.3)
        assert get("newswatch_poller_articles_published_total") == 6

        # The health server serves the same registry on the bound port.
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{service.metrics_port}/metrics") as resp:
                text = await resp.text()
            async with http.get(f"http://127.0.0.1:{service.metrics_port}/readyz") as resp:
                assert resp.status == 200
        assert "newswatch_poller_articles_published_total 6.0" in text

        # A removed feed is no longer polled.
        assert await remove_feed(settings, feed_b.url)
        await wait_until(lambda: feed_b.feed_id not in service.scheduled_feed_ids, 15, "feed b unscheduled")
        hits_b = feeds_app.hits["b"]
        await asyncio.sleep(1.5)
        assert feeds_app.hits["b"] <= hits_b + 1  # at most a check already in flight
    finally:
        await service.stop()
        await service.stop()  # idempotent
        await tail.stop()
        await remove_feed(settings, feed_a.feed_id)
        await remove_feed(settings, feed_b.feed_id)
    assert not service.ready()


async def test_check_feed_fetches_and_parses_without_kafka(serve: ServeFn, unit_settings: Settings) -> None:
    app = FeedApp("check")
    base = await serve(app.app)
    parsed, articles = await check_feed(unit_settings, f"{base}/b")
    assert parsed.version == "rss20"
    assert [a.guid for a in articles] == ["check-b-0", "check-b-1", "check-b-2"]
    assert all(len(a.article_id) == 32 for a in articles)


async def test_check_feed_with_full_text_fetches_each_page(serve: ServeFn, unit_settings: Settings) -> None:
    paragraph = (
        "<p>Government forces said on Tuesday that they had retaken the ancient city of Palmyra from "
        "Islamic State fighters after weeks of heavy fighting in the desert east of Homs.</p>"
    )
    pages: list[str] = []

    async def page(request: web.Request) -> web.Response:
        pages.append(request.path)
        html = (
            "<html><head><title>Palmyra</title></head><body><nav><a href='/'>Home</a> <a href='/w'>World</a>"
            f"</nav><article><h1>Palmyra retaken</h1>{paragraph * 4}</article>"
            "<footer>Copyright 2026 Example News. All rights reserved.</footer></body></html>"
        )
        return web.Response(text=html, content_type="text/html")

    async def feed(request: web.Request) -> web.Response:
        base = f"http://{request.host}"
        body = (
            '<rss version="2.0"><channel><title>t</title>'
            f"<item><guid>p1</guid><title>Palmyra</title><link>{base}/story/1</link>"
            "<description>Teaser.</description></item></channel></rss>"
        )
        return web.Response(text=body, content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/feed", feed)
    app.router.add_get("/story/{n}", page)
    base = await serve(app)
    _, plain = await check_feed(unit_settings, f"{base}/feed")
    assert pages == [] and plain[0].content == ""
    _, full = await check_feed(unit_settings, f"{base}/feed", full_text=True)
    assert pages == ["/story/1"]
    assert "retaken the ancient city of Palmyra" in full[0].content
    assert "All rights reserved" not in full[0].content
    assert full[0].content_sha256 == plain[0].content_sha256

"""A full-text feed through the running poller: the article on the raw topic carries the page's text."""

from __future__ import annotations

import uuid

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from newswatch import kafka
from newswatch.feeds import add_feeds, make_feed, remove_feed
from newswatch.poller.scheduler import Policy
from newswatch.poller.service import PollerService
from newswatch.settings import Settings
from tests.helpers import wait_until

from .conftest import ServeFn
from .test_service_integration import RawTail

pytestmark = pytest.mark.integration

PARAGRAPH = (
    "<p>Residents of Hit, the Iraqi town on the Euphrates in Anbar province, said the bridge had been "
    "repaired and the market reopened after months of fighting between the army and militants.</p>"
)


async def test_the_poller_publishes_the_page_text_of_a_full_text_feed(
    settings: Settings, serve: ServeFn
) -> None:
    run = uuid.uuid4().hex[:12]
    tag = f"fulltext-{run}"

    async def feed(request: web.Request) -> web.Response:
        items = "".join(
            f'<item><guid isPermaLink="false">{run}-{i}</guid><title>Story {i}</title>'
            f"<link>http://{request.host}/story/{i}</link>"
            "<description>A short teaser.</description></item>"
            for i in range(2)
        )
        return web.Response(text=f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>',
                            content_type="application/rss+xml")  # fmt: skip

    async def story(request: web.Request) -> web.Response:
        html = (
            "<html><body><nav><a href='/'>Home</a></nav><article><h1>Hit</h1>"
            f"{PARAGRAPH * 3}</article><footer>Subscribe to our newsletter</footer></body></html>"
        )
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/feed", feed)
    app.router.add_get("/story/{n}", story)
    base = await serve(app)
    settings = settings.replace(poller_metrics_port=0, fetch_timeout_seconds=5.0)
    full = make_feed(f"{base}/feed", tags=[tag], full_text=True)
    await kafka.ensure_topics(settings)
    tail = RawTail(settings, prefix=run)
    registry = CollectorRegistry()
    service = PollerService(
        settings,
        registry,
        policy=Policy(default_interval_seconds=3600, first_check_max_delay_seconds=0.2),
        feed_filter=lambda f: tag in f.tags,
    )
    try:
        await tail.start()
        await add_feeds(settings, [full])
        await service.start()
        await wait_until(lambda: len(tail.received) == 2, 30, "both articles on the raw topic")
    finally:
        await service.stop()
        await tail.stop()
        await remove_feed(settings, full.feed_id)
    for copies in tail.received.values():
        [(_, article, _)] = copies
        assert "the Iraqi town on the Euphrates" in article.content
        assert "newsletter" not in article.content
        assert article.summary == "A short teaser."
    assert registry.get_sample_value("newswatch_poller_fulltext_pages_total", {"outcome": "ok"}) == 2

"""Poll state: what a feed published and which body was handled, bounded, surviving a restart."""

from __future__ import annotations

import uuid

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from newswatch import kafka
from newswatch.feeds import add_feeds, make_feed, remove_feed
from newswatch.poller.assignment import partition_for
from newswatch.poller.checker import FeedChecker
from newswatch.poller.fetcher import Validators
from newswatch.poller.metrics import PollerMetrics
from newswatch.poller.scheduler import Policy
from newswatch.poller.service import PollerService
from newswatch.poller.state import (
    DIGEST_BYTES,
    SEEN_FLOOR,
    SEEN_MAX,
    FeedMemory,
    PollStateStore,
    entry_digest,
)
from newswatch.settings import Settings
from newswatch.v1.article_pb2 import Article
from tests.helpers import wait_until

from .conftest import ServeFn, fixture_bytes
from .fakes import FakeFetcher, FakePublisher, MemoryStateStorage, ok

FEED = make_feed("https://f.example/feed")
RSS = fixture_bytes("rss20.xml")


def articles(prefix: str, count: int, content: str = "h") -> list[Article]:
    return [Article(article_id=f"{prefix}{i}", content_sha256=content) for i in range(count)]


def store(storage: MemoryStateStorage | None = None) -> tuple[PollStateStore, PollerMetrics]:
    metrics = PollerMetrics(CollectorRegistry())
    return PollStateStore(metrics, storage), metrics


def test_fresh_keeps_unpublished_and_changed_entries_in_order() -> None:
    state, _ = store()
    published = articles("a", 3)
    state.record("f", published, published)
    changed = Article(article_id="a1", content_sha256="other")
    new = Article(article_id="b0", content_sha256="h")
    assert state.fresh("f", [*published, changed, new]) == [changed, new]
    assert state.fresh("another feed", published) == published


@pytest.mark.parametrize(
    ("body_size", "bodies", "remembered"),
    [
        (10, 1, 10),
        (10, 30, SEEN_FLOOR),  # small feeds keep the floor
        (200, 3, 400),  # twice the body
        (6_000, 2, SEEN_MAX),  # never more than the cap
    ],
)
def test_seen_is_bounded(body_size: int, bodies: int, remembered: int) -> None:
    state, _ = store()
    every: list[Article] = []
    for n in range(bodies):  # each body shows only new entries
        body = articles(f"b{n}-", body_size)
        state.record("f", body, body)
        every += body
    memory = state.get("f")
    assert memory is not None
    assert len(memory.seen) == remembered * DIGEST_BYTES
    assert state.fresh("f", every[-remembered:]) == []  # the newest are the ones kept
    if remembered < len(every):
        assert state.fresh("f", every[:1]) == every[:1]


def test_entries_still_shown_are_kept_however_old() -> None:
    state, _ = store()
    first = articles("old", 300)
    state.record("f", first, first)
    sticky = first[0]  # published first, still at the bottom of every later body
    for n in range(5):
        body = [*articles(f"new{n}-", 100), sticky]
        state.record("f", body, state.fresh("f", body))
    assert state.fresh("f", [sticky]) == []
    assert state.fresh("f", first[1:2]) == first[1:2]  # what left the feed was pruned


@hsettings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=600), min_size=1, max_size=12))
def test_the_last_body_is_always_remembered(bodies: list[int]) -> None:
    state, _ = store()
    start = 0
    for size in bodies:
        body = [Article(article_id=f"e{start + i}", content_sha256="h") for i in range(size)]
        state.record("f", body, state.fresh("f", body))
        assert state.fresh("f", body) == []
        memory = state.get("f")
        assert memory is not None and len(memory.seen) <= SEEN_MAX * DIGEST_BYTES
        start += size // 2  # the next body overlaps this one by half


def test_memory_round_trips_through_the_proto() -> None:
    memory = FeedMemory(
        Validators('"e"', "Mon, 03 Mar 2025 10:00:00 GMT"), "ab" * 32, entry_digest(Article())
    )
    again = FeedMemory.from_proto(memory.to_proto("f"))
    assert again == memory
    assert FeedMemory.from_proto(FeedMemory().to_proto("f")).validators is None
    torn = memory.to_proto("f")
    torn.seen = torn.seen + b"\x01\x02"  # a torn record never yields a partial digest
    assert len(FeedMemory.from_proto(torn).seen) % DIGEST_BYTES == 0


async def test_a_restarted_checker_sends_the_stored_validators_and_republishes_nothing() -> None:
    storage = MemoryStateStorage()
    metrics = PollerMetrics(CollectorRegistry())
    first = FakePublisher()
    checker = FeedChecker(
        FakeFetcher(ok(RSS, etag='"1"')), first, metrics, state=PollStateStore(metrics, storage)
    )
    assert (await checker.check(FEED)).ok
    assert len(first.batches[0][1]) == 3 and FEED.feed_id in storage.records

    fetcher = FakeFetcher(
        ok(RSS, etag='"2"'),
        ok(RSS.replace(b"</channel>", b"<item><guid>n</guid><title>new</title></item></channel>")),
    )
    second = FakePublisher()
    metrics2 = PollerMetrics(CollectorRegistry())
    restarted = FeedChecker(fetcher, second, metrics2, state=PollStateStore(metrics2, storage))
    assert (await restarted.check(FEED)).ok
    assert fetcher.calls[0][1] == Validators('"1"', None)
    assert second.batches == []  # same body: not even parsed
    assert metrics2.parses_skipped._value.get() == 1
    assert storage.records[FEED.feed_id].etag == '"2"'  # the new validators were kept
    assert (await restarted.check(FEED)).ok
    assert [a.title for a in second.batches[0][1]] == ["new"]
    assert metrics2.articles_unchanged._value.get() == 3
    assert storage.reads == [partition_for(FEED.feed_id, storage.partitions)] * 2  # once per process


async def test_unacknowledged_articles_are_published_again_and_the_body_is_not_kept() -> None:
    storage = MemoryStateStorage()
    state, metrics = store(storage)
    publisher = FakePublisher(fail_times=1)
    checker = FeedChecker(
        FakeFetcher(ok(RSS, etag='"1"'), ok(RSS, etag='"1"')), publisher, metrics, state=state
    )
    assert not (await checker.check(FEED)).ok
    assert FEED.feed_id not in storage.records  # nothing published, nothing to remember
    assert (await checker.check(FEED)).ok
    assert len(publisher.batches[0][1]) == 3
    assert storage.records[FEED.feed_id].body_sha256


async def test_forget_reads_the_partition_again_and_remove_writes_a_tombstone() -> None:
    storage = MemoryStateStorage()
    state, metrics = store(storage)
    await state.ensure_loaded("f")
    await state.ensure_loaded("f")
    state.record("f", articles("a", 2), articles("a", 2))
    await state.save("f")
    assert len(storage.reads) == 1
    state.forget("f")  # the feed went to another poller
    assert state.get("f") is None
    await state.ensure_loaded("f")  # ...and came back: read again, memory restored
    assert len(storage.reads) == 2
    assert state.fresh("f", articles("a", 2)) == []
    await state.remove("f")
    assert "f" not in storage.records and state.get("f") is None
    assert metrics.state_writes.labels(outcome="ok")._value.get() == 2


async def test_write_failures_are_counted_not_raised() -> None:
    storage = MemoryStateStorage()
    storage.fail_writes = True
    state, metrics = store(storage)
    state.record("f", articles("a", 1), articles("a", 1))
    await state.save("f")
    assert metrics.state_writes.labels(outcome="failed")._value.get() == 1
    assert state.fresh("f", articles("a", 1)) == []  # memory kept in-process


# ----------------------------------------------------------------------------- real broker


class Feeds:
    def __init__(self, run: str) -> None:
        items = "".join(
            f"<item><guid>{run}-{i}</guid><title>story {i}</title><description>d{i}</description></item>"
            for i in range(3)
        )
        self.body = f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
        self.conditional: list[str | None] = []
        self.app = web.Application()
        self.app.router.add_get("/etag", self.etag)
        self.app.router.add_get("/plain", self.plain)

    async def etag(self, request: web.Request) -> web.Response:
        self.conditional.append(request.headers.get("If-None-Match"))
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304)
        return web.Response(text=self.body, content_type="application/rss+xml", headers={"ETag": '"v1"'})

    async def plain(self, request: web.Request) -> web.Response:
        # No validators, and a body that differs every time: only the seen entries stop a re-publish.
        body = self.body.replace("<title>t</title>", f"<title>t</title><!-- {uuid.uuid4().hex} -->")
        return web.Response(text=body, content_type="application/rss+xml")


@pytest.mark.integration
async def test_state_survives_a_poller_restart_on_the_real_broker(settings: Settings, serve: ServeFn) -> None:
    run = uuid.uuid4().hex[:12]
    tag = f"state-{run}"
    app = Feeds(run)
    base = await serve(app.app)
    settings = settings.replace(poller_metrics_port=0, fetch_timeout_seconds=5.0)
    policy = Policy(default_interval_seconds=3600, first_check_max_delay_seconds=0.2)
    feeds = [make_feed(f"{base}/etag", tags=[tag]), make_feed(f"{base}/plain", tags=[tag])]
    await kafka.ensure_topics(settings)
    await add_feeds(settings, feeds)

    async def one_run() -> CollectorRegistry:
        registry = CollectorRegistry()
        service = PollerService(settings, registry, policy=policy, feed_filter=lambda f: tag in f.tags)
        await service.start()
        try:
            await wait_until(
                lambda: (
                    registry.get_sample_value("newswatch_poller_fetches_total", {"outcome": "ok"})
                    + registry.get_sample_value("newswatch_poller_fetches_total", {"outcome": "not_modified"})
                    >= 2
                ),
                30,
                "both feeds fetched",
            )
            await wait_until(
                lambda: (
                    registry.get_sample_value("newswatch_poller_state_writes_total", {"outcome": "ok"}) >= 2
                    or registry.get_sample_value("newswatch_poller_articles_unchanged_total") >= 3
                ),
                30,
                "the bodies handled",
            )
        finally:
            await service.stop()
        return registry

    try:
        first = await one_run()
        assert first.get_sample_value("newswatch_poller_articles_published_total") == 6
        second = await one_run()
        assert second.get_sample_value("newswatch_poller_articles_published_total") == 0
        assert second.get_sample_value("newswatch_poller_articles_unchanged_total") == 3  # /plain, parsed
        assert second.get_sample_value("newswatch_poller_fetches_total", {"outcome": "not_modified"}) == 1
        assert app.conditional == [None, '"v1"']
    finally:
        for feed in feeds:
            await remove_feed(settings, feed.feed_id)

"""Pollers share the feeds by partition: partition_for, FeedOwnership, FeedAssignment, two PollerServices.

Unit tests drive :class:`FeedOwnership` with a fake scheduler and a fake assignment source, and
:class:`FeedAssignment` through ``apply`` / the listener calls (no broker). Integration tests use the
real broker: the partition the broker stores a keyed record in, and two pollers in one fresh group.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections import Counter
from collections.abc import Callable

import pytest
from aiohttp import web
from aiokafka import TopicPartition
from aiokafka.partitioner import murmur2
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from newswatch import kafka
from newswatch.feeds import add_feeds, make_feed
from newswatch.poller import assignment as assignment_module
from newswatch.poller.assignment import FeedAssignment, partition_for
from newswatch.poller.fetcher import FetchResult, HttpFetcher, Validators
from newswatch.poller.metrics import PollerMetrics
from newswatch.poller.ownership import FeedOwnership
from newswatch.poller.scheduler import Policy
from newswatch.poller.service import PollerService
from newswatch.settings import Settings
from newswatch.topics import FEEDS
from newswatch.v1.feed_pb2 import Feed
from tests.helpers import wait_until

from .conftest import ServeFn

# ---------------------------------------------------------------- partition_for


@pytest.mark.parametrize("partitions", [1, 3, 6, 12])
@pytest.mark.parametrize("feed_id", ["", "a", "0123456789abcdef", "feed-ü"])
def test_partition_for_is_murmur2_of_the_utf8_key(feed_id: str, partitions: int) -> None:
    expected = (murmur2(feed_id.encode("utf-8")) & 0x7FFFFFFF) % partitions
    assert partition_for(feed_id, partitions) == expected


@given(st.text(max_size=64), st.integers(min_value=1, max_value=1000))
def test_partition_for_is_a_partition_of_the_topic(feed_id: str, partitions: int) -> None:
    assert 0 <= partition_for(feed_id, partitions) < partitions


def test_partition_for_spreads_feed_ids_and_refuses_no_partitions() -> None:
    counts = Counter(partition_for(uuid.uuid4().hex[:16], 6) for _ in range(600))
    assert set(counts) == set(range(6))
    assert min(counts.values()) > 50
    with pytest.raises(ValueError, match="at least one partition"):
        partition_for("a", 0)


# ---------------------------------------------------------------- FeedOwnership


class FakeScheduler:
    def __init__(self) -> None:
        self.feeds: dict[str, Feed] = {}

    @property
    def feed_ids(self) -> frozenset[str]:
        return frozenset(self.feeds)

    def upsert(self, feed: Feed) -> None:
        self.feeds[feed.feed_id] = feed

    def remove(self, feed_id: str) -> None:
        del self.feeds[feed_id]


class FakeAssignment:
    """Stands for the consumer group: hands out assignments to its listener."""

    def __init__(self, listener: Callable[[frozenset[int], int], None], partitions: int) -> None:
        self.listener = listener
        self.partitions = partitions

    def assign(self, *parts: int) -> None:
        self.listener(frozenset(parts), self.partitions)


def feeds_by_partition(partitions: int, per_partition: int = 2) -> dict[int, list[Feed]]:
    out: dict[int, list[Feed]] = {p: [] for p in range(partitions)}
    i = 0
    while any(len(v) < per_partition for v in out.values()):
        feed = make_feed(f"https://news{i}.example/feed", title=f"feed {i}")
        i += 1
        part = out[partition_for(feed.feed_id, partitions)]
        if len(part) < per_partition:
            part.append(feed)
    return out


def ownership(
    feed_filter: Callable[[Feed], bool] = lambda _f: True,
) -> tuple[FeedOwnership, FakeScheduler, list[str], FakeAssignment]:
    scheduler, forgotten = FakeScheduler(), []
    owner = FeedOwnership(scheduler, feed_filter, forgotten.append)
    return owner, scheduler, forgotten, FakeAssignment(owner.assignment_changed, 3)


def ids(feeds: list[Feed]) -> frozenset[str]:
    return frozenset(f.feed_id for f in feeds)


def test_nothing_is_scheduled_before_the_first_assignment() -> None:
    owner, scheduler, _, group = ownership()
    by_part = feeds_by_partition(3)
    for feed in (f for fs in by_part.values() for f in fs):
        owner.feed_changed(feed.feed_id, feed)
    assert scheduler.feed_ids == frozenset()
    group.assign(0, 2)
    assert scheduler.feed_ids == ids(by_part[0] + by_part[2])


def test_assignment_changes_schedule_gained_and_unschedule_lost_feeds_keeping_their_memory() -> None:
    owner, scheduler, forgotten, group = ownership()
    by_part = feeds_by_partition(3)
    group.assign(0, 1, 2)  # the assignment may arrive before the catalogue is read
    for feed in (f for fs in by_part.values() for f in fs):
        owner.feed_changed(feed.feed_id, feed)
    assert scheduler.feed_ids == ids([f for fs in by_part.values() for f in fs])
    group.assign(1)  # another poller joined
    assert scheduler.feed_ids == ids(by_part[1])
    group.assign()  # standby member
    assert scheduler.feed_ids == frozenset()
    group.assign(2, 0)
    assert scheduler.feed_ids == ids(by_part[0] + by_part[2])
    assert forgotten == []  # moved feeds keep what was published: no republication when they return


@pytest.mark.parametrize(
    ("change", "scheduled_after", "forgets"),
    [
        pytest.param("tombstone", False, True, id="removed-from-catalogue"),
        pytest.param("disabled", False, True, id="disabled"),
        pytest.param("filtered", False, True, id="no-longer-accepted-by-the-filter"),
        pytest.param("retitled", True, False, id="updated-stays-scheduled"),
    ],
)
def test_catalogue_changes_of_an_owned_feed(change: str, scheduled_after: bool, forgets: bool) -> None:
    owner, scheduler, forgotten, group = ownership(lambda f: "skip" not in f.tags)
    feed = feeds_by_partition(3)[1][0]
    group.assign(1)
    owner.feed_changed(feed.feed_id, feed)
    assert scheduler.feed_ids == {feed.feed_id}
    new = Feed()
    new.CopyFrom(feed)
    if change == "disabled":
        new.enabled = False
    elif change == "filtered":
        new.tags.append("skip")
    elif change == "retitled":
        new.title = "renamed"
    owner.feed_changed(feed.feed_id, None if change == "tombstone" else new)
    assert (feed.feed_id in scheduler.feed_ids) is scheduled_after
    assert (forgotten == [feed.feed_id]) is forgets
    if scheduled_after:
        assert scheduler.feeds[feed.feed_id].title == "renamed"
    group.assign(0, 1, 2)  # a later assignment does not bring a removed feed back
    assert (feed.feed_id in scheduler.feed_ids) is scheduled_after


def test_feeds_of_partitions_not_assigned_or_filtered_out_are_never_scheduled() -> None:
    owner, scheduler, _, group = ownership(lambda f: f.title != "feed 0")
    by_part = feeds_by_partition(3)
    group.assign(0)
    for feed in (f for fs in by_part.values() for f in fs):
        owner.feed_changed(feed.feed_id, feed)
    assert scheduler.feed_ids == ids([f for f in by_part[0] if f.title != "feed 0"])


# ---------------------------------------------------------------- FeedAssignment (no broker)


async def test_feed_assignment_reports_changes_and_counts_rebalances(
    unit_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = CollectorRegistry()
    changes: list[tuple[frozenset[int], int]] = []
    group = FeedAssignment(unit_settings, PollerMetrics(registry), lambda a, n: changes.append((a, n)))
    assert not group.joined
    assert not await group.wait_joined(0.01)
    group.on_partitions_revoked([])  # first join: nothing to revoke
    group.apply(frozenset({0, 2}), 3)
    group.apply(frozenset({0, 2}), 3)  # a rebalance that changed nothing for this member
    assert group.joined and await group.wait_joined(0.01)
    assert changes == [(frozenset({0, 2}), 3)]
    assert registry.get_sample_value("newswatch_poller_rebalances_total") == 2
    assert registry.get_sample_value("newswatch_poller_assigned_partitions") == 2

    # Revoked, then a new assignment in time: no release in between.
    monkeypatch.setattr(assignment_module, "RELEASE_AFTER_SECONDS", 0.05)
    group.on_partitions_revoked([TopicPartition(FEEDS.name, 0), TopicPartition(FEEDS.name, 2)])
    group.on_partitions_assigned([TopicPartition(FEEDS.name, 1)])
    await asyncio.sleep(0.1)
    assert changes[1:] == [(frozenset({1}), 3)]
    assert group.joined

    # Revoked and no assignment within the grace period: the feeds are released.
    group.on_partitions_revoked([TopicPartition(FEEDS.name, 1)])
    await asyncio.sleep(0.1)
    assert changes[2:] == [(frozenset(), 3)]
    assert not group.joined
    assert registry.get_sample_value("newswatch_poller_assigned_partitions") == 0

    await group.stop()
    await group.stop()  # idempotent
    group.apply(frozenset({0}), 3)  # late callbacks after stop are ignored
    assert len(changes) == 3 and not group.joined


# ---------------------------------------------------------------- real broker


async def feed_partitions(settings: Settings) -> int:
    """How many partitions the (shared, already created) feeds topic has on the broker."""
    probe = kafka.make_consumer(settings, "test-partitions", group_id=None)
    await probe.start()
    try:
        return len(await kafka.assign_all_partitions(probe, FEEDS))
    finally:
        await probe.stop()


def spread_feeds(base: str, tag: str, partitions: int) -> list[Feed]:
    """At least 6 feeds on ``base``, every partition holding one, so each poller gets feeds."""
    feeds: list[Feed] = []
    while len(feeds) < 6 or {partition_for(f.feed_id, partitions) for f in feeds} != set(range(partitions)):
        feeds.append(make_feed(f"{base}/feeds/{len(feeds)}", title=f"{tag} {len(feeds)}", tags=[tag]))
    return feeds


@pytest.mark.integration
async def test_partition_for_matches_the_partition_the_broker_stores_a_key_in(settings: Settings) -> None:
    await kafka.ensure_topics(settings, [FEEDS])
    partitions = await feed_partitions(settings)
    producer = kafka.make_producer(settings, "test-partitions")
    await producer.start()
    try:
        keys = [f"test-partition-{uuid.uuid4().hex}" for _ in range(24)]
        # Tombstones of keys no one uses: valid on the compacted catalogue, ignored by every reader.
        futures = [await kafka.publish(producer, FEEDS, key, None) for key in keys]
        stored = [(await fut).partition for fut in futures]
    finally:
        await producer.stop()
    assert stored == [partition_for(key, partitions) for key in keys]
    assert len(set(stored)) > 1 or partitions == 1


class CountingFetcher:
    """An HttpFetcher that counts the fetches of each URL (one per poller: who polled what)."""

    def __init__(self, settings: Settings) -> None:
        self.inner = HttpFetcher(settings)
        self.counts: Counter[str] = Counter()

    async def fetch(self, url: str, validators: Validators | None = None) -> FetchResult:
        self.counts[url] += 1
        return await self.inner.fetch(url, validators)

    async def close(self) -> None:
        await self.inner.close()


@pytest.mark.integration
async def test_two_pollers_share_the_feeds_and_one_takes_over_when_the_other_stops(
    settings: Settings, serve: ServeFn
) -> None:
    run = uuid.uuid4().hex[:12]
    tag = f"test-group-{run}"

    async def rss(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = f'<rss version="2.0"><channel><title>{name}</title><item><title>{name} story</title>'
        body += f'<guid isPermaLink="false">{run}-{name}</guid></item></channel></rss>'
        return web.Response(text=body, content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/feeds/{name}", rss)
    base = await serve(app)
    settings = settings.replace(
        poller_group_id=f"newswatch-poller-{run}", poller_metrics_port=0, fetch_timeout_seconds=5.0
    )
    await kafka.ensure_topics(settings)
    partitions = await feed_partitions(settings)
    feeds = spread_feeds(base, tag, partitions)
    all_ids = ids(feeds)
    policy = Policy(default_interval_seconds=0.5, first_check_max_delay_seconds=0.2, backoff_max_seconds=2)

    def poller() -> tuple[PollerService, CountingFetcher, CollectorRegistry]:
        fetcher, registry = CountingFetcher(settings), CollectorRegistry()
        svc = PollerService(
            settings, registry, policy=policy, fetcher=fetcher, feed_filter=lambda f: tag in f.tags
        )
        return svc, fetcher, registry

    (a, fetch_a, reg_a), (b, fetch_b, reg_b) = poller(), poller()
    producer = kafka.make_producer(settings, "test-group-cleanup")
    try:
        await add_feeds(settings, feeds)
        await a.start()
        assert a.ready() and a.assigned_partitions == set(range(partitions))  # alone: every partition
        await wait_until(lambda: a.scheduled_feed_ids == all_ids, 15, "poller A to schedule every feed")
        await b.start()
        assert b.ready()

        def split() -> bool:
            shared = a.assigned_partitions | b.assigned_partitions
            disjoint = not a.assigned_partitions & b.assigned_partitions
            return shared == set(range(partitions)) and disjoint and bool(b.assigned_partitions)

        await wait_until(split, 20, "the partitions to be split between the two pollers")
        assert a.scheduled_feed_ids | b.scheduled_feed_ids == all_ids
        assert not a.scheduled_feed_ids & b.scheduled_feed_ids
        assert a.scheduled_feed_ids and b.scheduled_feed_ids
        for svc in (a, b):
            assert svc.scheduled_feed_ids == {
                f.feed_id for f in feeds if partition_for(f.feed_id, partitions) in svc.assigned_partitions
            }

        # Every feed is now polled by exactly one of them.
        before_a, before_b = Counter(fetch_a.counts), Counter(fetch_b.counts)
        await asyncio.sleep(2.5)
        for feed in feeds:
            polled_a = fetch_a.counts[feed.url] - before_a[feed.url]
            polled_b = fetch_b.counts[feed.url] - before_b[feed.url]
            a_owns = feed.feed_id in a.scheduled_feed_ids
            owner_polled, other_polled = (polled_a, polled_b) if a_owns else (polled_b, polled_a)
            assert owner_polled >= 2, feed.url
            assert other_polled <= 1, feed.url  # at most one check that was in flight at the handover
        assert reg_a.get_sample_value("newswatch_poller_rebalances_total") >= 2
        gauges = [r.get_sample_value("newswatch_poller_assigned_partitions") for r in (reg_a, reg_b)]
        assert sum(g or 0 for g in gauges) == partitions

        # B stops (leaves the group): A takes every feed over.
        await b.stop()
        took = await wait_until(lambda: a.scheduled_feed_ids == all_ids, 30, "poller A to take over")
        before = Counter(fetch_a.counts)
        await wait_until(
            lambda: all(fetch_a.counts[f.url] > before[f.url] for f in feeds), 10, "A to poll every feed"
        )
        assert a.assigned_partitions == set(range(partitions))
        assert took < 15
    finally:
        await b.stop()
        await a.stop()
        await producer.start()
        try:
            for feed in feeds:
                await (await kafka.publish(producer, FEEDS, feed.feed_id, None))
        finally:
            await producer.stop()


KILLABLE_POLLER = """
import asyncio, sys
from newswatch.poller.scheduler import Policy
from newswatch.poller.service import PollerService
from newswatch.settings import load_settings

async def main() -> None:
    tag = sys.argv[1]
    policy = Policy(default_interval_seconds=0.5, first_check_max_delay_seconds=0.2)
    svc = PollerService(load_settings(), policy=policy, feed_filter=lambda f: tag in f.tags)
    await svc.start()
    sys.stdout.write(f"ready {sorted(svc.assigned_partitions)}\\n")
    sys.stdout.flush()
    await svc.wait()

asyncio.run(main())
"""


@pytest.mark.integration
async def test_the_feeds_of_a_killed_poller_move_after_the_session_timeout(
    settings: Settings, serve: ServeFn
) -> None:
    run = uuid.uuid4().hex[:12]
    tag = f"test-kill-{run}"

    async def not_modified(_request: web.Request) -> web.Response:
        return web.Response(status=304)

    app = web.Application()
    app.router.add_get("/feeds/{name}", not_modified)
    base = await serve(app)
    settings = settings.replace(poller_group_id=f"newswatch-poller-{run}", poller_metrics_port=0)
    await kafka.ensure_topics(settings)
    partitions = await feed_partitions(settings)
    feeds = spread_feeds(base, tag, partitions)
    all_ids = ids(feeds)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")},
        "NEWSWATCH_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "NEWSWATCH_ALLOW_PRIVATE_NETWORKS": "true",
        "NEWSWATCH_POLLER_GROUP_ID": settings.poller_group_id,
        "NEWSWATCH_POLLER_METRICS_PORT": "0",
        "NEWSWATCH_TOPIC_PARTITIONS": str(settings.topic_partitions),
        "NEWSWATCH_FETCH_HOST_MIN_INTERVAL_SECONDS": "0",
    }
    policy = Policy(default_interval_seconds=0.5, first_check_max_delay_seconds=0.2)
    a = PollerService(settings, CollectorRegistry(), policy=policy, feed_filter=lambda f: tag in f.tags)
    other = await asyncio.create_subprocess_exec(
        sys.executable, "-c", KILLABLE_POLLER, tag, env=env, stdout=asyncio.subprocess.PIPE
    )
    producer = kafka.make_producer(settings, "test-group-cleanup")
    try:
        await add_feeds(settings, feeds)
        assert other.stdout is not None
        line = await asyncio.wait_for(other.stdout.readline(), 30)
        assert line.startswith(b"ready"), line
        await a.start()
        await wait_until(
            lambda: 0 < len(a.assigned_partitions) < partitions, 20, "a split with the other poller"
        )
        assert a.scheduled_feed_ids < all_ids
        other.kill()  # no LeaveGroup: the coordinator notices when the session times out
        await other.wait()
        took = await wait_until(lambda: a.scheduled_feed_ids == all_ids, 30, "poller A to take over")
        assert took < 25
    finally:
        if other.returncode is None:
            other.kill()
            await other.wait()
        await a.stop()
        await producer.start()
        try:
            for feed in feeds:
                await (await kafka.publish(producer, FEEDS, feed.feed_id, None))
        finally:
            await producer.stop()

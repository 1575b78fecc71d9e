"""Feed freshness as the poller exposes it: stale feeds and the age of the least recent success."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from newswatch.feeds import make_feed
from newswatch.poller.metrics import PollerMetrics
from newswatch.poller.scheduler import STALE_AFTER_INTERVALS, CheckOutcome, Policy, Scheduler
from newswatch.v1.feed_pb2 import Feed
from tests.helpers import wait_until


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Low:
    def uniform(self, a: float, b: float) -> float:
        return a


POLICY = Policy(default_interval_seconds=600, first_check_max_delay_seconds=0.0)


def readings(registry: CollectorRegistry) -> tuple[float | None, float | None]:
    return (
        registry.get_sample_value("newswatch_poller_stale_feeds"),
        registry.get_sample_value("newswatch_poller_oldest_success_age_seconds"),
    )


def test_no_feeds_reads_zero() -> None:
    registry = CollectorRegistry()
    Scheduler(lambda _f: asyncio.sleep(0, CheckOutcome(ok=True)), POLICY, 1, PollerMetrics(registry))
    assert readings(registry) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("name", "seconds_later", "stale", "oldest_age"),
    [
        ("just scheduled", 0.0, 0, 0.0),
        ("fast feed within three intervals", 3 * 60.0, 0, 180.0),
        ("fast feed past three intervals", 3 * 60.0 + 1, 1, 181.0),
        ("both past three intervals", 3 * 600.0 + 1, 2, 1801.0),
    ],
)
def test_feeds_without_a_success_turn_stale_after_three_intervals(
    name: str, seconds_later: float, stale: int, oldest_age: float
) -> None:
    assert STALE_AFTER_INTERVALS == 3
    registry, clock = CollectorRegistry(), Clock()
    scheduler = Scheduler(
        lambda _f: asyncio.sleep(0, CheckOutcome(ok=True)), POLICY, 1, PollerMetrics(registry), clock=clock
    )
    scheduler.upsert(make_feed("https://fast.example/feed", feed_id="fast", poll_interval_seconds=60))
    scheduler.upsert(make_feed("https://slow.example/feed", feed_id="slow"))  # default interval, 600 s
    clock.now += seconds_later
    assert readings(registry) == (stale, oldest_age), name


async def test_a_success_makes_a_feed_fresh_and_a_failure_does_not() -> None:
    registry, clock = CollectorRegistry(), Clock()
    checked: list[str] = []

    async def check(feed: Feed) -> CheckOutcome:
        checked.append(feed.feed_id)
        return CheckOutcome(ok=feed.feed_id == "good")

    scheduler = Scheduler(check, POLICY, 2, PollerMetrics(registry), clock=clock, rng=Low())
    scheduler.upsert(make_feed("https://good.example/feed", feed_id="good", poll_interval_seconds=60))
    scheduler.upsert(make_feed("https://bad.example/feed", feed_id="bad", poll_interval_seconds=60))
    clock.now += 500.0  # both stale before their first check
    assert readings(registry) == (2, 500.0)
    runner = asyncio.create_task(scheduler.run())
    await wait_until(lambda: sorted(checked) == ["bad", "good"], 5, "both feeds checked")
    await scheduler.stop(drain_seconds=1.0)
    await asyncio.wait_for(runner, 1.0)
    assert readings(registry) == (1, 500.0)  # "bad" still counts from when it was scheduled
    scheduler.remove("bad")
    clock.now += 30.0
    assert readings(registry) == (0, 30.0)

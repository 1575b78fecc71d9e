"""Scheduling rules as table tests (fake clock, fixed random), and the loop with a fake check."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from newswatch.feeds import make_feed
from newswatch.poller.metrics import PollerMetrics
from newswatch.poller.scheduler import (
    CheckOutcome,
    Policy,
    Scheduler,
    after_failure,
    after_success,
    backoff_delay,
    first_check_at,
    health_state,
    interval_for,
)
from newswatch.v1.feed_pb2 import Feed

POLICY = Policy(default_interval_seconds=300, backoff_initial_seconds=60, backoff_max_seconds=3600)


class Fixed:
    """A random source returning the lower, middle or upper end of every range."""

    def __init__(self, where: float) -> None:
        self.where = where

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.where


LOW, MID, HIGH = Fixed(0.0), Fixed(0.5), Fixed(1.0)


@pytest.mark.parametrize(
    ("name", "failures", "rng", "expected"),
    [
        ("first failure, upper jitter", 1, HIGH, 60),
        ("first failure, lower jitter", 1, LOW, 30),
        ("second doubles", 2, HIGH, 120),
        ("fifth", 5, HIGH, 960),
        ("capped", 7, HIGH, 3600),
        ("capped forever", 10_000, HIGH, 3600),
        ("capped, lower jitter", 10_000, LOW, 1800),
    ],
)
def test_backoff_delay(name: str, failures: int, rng: Fixed, expected: float) -> None:
    assert backoff_delay(failures, POLICY, rng) == pytest.approx(expected), name


@pytest.mark.parametrize(
    ("name", "failures", "outcome", "expected_delay"),
    [
        ("transient error retries before the interval", 1, CheckOutcome(ok=False), 60),
        ("non-retriable waits at least an interval", 1, CheckOutcome(ok=False, retriable=False), 300),
        ("non-retriable after many failures keeps the cap", 9, CheckOutcome(ok=False, retriable=False), 3600),
        ("Retry-After longer than backoff wins", 1, CheckOutcome(ok=False, retry_after_seconds=900), 900),
        (
            "Retry-After shorter than backoff does not shorten it",
            3,
            CheckOutcome(ok=False, retry_after_seconds=5),
            240,
        ),
        ("absurd Retry-After is clamped", 1, CheckOutcome(ok=False, retry_after_seconds=10**9), 86400),
    ],
)
def test_after_failure(name: str, failures: int, outcome: CheckOutcome, expected_delay: float) -> None:
    assert after_failure(1000.0, failures, 300.0, outcome, POLICY, HIGH) == pytest.approx(
        1000 + expected_delay
    ), name


@pytest.mark.parametrize(
    ("rng", "expected"),
    [(LOW, 1000 + 270), (MID, 1000 + 300), (HIGH, 1000 + 330)],
)
def test_after_success_jitters_within_ten_percent(rng: Fixed, expected: float) -> None:
    assert after_success(1000.0, 300.0, POLICY, rng) == pytest.approx(expected)


def test_first_check_is_soon() -> None:
    assert first_check_at(50.0, POLICY, LOW) == 50.0
    assert first_check_at(50.0, POLICY, HIGH) == 55.0


@pytest.mark.parametrize(
    ("failures", "state"), [(0, "ok"), (1, "degraded"), (2, "degraded"), (3, "failing"), (500, "failing")]
)
def test_health_state(failures: int, state: str) -> None:
    assert health_state(failures, POLICY) == state


def test_interval_for_uses_feed_value_or_default() -> None:
    assert interval_for(Feed(poll_interval_seconds=60), POLICY) == 60
    assert interval_for(Feed(), POLICY) == 300


async def test_loop_bounds_concurrency_and_never_drops_failing_feeds() -> None:
    metrics = PollerMetrics(CollectorRegistry())
    policy = Policy(
        default_interval_seconds=0.05,
        backoff_initial_seconds=0.02,
        backoff_max_seconds=0.05,
        first_check_max_delay_seconds=0.0,
    )
    running = 0
    peak = 0
    calls: dict[str, int] = {}

    async def check(feed: Feed) -> CheckOutcome:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        calls[feed.feed_id] = calls.get(feed.feed_id, 0) + 1
        await asyncio.sleep(0.01)
        running -= 1
        if feed.feed_id == "broken":
            raise RuntimeError("bug in check")
        return CheckOutcome(ok=not feed.feed_id.startswith("bad"))

    scheduler = Scheduler(check, policy, concurrency=2, metrics=metrics, rng=LOW)
    for i in range(4):
        scheduler.upsert(make_feed(f"https://ok{i}.example/feed", feed_id=f"ok{i}"))
    scheduler.upsert(make_feed("https://bad.example/feed", feed_id="bad"))
    scheduler.upsert(make_feed("https://broken.example/feed", feed_id="broken"))
    scheduler.upsert(make_feed("https://off.example/feed", feed_id="off", enabled=False))
    runner = asyncio.create_task(scheduler.run())
    await asyncio.sleep(0.6)
    await scheduler.stop(drain_seconds=1.0)
    await asyncio.wait_for(runner, 1.0)

    assert peak == 2
    assert "off" not in calls
    assert calls["bad"] >= 3 and calls["broken"] >= 3  # failing feeds keep being checked
    assert scheduler.state_of("bad") == "failing"
    assert scheduler.state_of("ok0") == "ok"
    assert metrics.feeds.labels(state="failing")._value.get() == 2
    assert metrics.feeds.labels(state="ok")._value.get() == 4


async def test_removed_feed_is_not_checked_again() -> None:
    metrics = PollerMetrics(CollectorRegistry())
    policy = Policy(default_interval_seconds=0.02, first_check_max_delay_seconds=0.0)
    calls = 0

    async def check(feed: Feed) -> CheckOutcome:
        nonlocal calls
        calls += 1
        return CheckOutcome(ok=True)

    scheduler = Scheduler(check, policy, concurrency=4, metrics=metrics, rng=MID)
    scheduler.upsert(make_feed("https://a.example/feed", feed_id="a"))
    runner = asyncio.create_task(scheduler.run())
    await asyncio.sleep(0.1)
    scheduler.remove("a")
    seen = calls
    await asyncio.sleep(0.1)
    await scheduler.stop(1.0)
    await runner
    assert seen >= 2
    assert calls == seen
    assert scheduler.feed_ids == frozenset()


async def test_stop_cancels_checks_past_the_drain_deadline() -> None:
    metrics = PollerMetrics(CollectorRegistry())
    started = asyncio.Event()

    async def check(feed: Feed) -> CheckOutcome:
        started.set()
        await asyncio.sleep(30)
        return CheckOutcome(ok=True)

    scheduler = Scheduler(
        check, Policy(default_interval_seconds=1, first_check_max_delay_seconds=0), 1, metrics
    )
    scheduler.upsert(make_feed("https://slow.example/feed"))
    runner = asyncio.create_task(scheduler.run())
    await asyncio.wait_for(started.wait(), 2)
    await asyncio.wait_for(scheduler.stop(drain_seconds=0.1), 2)
    await asyncio.wait_for(runner, 2)
    assert metrics.checks_in_flight._value.get() == 0

"""The adaptive interval rule (scheduler.interval_for) as named table cases, and the loop applying it.

Each case starts from the raw values a feed and its server send, so the extractors and the rule are
tested together: the cases read like "the server said this, we come back after that".
"""

from __future__ import annotations

import asyncio
import math
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from prometheus_client import CollectorRegistry

from newswatch.feeds import make_feed
from newswatch.poller.freshness import (
    Hints,
    expires_seconds,
    max_age_seconds,
    observed_interval_seconds,
    ttl_seconds,
    update_period_seconds,
)
from newswatch.poller.metrics import PollerMetrics
from newswatch.poller.scheduler import CheckOutcome, Policy, Scheduler, interval_for
from newswatch.v1.feed_pb2 import Feed

POLICY = Policy(default_interval_seconds=300, min_interval_seconds=60, max_interval_seconds=21600)
NOW = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
DATE = "Mon, 03 Mar 2025 10:00:00 GMT"  # == NOW


def hints(
    *,
    ttl: str | None = None,
    period: str | None = None,
    frequency: str | None = None,
    cache_control: str | None = None,
    expires: str | None = None,
    date: str | None = None,
    gaps_minutes: tuple[float, ...] = (),
) -> Hints:
    """Hints as a check would build them from a feed's elements and a response's headers."""
    published = [NOW]
    for gap in gaps_minutes:
        published.append(published[-1] - timedelta(minutes=gap))
    return Hints(
        ttl_seconds=ttl_seconds(ttl),
        update_period_seconds=update_period_seconds(period, frequency),
        max_age_seconds=max_age_seconds(cache_control),
        expires_seconds=expires_seconds(expires, date, NOW),
        observed_seconds=observed_interval_seconds(published),
    )


CASES = [
    ("no hints at all: the default", 0, hints(), 300),
    ("no check brought hints yet: the default", 0, None, 300),
    ("ttl only", 0, hints(ttl="45"), 2700),
    ("updatePeriod hourly, frequency 2", 0, hints(period="hourly", frequency="2"), 1800),
    ("updatePeriod daily, frequency 4", 0, hints(period="daily", frequency="4"), 21600),
    ("updatePeriod daily, frequency 8", 0, hints(period="daily", frequency="8"), 10800),
    ("max-age", 0, hints(cache_control="public, max-age=900"), 900),
    ("Expires relative to Date", 0, hints(expires="Mon, 03 Mar 2025 10:20:00 GMT", date=DATE), 1200),
    (
        "Expires relative to a Date that differs from our clock",
        0,
        hints(expires="Mon, 03 Mar 2025 10:20:00 GMT", date="Mon, 03 Mar 2025 09:50:00 GMT"),
        1800,
    ),
    ("Expires without Date: relative to now", 0, hints(expires="Mon, 03 Mar 2025 10:40:00 GMT"), 2400),
    (
        "several server hints: the largest wins",
        0,
        hints(
            ttl="10", period="hourly", cache_control="max-age=1200", expires="Mon, 03 Mar 2025 10:30:00 GMT"
        ),
        3600,
    ),
    ("max-age larger than ttl wins", 0, hints(ttl="5", cache_control="max-age=7200"), 7200),
    ("observed frequency only", 0, hints(gaps_minutes=(10, 20, 30)), 1200),
    (
        "server hint beats a slower observed frequency",
        0,
        hints(cache_control="max-age=600", gaps_minutes=(120, 120)),
        600,
    ),
    ("server hint beats a faster observed frequency", 0, hints(ttl="30", gaps_minutes=(2, 2)), 1800),
    ("clamped up to the minimum (max-age)", 0, hints(cache_control="max-age=5"), 60),
    ("clamped up to the minimum (observed)", 0, hints(gaps_minutes=(1, 1, 1)), 60),
    ("clamped down to the maximum (ttl of a day)", 0, hints(ttl="1440"), 21600),
    ("clamped down to the maximum (yearly)", 0, hints(period="yearly"), 21600),
    ("explicit per-feed interval ignores hints", 120, hints(ttl="1440", gaps_minutes=(1, 1)), 120),
    ("explicit per-feed interval is not clamped", 10, hints(cache_control="max-age=3600"), 10),
    ("explicit per-feed interval without hints", 45, None, 45),
    ("malformed ttl ignored", 0, hints(ttl="abc"), 300),
    ("malformed ttl ignored, other hints kept", 0, hints(ttl="abc", cache_control="max-age=900"), 900),
    ("negative max-age ignored", 0, hints(cache_control="max-age=-60"), 300),
    ("no-cache / no-store do not poll faster", 0, hints(cache_control="no-cache, no-store"), 300),
    ("max-age=0 does not poll faster", 0, hints(cache_control="max-age=0"), 300),
    ("Expires in the past ignored", 0, hints(expires="Mon, 03 Mar 2025 09:00:00 GMT", date=DATE), 300),
    ("Expires in the past, observed used", 0, hints(expires="0", gaps_minutes=(15, 15)), 900),
    ("unknown updatePeriod ignored", 0, hints(period="fortnightly", frequency="2"), 300),
    ("one dated entry: nothing observed", 0, hints(gaps_minutes=()), 300),
    ("negative hint values ignored", 0, Hints(ttl_seconds=-60.0, observed_seconds=-1.0), 300),
    ("non-finite hint values ignored", 0, Hints(max_age_seconds=math.inf, expires_seconds=math.nan), 300),
]


@pytest.mark.parametrize(("name", "feed_interval", "given", "expected"), CASES, ids=[c[0] for c in CASES])
def test_interval_rule(name: str, feed_interval: int, given: Hints | None, expected: float) -> None:
    assert interval_for(Feed(poll_interval_seconds=feed_interval), POLICY, given) == expected, name


def test_the_default_itself_is_not_clamped() -> None:
    policy = Policy(default_interval_seconds=2, min_interval_seconds=60, max_interval_seconds=3600)
    assert interval_for(Feed(), policy) == 2
    assert interval_for(Feed(), policy, hints(ttl="abc")) == 2
    assert interval_for(Feed(), policy, hints(ttl="1")) == 60


def test_policy_bounds_default_to_the_settings_defaults() -> None:
    from newswatch.settings import Settings

    policy = Policy(default_interval_seconds=300)
    fields = Settings.__dataclass_fields__
    assert policy.min_interval_seconds == fields["poll_interval_min_seconds"].default
    assert policy.max_interval_seconds == fields["poll_interval_max_seconds"].default


async def test_loop_keeps_the_last_hints_through_304_and_failures() -> None:
    """ok(max-age) → 304 → failure → 304 → ok without hints → 304: 0.3 s three times, then the default."""
    metrics = PollerMetrics(CollectorRegistry())
    policy = Policy(
        default_interval_seconds=0.05,
        min_interval_seconds=0.01,
        max_interval_seconds=10,
        backoff_initial_seconds=0.01,
        backoff_max_seconds=0.02,
        jitter_ratio=0.0,
        first_check_max_delay_seconds=0.0,
    )
    script = [
        CheckOutcome(ok=True, hints=Hints(max_age_seconds=0.3)),
        CheckOutcome(ok=True),  # 304: no hints
        CheckOutcome(ok=False, retriable=True),
        CheckOutcome(ok=True),  # 304 again
        CheckOutcome(ok=True, hints=Hints()),  # a new body without any hint
        CheckOutcome(ok=True),
    ]
    calls: list[float] = []
    done = asyncio.Event()

    async def check(feed: Feed) -> CheckOutcome:
        calls.append(time.monotonic())
        if len(calls) == len(script):
            done.set()
        return script[min(len(calls), len(script)) - 1]

    scheduler = Scheduler(check, policy, concurrency=1, metrics=metrics)
    scheduler.upsert(make_feed("https://adaptive.example/feed", feed_id="adaptive"))
    runner = asyncio.create_task(scheduler.run())
    await asyncio.wait_for(done.wait(), 10)
    await scheduler.stop(drain_seconds=1.0)
    await asyncio.wait_for(runner, 2)

    gaps = [b - a for a, b in pairwise(calls)]
    assert gaps[0] >= 0.3 and gaps[1] >= 0.3  # after the max-age, and kept after the 304
    assert gaps[3] >= 0.3  # the 304 after the failure still uses the hinted interval
    assert metrics.interval._sum.get() == pytest.approx(0.3 * 3 + 0.05 * 2)
    count = sum(b.get() for b in metrics.interval._buckets)
    assert count == 5  # observed after each of the five successes, never after the failure


async def test_explicit_interval_set_later_overrides_hints_at_once() -> None:
    metrics = PollerMetrics(CollectorRegistry())
    policy = Policy(default_interval_seconds=0.05, min_interval_seconds=0.01, first_check_max_delay_seconds=0)
    checked = asyncio.Event()

    async def check(feed: Feed) -> CheckOutcome:
        checked.set()
        return CheckOutcome(ok=True, hints=Hints(ttl_seconds=3600))

    scheduler = Scheduler(check, policy, concurrency=1, metrics=metrics)
    feed = make_feed("https://operator.example/feed", feed_id="operator")
    scheduler.upsert(feed)
    runner = asyncio.create_task(scheduler.run())
    await asyncio.wait_for(checked.wait(), 5)
    await asyncio.sleep(0.05)
    checked.clear()
    assert metrics.interval._sum.get() == 3600  # the ttl was obeyed: next check an hour away
    changed = Feed()
    changed.CopyFrom(feed)
    changed.poll_interval_seconds = 1
    scheduler.upsert(changed)
    await asyncio.wait_for(checked.wait(), 3)  # due within the operator's 1 s, not the ttl's hour
    await scheduler.stop(1.0)
    await runner

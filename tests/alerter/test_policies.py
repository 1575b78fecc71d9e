"""Delivery policies: quiet hours, digest, rate limit (table tests and properties)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newswatch.alerter.policies import (
    DIGEST_MAX_WAIT_SECONDS,
    RateLimiter,
    hold_for,
    parse_hhmm,
    quiet_hours_end,
)
from newswatch.v1.subscription_pb2 import Digest, QuietHours, Subscription


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end", "zone", "now", "expected"),
    [
        ("22:00", "07:00", "", "2026-01-10T23:30", "2026-01-11T07:00"),  # spans midnight, evening side
        ("22:00", "07:00", "", "2026-01-10T03:00", "2026-01-10T07:00"),  # spans midnight, morning side
        ("22:00", "07:00", "", "2026-01-10T07:00", None),  # the end is outside
        ("22:00", "07:00", "", "2026-01-10T21:59", None),
        ("09:00", "17:00", "", "2026-01-10T12:00", "2026-01-10T17:00"),
        ("09:00", "17:00", "", "2026-01-10T17:30", None),
        ("22:00", "07:00", "Europe/Paris", "2026-01-10T22:30", "2026-01-11T06:00"),  # 23:30 in Paris (UTC+1)
        ("22:00", "07:00", "Europe/Paris", "2026-01-10T20:30", None),  # 21:30 in Paris
        ("09:00", "09:00", "", "2026-01-10T09:00", None),  # empty window
        ("25:00", "07:00", "", "2026-01-10T03:00", None),  # unparsable: no quiet hours
        ("22:00", "07:00", "Mars/Olympus", "2026-01-10T03:00", None),  # unknown zone: no quiet hours
    ],
)
def test_quiet_hours_end(start: str, end: str, zone: str, now: str, expected: str | None) -> None:
    got = quiet_hours_end(QuietHours(start=start, end=end, timezone=zone), at(now))
    assert got == (at(expected) if expected else None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("00:00", (0, 0)), ("07:05", (7, 5)), (" 07:05 ", (7, 5)), ("7:05", None), ("０７:００", None),
     ("23:59", (23, 59)), ("24:00", None), ("12:60", None), ("12", None),
     ("ab:cd", None), ("12:5", None), ("", None)],
)  # fmt: skip
def test_parse_hhmm(text: str, expected: tuple[int, int] | None) -> None:
    got = parse_hhmm(text)
    assert (got.hour, got.minute) == expected if got else expected is None


@given(st.text(max_size=12))
def test_parse_hhmm_never_raises(text: str) -> None:
    got = parse_hhmm(text)
    assert got is None or (0 <= got.hour < 24 and 0 <= got.minute < 60)


@given(
    st.integers(0, 23), st.integers(0, 59), st.integers(0, 23), st.integers(0, 59),
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)),  # noqa: DTZ001 (hypothesis wants naive bounds)
)  # fmt: skip
def test_quiet_hours_end_is_after_now_and_within_a_day(
    sh: int, sm: int, eh: int, em: int, now: datetime
) -> None:
    quiet = QuietHours(start=f"{sh:02d}:{sm:02d}", end=f"{eh:02d}:{em:02d}")
    moment = now.replace(tzinfo=UTC)
    got = quiet_hours_end(quiet, moment)
    if got is not None:
        assert moment < got and (got - moment).total_seconds() <= 86400


def test_digest_holds_for_its_period_and_not_when_due() -> None:
    limiter = RateLimiter()
    sub = Subscription(subscription_id="s", digest=Digest(every_seconds=300))
    hold = hold_for(sub, 1000.0, limiter)
    assert hold is not None and hold.reason == "digest" and hold.until == 1300.0
    assert hold_for(sub, 1000.0, limiter, digest_due=True) is None
    count_only = Subscription(subscription_id="s", digest=Digest(every_alerts=10))
    held = hold_for(count_only, 0.0, limiter)
    assert held is not None and held.until == DIGEST_MAX_WAIT_SECONDS


def test_quiet_hours_win_over_digest_and_rate_limit() -> None:
    sub = Subscription(
        subscription_id="s",
        digest=Digest(every_seconds=60),
        rate_limit_per_hour=1,
        quiet_hours=QuietHours(start="00:00", end="23:59"),
    )
    hold = hold_for(sub, at("2026-01-10T12:00").timestamp(), RateLimiter())
    assert hold is not None and hold.reason == "quiet_hours"


def test_rate_limit_rolls_over_an_hour() -> None:
    limiter = RateLimiter()
    sub = Subscription(subscription_id="s", rate_limit_per_hour=2)
    for t in (0.0, 10.0):
        assert hold_for(sub, t, limiter) is None
        limiter.record("s", 2, t)
    hold = hold_for(sub, 20.0, limiter)
    assert hold is not None and hold.reason == "rate_limit" and hold.until == 3600.0
    assert hold_for(sub, 3600.0, limiter) is None  # the first delivery left the window


def test_rate_limiter_is_bounded() -> None:
    limiter = RateLimiter(max_subscriptions=2)
    for name in ("a", "b", "c"):
        limiter.record(name, 1, 0.0)
    assert limiter.reopens_at("a", 1, 1.0) is None  # forgotten
    assert limiter.reopens_at("c", 1, 1.0) == 3600.0
    limiter.record("x", 0, 0.0)  # no limit: nothing kept
    assert limiter.reopens_at("x", 0, 0.0) is None

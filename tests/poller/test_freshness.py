"""Freshness hint extractors: named table cases, and "never raises, only None or a positive number"."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newswatch.poller.freshness import (
    Hints,
    expires_seconds,
    max_age_seconds,
    observed_interval_seconds,
    ttl_seconds,
    update_period_seconds,
)

NOW = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
DATE = "Mon, 03 Mar 2025 09:00:00 GMT"  # the response's Date: an hour before NOW


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("minutes to seconds", "45", 2700.0),
        ("surrounding space", " 60 \n", 3600.0),
        ("absent", None, None),
        ("empty", "", None),
        ("not a number", "abc", None),
        ("zero", "0", None),
        ("negative", "-5", None),
        ("fraction", "1.5", None),
        ("non-ASCII digits", "\u0664\u0665", None),
        ("absurdly large is capped", "9" * 400, 2.0**31 * 60),
    ],
)
def test_ttl_seconds(name: str, value: str | None, expected: float | None) -> None:
    assert ttl_seconds(value) == expected, name


@pytest.mark.parametrize(
    ("name", "period", "frequency", "expected"),
    [
        ("hourly", "hourly", None, 3600.0),
        ("hourly, twice", "hourly", "2", 1800.0),
        ("daily, four times", "daily", "4", 21600.0),
        ("weekly", "weekly", "1", 604800.0),
        ("monthly is 30 days", "monthly", None, 2592000.0),
        ("yearly is 365 days", "yearly", None, 31536000.0),
        ("case and space", "  Daily\n", " 2 ", 43200.0),
        ("frequency alone means daily", None, "2", 43200.0),
        ("neither", None, None, None),
        ("blank", " ", " ", None),
        ("unknown period", "fortnightly", "1", None),
        ("malformed frequency counts once", "hourly", "often", 3600.0),
        ("zero frequency counts once", "hourly", "0", 3600.0),
        ("negative frequency counts once", "daily", "-3", 86400.0),
    ],
)
def test_update_period_seconds(
    name: str, period: str | None, frequency: str | None, expected: float | None
) -> None:
    assert update_period_seconds(period, frequency) == expected, name


@pytest.mark.parametrize(
    ("name", "header", "expected"),
    [
        ("max-age", "max-age=600", 600.0),
        ("among directives", "public, max-age=1800, must-revalidate", 1800.0),
        ("case-insensitive name", "Public, MAX-AGE=120", 120.0),
        ("quoted", 'max-age="300"', 300.0),
        ("first max-age wins", "max-age=900, max-age=60", 900.0),
        ("absent", None, None),
        ("no max-age", "public, must-revalidate", None),
        ("no-cache is no hint", "no-cache", None),
        ("no-store is no hint", "no-store, no-cache, must-revalidate", None),
        ("zero", "max-age=0", None),
        ("negative", "max-age=-60", None),
        ("not a number", "max-age=soon", None),
        ("s-maxage is for shared caches", "s-maxage=600", None),
        ("huge is capped at 2^31", "max-age=99999999999999999999", 2.0**31),
    ],
)
def test_max_age_seconds(name: str, header: str | None, expected: float | None) -> None:
    assert max_age_seconds(header) == expected, name


@pytest.mark.parametrize(
    ("name", "expires", "date", "expected"),
    [
        ("relative to Date", "Mon, 03 Mar 2025 10:30:00 GMT", DATE, 5400.0),
        ("relative to now without Date", "Mon, 03 Mar 2025 10:30:00 GMT", None, 1800.0),
        ("invalid Date falls back to now", "Mon, 03 Mar 2025 10:30:00 GMT", "yesterday", 1800.0),
        ("in the past", "Mon, 03 Mar 2025 08:00:00 GMT", DATE, None),
        ("in the past, no Date", "Mon, 03 Mar 2025 09:30:00 GMT", None, None),
        ("equal to Date", DATE, DATE, None),
        ("the classic 0", "0", DATE, None),
        ("-1", "-1", None, None),
        ("absent", None, DATE, None),
        ("garbage", "next week", DATE, None),
    ],
)
def test_expires_seconds(name: str, expires: str | None, date: str | None, expected: float | None) -> None:
    assert expires_seconds(expires, date, NOW) == expected, name


def _at(*minutes: float) -> list[datetime | None]:
    return [NOW - timedelta(minutes=m) for m in minutes]


@pytest.mark.parametrize(
    ("name", "published", "expected"),
    [
        ("median of gaps", _at(0, 10, 30, 60), 1200.0),
        ("order does not matter", _at(60, 0, 30, 10), 1200.0),
        ("even number of gaps: mean of the middle two", _at(0, 10, 30, 60, 100), 1500.0),
        ("undated entries are left out", [None, *_at(0, 60), None], 3600.0),
        ("identical times are not gaps", _at(0, 0, 0, 60, 60, 120), 3600.0),
        ("only the 10 most recent", _at(*range(0, 100, 10), 1000, 2000, 3000), 600.0),
        ("one entry", _at(0), None),
        ("no dated entry", [None, None], None),
        ("nothing", [], None),
        ("all at the same time", _at(5, 5, 5), None),
    ],
)
def test_observed_interval_seconds(
    name: str, published: list[datetime | None], expected: float | None
) -> None:
    assert observed_interval_seconds(published) == expected, name


def test_server_hints_keep_only_positive_finite_values() -> None:
    hints = Hints(
        ttl_seconds=600.0,
        update_period_seconds=-1.0,
        max_age_seconds=math.nan,
        expires_seconds=math.inf,
        observed_seconds=60.0,
    )
    assert hints.server == (600.0,)


def _valid(value: float | None) -> bool:
    return value is None or (math.isfinite(value) and value > 0)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.text(max_size=40)), st.one_of(st.none(), st.text(max_size=40)))
def test_extractors_never_raise_and_give_none_or_a_positive_number(a: str | None, b: str | None) -> None:
    assert _valid(ttl_seconds(a))
    assert _valid(update_period_seconds(a, b))
    assert _valid(max_age_seconds(a))
    assert _valid(expires_seconds(a, b, NOW))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.datetimes(timezones=st.just(UTC))),
        max_size=30,
    )
)
def test_observed_interval_is_none_or_a_gap_between_the_dates(published: list[datetime | None]) -> None:
    result = observed_interval_seconds(published)
    assert _valid(result)
    dated = [d for d in published if d is not None]
    if result is not None:
        assert result <= (max(dated) - min(dated)).total_seconds()

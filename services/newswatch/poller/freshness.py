"""Freshness hints: how often a feed says (or shows) that it changes.

Every function here reads untrusted text (a feed's elements, a server's headers) and never raises: a
missing, malformed, zero, negative or already-past value is "no hint" (None). Values are seconds.

- :func:`ttl_seconds` — RSS 2.0 ``<ttl>``, whole minutes;
- :func:`update_period_seconds` — RSS 1.0 syndication module ``sy:updatePeriod`` (hourly, daily, weekly,
  monthly = 30 days, yearly = 365 days; daily when only a frequency is given) divided by
  ``sy:updateFrequency`` (a positive whole number; 1 when absent or malformed);
- :func:`max_age_seconds` — ``Cache-Control: max-age``. ``no-cache`` / ``no-store`` say nothing about how
  often a feed changes, so they are no hint (and never a reason to poll more often);
- :func:`expires_seconds` — ``Expires`` minus the response's ``Date`` (minus now when there is no valid
  ``Date``);
- :func:`observed_interval_seconds` — median gap between the publication times of the most recent dated
  entries (identical times, typical of batch publishing, are not gaps).

Delta-seconds longer than 2^31 count as 2^31 (RFC 9111 §1.2.2). The scheduler turns a :class:`Hints`
into an interval (see :mod:`newswatch.poller.scheduler`).
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from itertools import pairwise

__all__ = [
    "OBSERVED_SAMPLE",
    "Hints",
    "expires_seconds",
    "max_age_seconds",
    "observed_interval_seconds",
    "positive",
    "ttl_seconds",
    "update_period_seconds",
]

OBSERVED_SAMPLE = 10  # most recent dated entries looked at for the observed frequency
_MAX_DELTA = 2**31
_WHOLE = re.compile(r"[0-9]+")
_PERIODS: dict[str, float] = {
    "hourly": 3600.0,
    "daily": 86400.0,
    "weekly": 7 * 86400.0,
    "monthly": 30 * 86400.0,
    "yearly": 365 * 86400.0,
}


@dataclass(frozen=True, slots=True)
class Hints:
    """What one successful check learned about a feed's pace; each field None when absent."""

    ttl_seconds: float | None = None
    update_period_seconds: float | None = None
    max_age_seconds: float | None = None
    expires_seconds: float | None = None
    observed_seconds: float | None = None
    pushed: bool = False  # a WebSub hub pushes the feed: polling is only the fallback

    @property
    def server(self) -> tuple[float, ...]:
        """The valid hints the publisher gave (ttl, update period, max-age, Expires)."""
        given = (self.ttl_seconds, self.update_period_seconds, self.max_age_seconds, self.expires_seconds)
        return tuple(v for v in map(positive, given) if v is not None)


def positive(value: float | None) -> float | None:
    """``value`` when it is a finite number above zero, else None."""
    if value is None or not math.isfinite(value) or value <= 0:
        return None
    return float(value)


def _whole(text: object) -> int | None:
    """A non-negative whole number written in ASCII digits (surrounding space allowed), capped at 2^31."""
    if not isinstance(text, str):
        return None
    digits = text.strip()
    if not _WHOLE.fullmatch(digits):
        return None
    digits = digits.lstrip("0") or "0"
    return _MAX_DELTA if len(digits) > 10 else min(int(digits), _MAX_DELTA)


def ttl_seconds(value: object) -> float | None:
    """RSS 2.0 ``<ttl>`` (minutes) in seconds."""
    minutes = _whole(value)
    return positive(minutes * 60.0) if minutes is not None else None


def update_period_seconds(period: object, frequency: object) -> float | None:
    """``sy:updatePeriod`` / ``sy:updateFrequency`` in seconds."""
    name = period.strip().lower() if isinstance(period, str) else ""
    has_frequency = isinstance(frequency, str) and bool(frequency.strip())
    if not name and not has_frequency:
        return None
    seconds = _PERIODS.get(name or "daily")
    if seconds is None:
        return None
    times = _whole(frequency) or 1
    return seconds / times


def max_age_seconds(cache_control: str | None) -> float | None:
    """``max-age`` of a Cache-Control header value (several headers joined with commas)."""
    if not cache_control:
        return None
    for directive in cache_control.split(","):
        name, _, value = directive.partition("=")
        if name.strip().lower() == "max-age":
            age = _whole(value.strip().strip('"'))
            return positive(float(age)) if age is not None else None
    return None


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def expires_seconds(expires: str | None, date: str | None, now: datetime) -> float | None:
    """Seconds from the response's ``Date`` (or ``now``) until ``Expires``; None when past or invalid."""
    until = _http_date(expires)
    if until is None:
        return None
    since = _http_date(date) or now
    try:
        return positive(min((until - since).total_seconds(), float(_MAX_DELTA)))
    except OverflowError:
        return None


def observed_interval_seconds(
    published: Iterable[datetime | None], sample: int = OBSERVED_SAMPLE
) -> float | None:
    """Median gap between the ``sample`` most recent (aware) datetimes; None without a positive gap."""
    recent = sorted((d for d in published if d is not None), reverse=True)[:sample]
    gaps = [(a - b).total_seconds() for a, b in pairwise(recent)]
    gaps = [g for g in gaps if g > 0]
    return positive(statistics.median(gaps)) if gaps else None

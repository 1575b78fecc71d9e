"""A subscription's delivery policy: quiet hours, digest mode and rate limit.

:func:`hold_for` decides, for one subscription at one moment, whether an alert is delivered now or held
back, and until when. Held alerts are never dropped: fan-out writes them to the durable schedule
(:mod:`newswatch.alerter.schedule`) and they are delivered together, as one digest, when due.

Rules, checked in this order (the first that applies wins):

1. **Quiet hours** (``quiet_hours.start``/``end`` as ``HH:MM`` in ``quiet_hours.timezone``, UTC when
   empty; ``start > end`` spans midnight; ``start == end`` or an unparsable value = no quiet hours):
   inside them, hold until they end.
2. **Digest** (``digest.every_alerts`` / ``digest.every_seconds``): every alert is held; the digest is due
   ``every_seconds`` after it was held, or at once when ``every_alerts`` are pending (the schedule counts
   them). With ``every_alerts`` alone, a digest waits at most :data:`DIGEST_MAX_WAIT_SECONDS`.
3. **Rate limit** (``rate_limit_per_hour`` > 0): at most that many deliveries (a digest counts as one) in
   any rolling hour; over it, hold until the oldest delivery of the window is an hour old.

When held alerts come due, the schedule asks again with ``digest_due=True`` (the digest rule is then
satisfied) so that quiet hours or the rate limit can still push them back.

The rate-limit window lives in this process's memory (:class:`RateLimiter`, bounded) and is rebuilt at
start-up from the delivery ledger (``newswatch.deliveries.v1``: the deliveries of the last hour, see
:mod:`~newswatch.alerter.ledger`), so a restart does not reset it. Across alerter instances running at
once, each process counts its own deliveries.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from newswatch.v1.subscription_pb2 import QuietHours, Subscription

__all__ = [
    "DIGEST_MAX_WAIT_SECONDS",
    "Hold",
    "RateLimiter",
    "hold_for",
    "parse_hhmm",
    "quiet_hours_end",
]

log = logging.getLogger(__name__)

DIGEST_MAX_WAIT_SECONDS = 86400.0
RATE_WINDOW_SECONDS = 3600.0
DEFAULT_MAX_SUBSCRIPTIONS = 100_000


@dataclass(frozen=True, slots=True)
class Hold:
    """Hold the alert until ``until`` (epoch seconds); ``reason`` is a closed metric label."""

    reason: str  # "quiet_hours" | "digest" | "rate_limit"
    until: float


_HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


def parse_hhmm(text: str) -> clock_time | None:
    """``"22:30"`` -> 22:30 (24 h, two ASCII digits each, surrounding blanks ignored); None for anything
    else. The one reading of ``HH:MM`` — the API's validation and the quiet-hours rule both use it."""
    match = _HHMM.fullmatch(text.strip())
    return clock_time(int(match[1]), int(match[2])) if match is not None else None


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return None


def quiet_hours_end(quiet: QuietHours, now: datetime) -> datetime | None:
    """The end of the quiet period ``now`` falls in (aware UTC), or None when ``now`` is outside it."""
    start, end, zone = parse_hhmm(quiet.start), parse_hhmm(quiet.end), _zone(quiet.timezone)
    if start is None or end is None or zone is None or start == end:
        return None
    local = now.astimezone(zone)
    today = local.time().replace(second=0, microsecond=0, tzinfo=None)
    spans_midnight = start > end
    inside = (start <= today or today < end) if spans_midnight else (start <= today < end)
    if not inside:
        return None
    end_day = local.date()
    if spans_midnight and today >= start:
        end_day += timedelta(days=1)
    ending = datetime.combine(end_day, end, tzinfo=zone)
    return ending.astimezone(UTC)


class RateLimiter:
    """Deliveries per subscription in the last hour, in memory.

    Keeps at most ``limit`` timestamps per subscription and ``max_subscriptions`` subscriptions (the
    least recently used forgotten first).
    """

    def __init__(self, max_subscriptions: int = DEFAULT_MAX_SUBSCRIPTIONS) -> None:
        self._max = max_subscriptions
        self._sent: OrderedDict[str, deque[float]] = OrderedDict()

    def reopens_at(self, subscription_id: str, limit: int, now: float) -> float | None:
        """None when one more delivery fits in the window, else when the next one will."""
        if limit <= 0:
            return None
        sent = self._sent.get(subscription_id)
        if sent is None:
            return None
        while sent and sent[0] <= now - RATE_WINDOW_SECONDS:
            sent.popleft()
        if len(sent) < limit:
            return None
        return sent[-limit] + RATE_WINDOW_SECONDS

    def record(self, subscription_id: str, limit: int, now: float) -> None:
        """Count one delivery at ``now`` (nothing is kept for subscriptions without a limit)."""
        if limit <= 0:
            return
        sent = self._sent.get(subscription_id)
        if sent is None:
            sent = self._sent[subscription_id] = deque(maxlen=limit)
        self._sent.move_to_end(subscription_id)
        sent.append(now)
        while len(self._sent) > self._max:
            self._sent.popitem(last=False)


def hold_for(sub: Subscription, now: float, limiter: RateLimiter, *, digest_due: bool = False) -> Hold | None:
    """Whether an alert for ``sub`` is held at ``now`` (epoch seconds), see the module docstring."""
    if sub.HasField("quiet_hours"):
        ending = quiet_hours_end(sub.quiet_hours, datetime.fromtimestamp(now, UTC))
        if ending is not None:
            return Hold("quiet_hours", ending.timestamp())
    digest = sub.digest
    if not digest_due and (digest.every_alerts > 0 or digest.every_seconds > 0):
        wait = float(digest.every_seconds) if digest.every_seconds > 0 else DIGEST_MAX_WAIT_SECONDS
        return Hold("digest", now + wait)
    reopens = limiter.reopens_at(sub.subscription_id, sub.rate_limit_per_hour, now)
    if reopens is not None:
        return Hold("rate_limit", reopens)
    return None

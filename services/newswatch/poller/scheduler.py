"""When each feed is checked: pure timing rules plus the loop that applies them.

Rules (pure functions, table-tested with a fake clock and a seeded random source):

- first check soon after a feed appears: ``now + U(0, first_check_max_delay_seconds)``;
- after a success (new body or 304): ``interval ± jitter_ratio``, the interval chosen by
  :func:`interval_for`:

  1. the feed's own ``poll_interval_seconds`` when set (an operator's choice): used as is, hints ignored;
  2. otherwise, while a WebSub hub pushes the feed (``Hints.pushed``), ``max_interval_seconds``: polling
     is then only the fallback that catches what a silent hub missed;
  3. otherwise, when the last successful check brought hints (:class:`~newswatch.poller.freshness.Hints`):
     the LARGEST server hint — ``<ttl>``, ``sy:updatePeriod``/``sy:updateFrequency``,
     ``Cache-Control: max-age``, ``Expires`` (a server asking us to come back later is obeyed); with no
     server hint, the observed entry frequency (median gap of the latest dated entries); the choice is
     clamped to ``[min_interval_seconds, max_interval_seconds]``;
  4. otherwise (no usable hint) the default interval, NOT clamped.

  Hints that are not finite positive numbers are ignored. A check that brings no hints (304 Not Modified,
  a failure) keeps the hints of the last one that did, hence the last computed interval;
- after the n-th consecutive failure: ``min(backoff_max, backoff_initial · 2^(n-1))`` scaled by
  ``U(0.5, 1)`` (never below ``backoff_initial / 2``); a non-retriable failure waits at least one
  interval; a feed is never dropped however often it fails;
- a Retry-After from the server is honoured (clamped to ``retry_after_max_seconds``): the next check is
  never earlier than it;
- health: ``ok`` after a success, ``degraded`` after 1 .. failing_after-1 failures, then ``failing``;
- freshness: a feed is stale when its last successful check (or, before any, its scheduling) is more than
  :data:`STALE_AFTER_INTERVALS` of its intervals ago; the scheduler reports the stale feeds and the age of
  the least recent success in ``newswatch_poller_stale_feeds`` and
  ``newswatch_poller_oldest_success_age_seconds``, computed when the metrics are read;
- our own outage (:mod:`~newswatch.poller.outage`, when a detector is given): while the poller is offline,
  a network-level failure (connection error, timeout) is not counted — the feed's failure count and
  health stay as they were and it is retried after ``OutageRule.retry_seconds``. When the poller turns
  offline, the network-level failures counted in the rule's window just before (the first checks of the
  outage) are taken back too, and those feeds are retried at the same short interval. A health record
  already written for them stays on the feeds topic until their next counted check.

After each check (failure count and next due time already updated) the optional ``after_check`` callback
gets the feed and a :class:`CheckReport`; it runs inside the check's task, so it counts against the
concurrency limit and the feed is not checked again before it returns. It must not raise (it is logged).

:class:`Scheduler` runs at most ``concurrency`` checks at once (no queue: due feeds simply wait their
turn), re-arms a feed only after its check ends, and picks up catalogue changes between checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from newswatch.poller.freshness import Hints, positive
from newswatch.poller.metrics import FEED_STATES, PollerMetrics
from newswatch.poller.outage import NETWORK_ERRORS, OutageDetector
from newswatch.v1.feed_pb2 import Feed

__all__ = [
    "STALE_AFTER_INTERVALS",
    "CheckOutcome",
    "CheckReport",
    "Clock",
    "Hints",
    "Policy",
    "Scheduler",
    "after_failure",
    "after_success",
    "backoff_delay",
    "first_check_at",
    "health_state",
    "interval_for",
]

log = logging.getLogger(__name__)

STALE_AFTER_INTERVALS = 3.0  # a feed is stale after this many of its intervals without a success


class Clock(Protocol):
    def __call__(self) -> float:
        """Monotonic seconds."""


class Random(Protocol):
    def uniform(self, a: float, b: float) -> float: ...


@dataclass(frozen=True, slots=True)
class Policy:
    default_interval_seconds: float
    backoff_initial_seconds: float = 60.0
    backoff_max_seconds: float = 3600.0
    retry_after_max_seconds: float = 86400.0
    jitter_ratio: float = 0.1
    first_check_max_delay_seconds: float = 5.0
    failing_after: int = 3
    min_interval_seconds: float = 60.0  # clamps an interval chosen from hints, not the default
    max_interval_seconds: float = 21600.0


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """What one check of a feed came to, as the scheduler needs it."""

    ok: bool
    retriable: bool = True
    retry_after_seconds: float | None = None
    hints: Hints | None = None  # None: keep the previous hints (304, failure)
    error_kind: str = ""  # failures: the fetch outcome or parse error reason ("timeout", "http_error", ...)
    error: str = ""  # failures: a short description, without secrets
    moved_to: str | None = None  # successes: the URL every redirect permanently moved the feed to


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What the scheduler made of one check (see ``after_check`` in the module docstring)."""

    outcome: CheckOutcome
    failures: int  # consecutive failures counted so far (0 after a success)
    state: str  # health_state(failures)
    next_check_in_seconds: float
    counted: bool = True  # False: a network-level failure blamed on our own outage, not on the feed


def interval_for(feed: Feed, policy: Policy, hints: Hints | None = None) -> float:
    """Seconds between two successful checks of ``feed`` (before jitter); the rule of the module doc."""
    if feed.poll_interval_seconds:
        return float(feed.poll_interval_seconds)
    if hints is None:
        return policy.default_interval_seconds
    if hints.pushed:
        return policy.max_interval_seconds
    server = hints.server
    chosen = max(server) if server else positive(hints.observed_seconds)
    if chosen is None:
        return policy.default_interval_seconds
    return min(max(chosen, policy.min_interval_seconds), policy.max_interval_seconds)


def first_check_at(now: float, policy: Policy, rng: Random) -> float:
    return now + rng.uniform(0.0, policy.first_check_max_delay_seconds)


def after_success(now: float, interval: float, policy: Policy, rng: Random) -> float:
    return now + interval * (1.0 + rng.uniform(-policy.jitter_ratio, policy.jitter_ratio))


def backoff_delay(failures: int, policy: Policy, rng: Random) -> float:
    """Delay after ``failures`` (>= 1) consecutive failures, before Retry-After and interval rules."""
    exponent = min(max(failures, 1) - 1, 62)
    ceiling = min(policy.backoff_max_seconds, policy.backoff_initial_seconds * 2.0**exponent)
    return ceiling * rng.uniform(0.5, 1.0)


def after_failure(
    now: float, failures: int, interval: float, outcome: CheckOutcome, policy: Policy, rng: Random
) -> float:
    delay = backoff_delay(failures, policy, rng)
    if not outcome.retriable:
        delay = max(delay, interval)
    if outcome.retry_after_seconds is not None:
        delay = max(delay, min(outcome.retry_after_seconds, policy.retry_after_max_seconds))
    return now + delay


def health_state(consecutive_failures: int, policy: Policy) -> str:
    if consecutive_failures <= 0:
        return "ok"
    return "failing" if consecutive_failures >= policy.failing_after else "degraded"


@dataclass(slots=True)
class _Slot:
    feed: Feed
    due: float
    failures: int = 0
    running: bool = False
    removed: bool = field(default=False)
    hints: Hints | None = None  # of the last check that brought any
    network_failures_at: list[float] = field(default_factory=list)  # counted since the last success
    last_success: float = 0.0  # clock time of the last successful check (of scheduling before any)


class Scheduler:
    """Runs ``check(feed)`` for every scheduled feed when due. ``check`` must not raise (it is logged)."""

    def __init__(
        self,
        check: Callable[[Feed], Awaitable[CheckOutcome]],
        policy: Policy,
        concurrency: int,
        metrics: PollerMetrics,
        clock: Clock = time.monotonic,
        rng: Random | None = None,
        *,
        outage: OutageDetector | None = None,
        after_check: Callable[[Feed, CheckReport], Awaitable[None]] | None = None,
    ) -> None:
        self._check = check
        self._outage = outage
        self._after_check = after_check
        self._policy = policy
        self._concurrency = max(1, concurrency)
        self._metrics = metrics
        self._clock = clock
        self._rng: Random = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._slots: dict[str, _Slot] = {}
        self._inflight: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        metrics.oldest_success_age.set_function(self.oldest_success_age)
        metrics.stale_feeds.set_function(self.stale_feeds)

    # catalogue changes -------------------------------------------------------------------------
    def upsert(self, feed: Feed) -> None:
        """Schedule ``feed`` (new: first check soon; known: keep its timing). Disabled = removed."""
        if not feed.enabled:
            self.remove(feed.feed_id)
            return
        slot = self._slots.get(feed.feed_id)
        if slot is None:
            now = self._clock()
            self._slots[feed.feed_id] = _Slot(
                feed, first_check_at(now, self._policy, self._rng), last_success=now
            )
        else:
            if feed.poll_interval_seconds != slot.feed.poll_interval_seconds and not slot.running:
                slot.due = min(slot.due, self._clock() + interval_for(feed, self._policy, slot.hints))
            slot.feed = feed
        self._update_gauge()
        self._wake.set()

    def remove(self, feed_id: str) -> None:
        slot = self._slots.pop(feed_id, None)
        if slot is not None:
            slot.removed = True
            self._update_gauge()
            self._wake.set()

    @property
    def feed_ids(self) -> frozenset[str]:
        return frozenset(self._slots)

    def state_of(self, feed_id: str) -> str | None:
        slot = self._slots.get(feed_id)
        return health_state(slot.failures, self._policy) if slot else None

    def failures_of(self, feed_id: str) -> int | None:
        """Consecutive failures counted for a scheduled feed (None when not scheduled)."""
        slot = self._slots.get(feed_id)
        return slot.failures if slot else None

    def oldest_success_age(self) -> float:
        """Seconds since the least recent successful check of a scheduled feed; 0 without feeds."""
        if not self._slots:
            return 0.0
        return max(0.0, self._clock() - min(s.last_success for s in self._slots.values()))

    def stale_feeds(self) -> int:
        """Scheduled feeds without a successful check for :data:`STALE_AFTER_INTERVALS` intervals."""
        now = self._clock()
        return sum(
            1
            for s in self._slots.values()
            if now - s.last_success > STALE_AFTER_INTERVALS * interval_for(s.feed, self._policy, s.hints)
        )

    # the loop ----------------------------------------------------------------------------------
    async def run(self) -> None:
        """Dispatch due checks until :meth:`stop`. Returns after stop() is called."""
        while not self._stopping:
            now = self._clock()
            waiting = [s for s in self._slots.values() if not s.running]
            waiting.sort(key=lambda s: s.due)
            for slot in waiting:
                if slot.due > now or len(self._inflight) >= self._concurrency:
                    break
                self._dispatch(slot, now)
            pending_due = [s.due for s in self._slots.values() if not s.running]
            timeout = None
            if pending_due and len(self._inflight) < self._concurrency:
                timeout = max(0.0, min(pending_due) - self._clock())
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _dispatch(self, slot: _Slot, now: float) -> None:
        slot.running = True
        self._metrics.scheduler_lag.observe(max(0.0, now - slot.due))
        task = asyncio.create_task(self._run_check(slot), name=f"check-{slot.feed.feed_id}")
        self._inflight.add(task)
        self._metrics.checks_in_flight.set(len(self._inflight))
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._metrics.checks_in_flight.set(len(self._inflight))
        self._wake.set()

    async def _run_check(self, slot: _Slot) -> None:
        try:
            try:
                outcome = await self._check(slot.feed)
            except Exception:
                log.exception("feed check failed unexpectedly", extra={"feed_id": slot.feed.feed_id})
                outcome = CheckOutcome(ok=False, retriable=True, error_kind="internal")
            report = self._settle(slot, outcome)
            if not slot.removed:
                self._update_gauge()
                if self._after_check is not None:
                    try:
                        await self._after_check(slot.feed, report)
                    except Exception:
                        log.exception("after-check step failed", extra={"feed_id": slot.feed.feed_id})
        finally:
            slot.running = False

    def _settle(self, slot: _Slot, outcome: CheckOutcome) -> CheckReport:
        """Apply one outcome to the slot (failures, hints, due time) and describe the result."""
        now = self._clock()
        if outcome.ok and outcome.hints is not None:
            slot.hints = outcome.hints
        interval = interval_for(slot.feed, self._policy, slot.hints)
        network = not outcome.ok and outcome.error_kind in NETWORK_ERRORS
        offline = False
        if self._outage is not None:
            was_offline = self._outage.offline
            offline = self._outage.record(slot.feed.url, "" if outcome.ok else outcome.error_kind, now)
            if offline and not was_offline:
                self._forgive_recent(now)
        counted = True
        if outcome.ok:
            slot.failures = 0
            slot.last_success = now
            slot.network_failures_at.clear()
            slot.due = after_success(now, interval, self._policy, self._rng)
            self._metrics.interval.observe(interval)
        elif network and offline and self._outage is not None:
            counted = False
            slot.due = now + self._outage.rule.retry_seconds
        else:
            slot.failures += 1
            if network:
                slot.network_failures_at.append(now)
                del slot.network_failures_at[: -self._policy.failing_after - 1]  # bounded
            slot.due = after_failure(now, slot.failures, interval, outcome, self._policy, self._rng)
        state = health_state(slot.failures, self._policy)
        return CheckReport(outcome, slot.failures, state, max(0.0, slot.due - now), counted)

    def _forgive_recent(self, now: float) -> None:
        """The poller just turned offline: take back the network failures of the outage's first checks."""
        assert self._outage is not None
        rule = self._outage.rule
        forgiven = 0
        for slot in self._slots.values():
            recent = sum(1 for at in slot.network_failures_at if now - at <= rule.window_seconds)
            slot.network_failures_at.clear()
            if recent:
                forgiven += 1
                slot.failures = max(0, slot.failures - recent)
                slot.due = min(slot.due, now + rule.retry_seconds)
        if forgiven:
            log.info("failures taken back: counted before the outage was noticed", extra={"feeds": forgiven})
            self._update_gauge()

    def _update_gauge(self) -> None:
        counts = dict.fromkeys(FEED_STATES, 0)
        for slot in self._slots.values():
            counts[health_state(slot.failures, self._policy)] += 1
        for state, count in counts.items():
            self._metrics.feeds.labels(state=state).set(count)

    async def stop(self, drain_seconds: float) -> None:
        """Stop dispatching; let running checks finish within ``drain_seconds``, then cancel them."""
        self._stopping = True
        self._wake.set()
        if not self._inflight:
            return
        _, pending = await asyncio.wait(set(self._inflight), timeout=drain_seconds)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("checks cancelled at shutdown", extra={"checks_cancelled": len(pending)})
            await asyncio.gather(*pending, return_exceptions=True)

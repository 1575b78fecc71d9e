"""Per-feed health on ``newswatch.feeds.v1``: the poller writes each feed's ``Feed.health`` back.

When (:func:`should_publish`, pure, table-tested): after a check whose outcome changes the feed's health
state (ok / degraded / failing) as last written by this poller, after the first check this poller makes
of a feed, and otherwise at most every :data:`HEALTH_REFRESH_SECONDS` — so ``last_success_at`` and
``next_check_at`` stay fresh without flooding the compacted topic. A failure blamed on our own outage
(:mod:`~newswatch.poller.outage`; ``CheckReport.counted`` False) writes nothing: the feed's health is
left as it was.

What: ``state``; ``last_error`` (``"<kind>: <message>"``, at most :data:`ERROR_MAX_CHARS`, URLs reduced
to scheme, host and path — no credentials, query or fragment — and cleared by a success);
``last_success_at`` (carried over from the record on the topic when this poller starts);
``last_attempt_at``; ``next_check_at``; ``consecutive_failures``.

How (read-modify-write): just before writing, the latest ``Feed`` is taken from the poller's catalogue
view (``latest``) and only ``health`` is replaced (plus ``url`` after a permanent redirect, see
:meth:`HealthReporter.after_check`), so a user's edit of the title or interval that the view has seen
is kept. A feed missing from the view (removed: tombstone) is never written, so a health write cannot
re-create it. Remaining race: an edit or removal that reaches Kafka after the view was read and before
this write lands (a few milliseconds, or longer when the view lags) is overwritten by the older copy;
the user's next edit, or the next health write after the view caught up, does not bring it back.
Pollers ignore records that differ from their copy only in ``health``
(:func:`digest_without_health`), so these writes neither reschedule feeds nor loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from google.protobuf.timestamp_pb2 import Timestamp

from newswatch.poller.metrics import PollerMetrics
from newswatch.poller.scheduler import CheckReport, Clock
from newswatch.v1.feed_pb2 import (
    FEED_STATE_DEGRADED,
    FEED_STATE_FAILING,
    FEED_STATE_OK,
    Feed,
    FeedState,
)

__all__ = [
    "ERROR_MAX_CHARS",
    "HEALTH_REFRESH_SECONDS",
    "WRITE_TIMEOUT_SECONDS",
    "HealthReporter",
    "Published",
    "digest_without_health",
    "redact_url",
    "short_error",
    "should_publish",
]

log = logging.getLogger(__name__)

HEALTH_REFRESH_SECONDS = 600.0
"""An unchanged health state is written again at most this often (keeps the timestamps fresh)."""
ERROR_MAX_CHARS = 200
WRITE_TIMEOUT_SECONDS = 10.0
"""A write not acknowledged within this is counted as failed (the next check tries again)."""

STATES: dict[str, FeedState.ValueType] = {
    "ok": FEED_STATE_OK,
    "degraded": FEED_STATE_DEGRADED,
    "failing": FEED_STATE_FAILING,
}
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


@dataclass(frozen=True, slots=True)
class Published:
    """The health state this poller last wrote for a feed, and when (monotonic seconds)."""

    state: str
    at: float


def should_publish(
    last: Published | None, state: str, now: float, refresh_seconds: float = HEALTH_REFRESH_SECONDS
) -> bool:
    """Write the health now? Yes when nothing was written yet, the state changed, or the last write is
    ``refresh_seconds`` old."""
    return last is None or state != last.state or now - last.at >= refresh_seconds


def redact_url(url: str) -> str:
    """``scheme://host[:port]/path`` of ``url``: no credentials, query or fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<url>"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def short_error(text: str) -> str:
    """A one-line error for the feeds topic: URLs redacted, whitespace collapsed, at most ERROR_MAX_CHARS."""

    def redact(match: re.Match[str]) -> str:
        url = match.group(0)
        trail = url[len(url.rstrip(".,;:)]")) :]  # punctuation after the URL stays
        return redact_url(url[: len(url) - len(trail)]) + trail

    line = " ".join(_URL.sub(redact, text).split())
    return line if len(line) <= ERROR_MAX_CHARS else line[: ERROR_MAX_CHARS - 1] + "…"


def digest_without_health(feed: Feed) -> bytes:
    """SHA-256 of the record without ``health``: equal digests = the records differ at most in health."""
    copy = Feed()
    copy.CopyFrom(feed)
    copy.ClearField("health")
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).digest()


def _timestamp(when: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(when)
    return ts


@dataclass(slots=True)
class _Memory:
    last_success_at: Timestamp | None = None
    last_error: str = ""
    published: Published | None = None


class HealthReporter:
    """Decides and writes each feed's health (module docstring). One event loop; not thread-safe.

    ``latest(feed_id)`` returns the catalogue's current record (None: removed); ``send(feed)`` writes a
    record and returns once Kafka acknowledged it (raises on failure). Failed writes are logged and
    counted; the next check tries again.
    """

    def __init__(
        self,
        latest: Callable[[str], Feed | None],
        send: Callable[[Feed], Awaitable[None]],
        metrics: PollerMetrics,
        *,
        clock: Clock = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        refresh_seconds: float = HEALTH_REFRESH_SECONDS,
    ) -> None:
        self._latest = latest
        self._send = send
        self._metrics = metrics
        self._clock = clock
        self._wall = wall
        self._refresh = refresh_seconds
        self._memory: dict[str, _Memory] = {}

    def forget(self, feed_id: str) -> None:
        self._memory.pop(feed_id, None)

    def _remember(self, feed: Feed) -> _Memory:
        memory = self._memory.get(feed.feed_id)
        if memory is None:
            memory = self._memory[feed.feed_id] = _Memory()
            stored = self._latest(feed.feed_id) or feed
            if stored.health.HasField("last_success_at"):
                memory.last_success_at = stored.health.last_success_at
            memory.last_error = stored.health.last_error
        return memory

    async def after_check(self, feed: Feed, report: CheckReport, moved_to: str | None = None) -> None:
        """Record one check of ``feed`` (the record it was checked with) and write what changed.

        ``moved_to``: a validated URL the feed permanently moved to; it is written (same feed_id) when
        the stored record still has the URL that was fetched — a URL the user changed meanwhile wins.
        """
        if not report.counted:
            return
        memory = self._remember(feed)
        wall_now = self._wall()
        if report.outcome.ok:
            memory.last_success_at = _timestamp(wall_now)
            memory.last_error = ""
        else:
            kind = report.outcome.error_kind or "error"
            memory.last_error = short_error(f"{kind}: {report.outcome.error or 'check failed'}")
        now = self._clock()
        publish = should_publish(memory.published, report.state, now, self._refresh)
        if not publish and moved_to is None:
            return
        stored = self._latest(feed.feed_id)
        if stored is None:
            log.debug("feed removed; no health write", extra={"feed_id": feed.feed_id})
            return
        new_url = moved_to if moved_to and stored.url == feed.url and moved_to != stored.url else None
        if not publish and new_url is None:
            return
        record = Feed()
        record.CopyFrom(stored)
        health = record.health
        health.Clear()
        health.state = STATES[report.state]
        health.last_error = memory.last_error
        if memory.last_success_at is not None:
            health.last_success_at.CopyFrom(memory.last_success_at)
        health.last_attempt_at.CopyFrom(_timestamp(wall_now))
        next_at = wall_now + timedelta(seconds=report.next_check_in_seconds)
        health.next_check_at.CopyFrom(_timestamp(next_at))
        health.consecutive_failures = report.failures
        if new_url is not None:
            record.url = new_url
        reason = "redirect" if new_url is not None else "health"
        try:
            await asyncio.wait_for(self._send(record), WRITE_TIMEOUT_SECONDS)
        except Exception as exc:  # noqa: BLE001 - a Kafka or timeout failure: logged, counted, retried later
            self._metrics.feed_writes.labels(reason=reason, outcome="failed").inc()
            log.warning(
                "feed record not written back",
                extra={"feed_id": feed.feed_id, "reason": reason, "error": repr(exc)},
            )
            return
        self._metrics.feed_writes.labels(reason=reason, outcome="ok").inc()
        memory.published = Published(report.state, now)
        if new_url is not None:
            log.info(
                "feed moved permanently; URL updated",
                extra={
                    "feed_id": feed.feed_id,
                    "old_url": redact_url(stored.url),
                    "new_url": redact_url(new_url),
                },
            )

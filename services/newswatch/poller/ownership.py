"""Which feeds of the catalogue this poller checks, kept in step with the catalogue and the assignment.

A feed is *owned* when it is enabled, accepted by the service's ``feed_filter`` and its key maps to a
partition assigned to this poller (:func:`~newswatch.poller.assignment.partition_for`). :class:`FeedOwnership`
receives both streams of changes — catalogue records (:meth:`FeedOwnership.feed_changed`) and partition
assignments (:meth:`FeedOwnership.assignment_changed`) — and makes the target's scheduled feeds equal to
the owned ones. Until the first assignment nothing is owned.

A feed that leaves the catalogue (tombstone, disabled, filtered out) is also *forgotten* (validators,
body hash, published ids). A feed that only moved to another poller is kept in memory: if its partition
comes back, its articles already published by this process are not published again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from newswatch.poller.assignment import partition_for
from newswatch.v1.feed_pb2 import Feed

__all__ = ["FeedOwnership", "ScheduleTarget"]

log = logging.getLogger(__name__)


class ScheduleTarget(Protocol):
    """What :class:`FeedOwnership` drives (the :class:`~newswatch.poller.scheduler.Scheduler`)."""

    @property
    def feed_ids(self) -> frozenset[str]: ...

    def upsert(self, feed: Feed) -> None:
        """Schedule ``feed`` or update the scheduled copy. Must not block."""

    def remove(self, feed_id: str) -> None:
        """Stop scheduling ``feed_id`` (a check in flight may finish). Must not block."""


class FeedOwnership:
    """Schedules exactly the owned feeds on ``target``; ``forget`` is called for feeds that left the
    catalogue. Not thread-safe; call from the event loop."""

    def __init__(
        self,
        target: ScheduleTarget,
        feed_filter: Callable[[Feed], bool],
        forget: Callable[[str], None],
    ) -> None:
        self._target = target
        self._filter = feed_filter
        self._forget = forget
        self._feeds: dict[str, Feed] = {}
        self._assigned: frozenset[int] = frozenset()
        self._partition_count = 0

    def owns(self, feed: Feed) -> bool:
        if not feed.enabled or self._partition_count < 1 or not self._assigned:
            return False
        if partition_for(feed.feed_id, self._partition_count) not in self._assigned:
            return False
        return self._filter(feed)

    def feed_changed(self, feed_id: str, feed: Feed | None) -> None:
        """A catalogue record: the feed's latest version, or None when it was removed."""
        if feed is None or not feed.enabled or not self._filter(feed):
            self._feeds.pop(feed_id, None)
            if feed_id in self._target.feed_ids:
                self._target.remove(feed_id)
                log.info("feed unscheduled", extra={"feed_id": feed_id, "reason": "removed"})
            self._forget(feed_id)  # also when it was last checked before its partition moved away
            return
        self._feeds[feed_id] = feed
        if self.owns(feed):
            self._schedule(feed)
        elif feed_id in self._target.feed_ids:
            self._unschedule(feed_id)  # defensive: a feed's id does not change partition

    def assignment_changed(self, assigned: frozenset[int], partition_count: int) -> None:
        """A new assignment from the group: schedule the feeds gained, unschedule those lost."""
        self._assigned, self._partition_count = assigned, partition_count
        gained = lost = 0
        for feed_id, feed in self._feeds.items():
            scheduled = feed_id in self._target.feed_ids
            if self.owns(feed) and not scheduled:
                self._schedule(feed)
                gained += 1
            elif scheduled and not self.owns(feed):
                self._unschedule(feed_id)
                lost += 1
        log.info(
            "feeds reassigned",
            extra={
                "partitions": sorted(assigned),
                "feeds_gained": gained,
                "feeds_lost": lost,
                "feeds": len(self._target.feed_ids),
            },
        )

    def _schedule(self, feed: Feed) -> None:
        new = feed.feed_id not in self._target.feed_ids
        self._target.upsert(feed)
        if new:
            log.info("feed scheduled", extra={"feed_id": feed.feed_id})

    def _unschedule(self, feed_id: str) -> None:
        """The feed's partition went to another poller; its memory is kept."""
        self._target.remove(feed_id)
        log.info("feed unscheduled", extra={"feed_id": feed_id, "reason": "not_assigned"})

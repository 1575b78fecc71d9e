"""Which partitions of ``newswatch.feeds.v1`` this poller owns: membership of the pollers' consumer group.

Pollers share the feeds by partition. Every poller joins the consumer group ``settings.poller_group_id``
on the feeds topic and Kafka assigns each partition to exactly one member; a feed belongs to the
partition its key maps to (:func:`partition_for`, the producer's default murmur2 partitioner). A single
poller (``run all``) gets every partition.

:class:`FeedAssignment` uses its consumer *only* to learn the assignment. The catalogue itself is read
by a separate group-less :class:`~newswatch.kafka.CompactedView` (a poller needs the data of every feed of
its partitions from offset 0, which a group consumer with committed offsets would not give). So the
group consumer pauses every partition it is given and keeps calling ``getmany`` — which returns nothing
but keeps the member "polling" (aiokafka leaves the group after ``max.poll.interval`` without a call) —
and it commits nothing: the group has no offsets to keep.

Rebalances are eager: Kafka revokes everything, then assigns. A revocation does not drop the partitions
at once — the usual outcome is getting most of them back a few seconds later, and dropping them would
throw away every feed's schedule and memory. The old assignment stays until the new one arrives, or
until :data:`RELEASE_AFTER_SECONDS` pass without one (the member was likely expelled and others have
taken over); meanwhile a feed may be checked by two pollers, which is harmless (article ids are
stable). ``stop()`` leaves the group at once so the other members take over within one rebalance; a
killed poller's partitions move after the session timeout (:data:`SESSION_TIMEOUT_MS`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from newswatch import kafka
from newswatch.lifecycle import close_component
from newswatch.poller.metrics import PollerMetrics
from newswatch.settings import Settings
from newswatch.topics import FEEDS

__all__ = [
    "FIRST_ASSIGNMENT_WAIT_SECONDS",
    "HEARTBEAT_INTERVAL_MS",
    "RELEASE_AFTER_SECONDS",
    "SESSION_TIMEOUT_MS",
    "AssignmentListener",
    "FeedAssignment",
    "partition_for",
]

log = logging.getLogger(__name__)

SESSION_TIMEOUT_MS = 10_000
"""A poller that stops heart-beating (killed, frozen) loses its partitions after this long."""
HEARTBEAT_INTERVAL_MS = 3_000
"""How often a member tells the coordinator it is alive; a rebalance reaches members this fast."""
RELEASE_AFTER_SECONDS = 2 * SESSION_TIMEOUT_MS / 1000
"""Revoked partitions are dropped when no new assignment arrives within this time."""

FIRST_ASSIGNMENT_WAIT_SECONDS = 30.0
"""How long a starting poller waits to join its group before it carries on (not ready)."""

AssignmentListener = Callable[[frozenset[int], int], None]
"""Called with (assigned partitions, partition count of the feeds topic) when the assignment changes."""


def partition_for(feed_id: str, partitions: int) -> int:
    """The partition of ``newswatch.feeds.v1`` (with ``partitions`` partitions) that holds ``feed_id``.

    Same result as the producer's default partitioner for the UTF-8 key (``kafka.publish`` encodes keys
    that way). Raises ValueError when ``partitions`` < 1.
    """
    if partitions < 1:
        raise ValueError(f"a topic has at least one partition, got {partitions}")
    return kafka.key_partition(feed_id.encode("utf-8"), range(partitions))


class FeedAssignment(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    """This poller's share of the feeds topic, kept current by the consumer group.

    ``assigned`` is the set of partitions owned now; ``partition_count`` is the topic's partition count
    (0 until the first assignment). ``on_change`` runs in the event loop whenever either changes; it
    must not block. ``start()`` returns once the consumer runs (the first assignment arrives a few
    seconds later: ``joined`` turns True). ``stop()`` leaves the group; it is idempotent and does not
    call ``on_change``.
    """

    def __init__(self, settings: Settings, metrics: PollerMetrics, on_change: AssignmentListener) -> None:
        self._settings = settings
        self._metrics = metrics
        self._on_change = on_change
        self._assigned: frozenset[int] = frozenset()
        self._partition_count = 0
        self._joined = False
        self._first = asyncio.Event()
        self._release: asyncio.TimerHandle | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    @property
    def assigned(self) -> frozenset[int]:
        return self._assigned

    @property
    def partition_count(self) -> int:
        return self._partition_count

    @property
    def joined(self) -> bool:
        """True while this member holds an assignment from the group (possibly empty: a standby)."""
        return self._joined and not self._stopped

    async def wait_joined(self, timeout_seconds: float) -> bool:
        """Wait for the first assignment; False when none arrived within ``timeout_seconds``."""
        try:
            await asyncio.wait_for(self._first.wait(), timeout_seconds)
        except TimeoutError:
            return False
        return True

    async def start(self) -> None:
        consumer = kafka.make_consumer(
            self._settings,
            "poller-group",
            group_id=self._settings.poller_group_id,
            auto_offset_reset="latest",
            session_timeout_ms=SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
        )
        consumer.subscribe(topics=[FEEDS.name], listener=self)
        self._consumer = consumer  # before start(): the first assignment may arrive while it runs
        try:
            await consumer.start()
        except BaseException:
            self._consumer = None
            await consumer.stop()
            raise
        self._task = asyncio.create_task(self._poll(consumer), name="poller-group")

    async def _poll(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            try:
                await consumer.getmany(timeout_ms=1000)  # partitions are paused: keeps membership alive
            except KafkaError as exc:
                log.warning("poller group consumer error", extra={"error": repr(exc)})
                await asyncio.sleep(1.0)

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._cancel_release()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            # sends LeaveGroup: the others rebalance at once
            await close_component("assignment consumer", self._consumer.stop())
        self._assigned = frozenset()
        self._metrics.assigned_partitions.set(0)

    # ConsumerRebalanceListener: aiokafka calls these in its coordination task.

    def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        if self._stopped or not self._assigned or self._release is not None:
            return
        loop = asyncio.get_running_loop()
        self._release = loop.call_later(RELEASE_AFTER_SECONDS, self.release)

    def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        tps = [tp for tp in assigned if tp.topic == FEEDS.name]
        if self._consumer is not None:
            self._consumer.pause(*tps)
            count = len(self._consumer.partitions_for_topic(FEEDS.name) or ())
        else:
            count = self._partition_count
        self.apply(frozenset(tp.partition for tp in tps), count)

    def apply(self, assigned: frozenset[int], partition_count: int) -> None:
        """Record an assignment received from the group (also the seam for unit tests)."""
        if self._stopped:
            return
        self._cancel_release()
        self._joined = True
        self._first.set()
        self._metrics.rebalances.inc()
        self._metrics.assigned_partitions.set(len(assigned))
        changed = assigned != self._assigned or partition_count != self._partition_count
        log.info(
            "feed partitions assigned",
            extra={"partitions": sorted(assigned), "partition_count": partition_count, "changed": changed},
        )
        self._assigned, self._partition_count = assigned, partition_count
        if changed:
            self._on_change(assigned, partition_count)

    def release(self) -> None:
        """Drop the assignment: no new one arrived in time after a revocation."""
        self._release = None
        if self._stopped or not self._joined:
            return
        log.warning(
            "no partition assignment since the last rebalance; releasing the feeds",
            extra={"release_after_seconds": RELEASE_AFTER_SECONDS, "partitions": sorted(self._assigned)},
        )
        self._joined = False
        self._assigned = frozenset()
        self._metrics.assigned_partitions.set(0)
        self._on_change(self._assigned, self._partition_count)

    def _cancel_release(self) -> None:
        if self._release is not None:
            self._release.cancel()
            self._release = None

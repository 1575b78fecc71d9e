"""The durable schedule: deliveries waiting for their time, kept in Kafka, never only in memory.

Topic ``newswatch.alerter.schedule.v1`` (compacted + time-limited, internal). One record per waiting
delivery, ``key = delivery_id``, value :class:`ScheduledDelivery` (kind retry / deferred / replay, the
attempt to make, ``not_before``); a tombstone settles the delivery. The partition is chosen from the
subscription id (:class:`ScheduleWriter`), so every waiting delivery of one subscription lives on one
partition and is owned by one alerter process: that is what lets a digest gather them.

Writers (fan-out, ``newswatch deliveries replay``) put a record and wait for the broker's acknowledgement
before they treat the source as settled: the alert's offset on ``newswatch.alerts.v1`` commits only once
its retry or deferral is durable.

:class:`Scheduler` consumes the topic in the consumer group ``<alerter group>.schedule`` (manual commits)
and never waits on a record: every record read goes into an in-memory index (latest value per key wins,
a tombstone removes the key) with a heap of due times, so a 5 s retry is never stuck behind a 4 h one.
When an entry is due it is handed to the handler (fan-out), at most ``concurrency`` at once; deferred
entries of one subscription are handed over together, when the earliest is due or when
``digest_size(subscription_id)`` of them are pending. The handler settles each entry durably (a tombstone,
a new record for the next attempt, or a dead letter) before it returns; if it raises, the entries are
tried again :data:`HANDLER_RETRY_SECONDS` later.

Offsets: per partition the committed offset is the smallest offset still pending or being handled (or the
position when none is), committed every :data:`COMMIT_INTERVAL_SECONDS`, on revocation and at stop. After
a crash the records from there on are read again and the index is rebuilt; settled ones are gone by then
(their tombstone is read after them). Memory is bounded: past ``max_pending`` entries the consumer pauses
its partitions until a fifth of them are handled (only then can a short delay wait behind long ones).
``accept(subscription_id)``, when given, limits the index to some subscriptions (see the service's
``scope``); other entries are passed over.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from newswatch import contracts
from newswatch.alerter.metrics import AlerterMetrics
from newswatch.errors import InvalidMessageError
from newswatch.kafka import make_consumer
from newswatch.settings import Settings
from newswatch.topics import SCHEDULE
from newswatch.v1.delivery_pb2 import ScheduledDelivery, ScheduledKind

__all__ = [
    "COMMIT_INTERVAL_SECONDS",
    "HANDLER_RETRY_SCHEDULE_SECONDS",
    "KIND_LABELS",
    "MAX_PENDING",
    "Schedule",
    "ScheduleWriter",
    "Scheduler",
    "partition_for",
]

log = logging.getLogger(__name__)

MAX_PENDING = 50_000
COMMIT_INTERVAL_SECONDS = 1.0
HANDLER_RETRY_SCHEDULE_SECONDS = 5.0
_IDLE_WAKE_SECONDS = 1.0
KIND_LABELS = {
    ScheduledKind.SCHEDULED_KIND_RETRY: "retry",
    ScheduledKind.SCHEDULED_KIND_DEFERRED: "deferred",
    ScheduledKind.SCHEDULED_KIND_REPLAY: "replay",
}

Handler = Callable[[list[ScheduledDelivery]], Awaitable[None]]


def partition_for(subscription_id: str, partitions: int) -> int:
    """The schedule partition of a subscription: a stable hash (CRC-32) modulo the partition count."""
    return zlib.crc32(subscription_id.encode()) % partitions


class Schedule(Protocol):
    """Where fan-out puts waiting deliveries. Both calls return the broker acknowledgement to await."""

    async def put(self, entry: ScheduledDelivery) -> Awaitable[Any]: ...

    async def settle(self, delivery_id: str, subscription_id: str) -> Awaitable[Any]: ...


class ScheduleWriter:
    """:class:`Schedule` on the real topic, through an idempotent producer."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        self._partitions = 0

    async def _partition(self, subscription_id: str) -> int:
        if not self._partitions:
            self._partitions = len(await self._producer.partitions_for(SCHEDULE.name))
        return partition_for(subscription_id, self._partitions)

    async def put(self, entry: ScheduledDelivery) -> Awaitable[Any]:
        value, headers = contracts.encode(entry)
        partition = await self._partition(entry.subscription_id)
        ack: Awaitable[Any] = await self._producer.send(
            SCHEDULE.name, value=value, key=entry.delivery_id.encode(), headers=headers, partition=partition
        )
        return ack

    async def settle(self, delivery_id: str, subscription_id: str) -> Awaitable[Any]:
        partition = await self._partition(subscription_id)
        ack: Awaitable[Any] = await self._producer.send(
            SCHEDULE.name, value=None, key=delivery_id.encode(), partition=partition
        )
        return ack


@dataclass(slots=True)
class _Entry:
    record: ScheduledDelivery
    partition: int
    offset: int
    due: float
    seq: int


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self._scheduler._revoked(list(revoked))

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        log.info(
            "schedule partitions assigned", extra={"partitions": sorted(tp.partition for tp in assigned)}
        )


class Scheduler:
    """Reads the schedule topic and hands due deliveries to ``handler`` (module docstring)."""

    def __init__(
        self,
        settings: Settings,
        group_id: str,
        handler: Handler,
        metrics: AlerterMetrics,
        *,
        digest_size: Callable[[str], int] = lambda _sub: 0,
        accept: Callable[[str], bool] | None = None,
        max_pending: int = MAX_PENDING,
        concurrency: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._handler = handler
        self._metrics = metrics
        self._digest_size = digest_size
        self._accept = accept
        self._max_pending = max_pending
        self._concurrency = concurrency or settings.delivery_concurrency
        self._clock = clock
        self._settings = settings
        self._group_id = group_id
        self._consumer: AIOKafkaConsumer | None = None  # made by start()
        self._pending: dict[str, _Entry] = {}
        self._running: dict[str, _Entry] = {}
        self._groups: dict[str, dict[str, _Entry]] = {}
        self._group_token: dict[str, tuple[int, float]] = {}  # subscription id -> (seq, due) of its group
        self._group_earliest: dict[str, float] = {}  # subscription id -> earliest due in its group, if known
        self._heap: list[tuple[float, int, bool, str]] = []  # (due, seq, is_group, key or subscription id)
        self._seq = 0
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._committed: dict[TopicPartition, int] = {}
        self._paused = False
        self._loops: list[asyncio.Task[None]] = []
        self._started = False
        self._stopped = False

    def __len__(self) -> int:
        return len(self._pending) + len(self._running)

    async def start(self) -> None:
        self._consumer = make_consumer(
            self._settings, "alerter-schedule", group_id=self._group_id, max_poll_records=1000
        )
        await self._consumer.start()
        self._started = True
        self._consumer.subscribe([SCHEDULE.name], listener=_Listener(self))
        self._loops = [
            asyncio.create_task(self._read(), name="alerter-schedule-read"),
            asyncio.create_task(self._dispatch(), name="alerter-schedule-dispatch"),
        ]

    async def stop(self, drain_seconds: float = 5.0) -> None:
        """Stop reading and dispatching, let running handlers finish within ``drain_seconds``, commit."""
        if self._stopped:
            return
        self._stopped = True
        for loop in self._loops:
            loop.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=drain_seconds)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._started and self._consumer is not None:
            await self._commit()
            await self._consumer.stop()

    # ------------------------------------------------------------------ index

    def _apply(self, partition: int, record: Any) -> None:
        key = record.key.decode("utf-8", "replace") if record.key else ""
        if not key:
            self._metrics.scheduled_dropped.labels(reason="invalid_entry").inc()
            return
        self._remove(key)
        if record.value is None:
            return
        try:
            entry = contracts.decode(ScheduledDelivery, record.value, record.headers)
        except InvalidMessageError as exc:
            self._metrics.scheduled_dropped.labels(reason="invalid_entry").inc()
            log.warning(
                "invalid schedule entry skipped",
                extra={"partition": partition, "offset": record.offset, "error": str(exc)},
            )
            return
        if self._accept is not None and not self._accept(entry.subscription_id):
            return  # another alerter's subscription: not indexed, so never holds the commit back
        due = entry.not_before.seconds + entry.not_before.nanos / 1e9
        self._seq += 1
        item = _Entry(entry, partition, record.offset, due, self._seq)
        self._pending[key] = item
        if entry.kind == ScheduledKind.SCHEDULED_KIND_DEFERRED:
            group = self._groups.setdefault(entry.subscription_id, {})
            group[key] = item
            self._push_group(entry.subscription_id, group, item)
        else:
            heapq.heappush(self._heap, (due, item.seq, False, key))
            self._compact_heap()
        self._wake.set()

    def _compact_heap(self) -> None:
        """Drop the heap's stale items (replaced entries, superseded group times) once they dominate it."""
        if len(self._heap) <= 4 * len(self._pending) + 1024:
            return
        live: list[tuple[float, int, bool, str]] = [
            (e.due, e.seq, False, key)
            for key, e in self._pending.items()
            if e.record.kind != ScheduledKind.SCHEDULED_KIND_DEFERRED
        ]
        live += [(due, seq, True, sub_id) for sub_id, (seq, due) in self._group_token.items()]
        heapq.heapify(live)
        self._heap = live

    def _push_group(self, subscription_id: str, group: dict[str, _Entry], added: _Entry) -> None:
        known = self._group_earliest.get(subscription_id)  # kept so that a group of n costs O(n), not O(n²)
        earliest = min(e.due for e in group.values()) if known is None else min(known, added.due)
        self._group_earliest[subscription_id] = earliest
        size = self._digest_size(subscription_id)
        due = self._clock() if 0 < size <= len(group) else earliest
        self._seq += 1
        self._group_token[subscription_id] = (self._seq, due)
        heapq.heappush(self._heap, (due, self._seq, True, subscription_id))
        self._compact_heap()

    def _remove(self, key: str) -> None:
        old = self._pending.pop(key, None)
        if old is None or old.record.kind != ScheduledKind.SCHEDULED_KIND_DEFERRED:
            return
        sub_id = old.record.subscription_id
        group = self._groups.get(sub_id)
        if group is not None:
            group.pop(key, None)
            if not group:
                del self._groups[sub_id]
                self._group_token.pop(sub_id, None)
            if not group or old.due <= self._group_earliest.get(sub_id, old.due):
                self._group_earliest.pop(sub_id, None)  # recomputed at the next push

    def _take_due(self, now: float) -> list[_Entry] | None:
        """Pop the next due batch (one entry, or one subscription's deferred group), if any."""
        while self._heap and self._heap[0][0] <= now:
            _, seq, is_group, name = heapq.heappop(self._heap)
            if is_group:
                token = self._group_token.get(name)
                if token is None or token[0] != seq:
                    continue
                del self._group_token[name]
                self._group_earliest.pop(name, None)
                batch = list(self._groups.pop(name).values())
            else:
                entry = self._pending.get(name)
                if entry is None or entry.seq != seq:
                    continue
                batch = [entry]
            for entry in batch:
                key = entry.record.delivery_id
                del self._pending[key]
                self._running[key] = entry
            return batch
        return None

    # ------------------------------------------------------------------ loops

    async def _read(self) -> None:
        assert self._consumer is not None
        last_commit = time.monotonic()
        while True:
            batch = await self._consumer.getmany(timeout_ms=500)
            for tp, records in batch.items():
                for record in records:
                    self._apply(tp.partition, record)
            self._backpressure()
            if time.monotonic() - last_commit >= COMMIT_INTERVAL_SECONDS:
                await self._commit()
                last_commit = time.monotonic()

    def _backpressure(self) -> None:
        assert self._consumer is not None
        assigned = list(self._consumer.assignment())
        if not self._paused and len(self) >= self._max_pending:
            self._consumer.pause(*assigned)
            self._paused = True
            log.warning("schedule index full; reading paused", extra={"pending": len(self)})
        elif self._paused and len(self) < self._max_pending * 0.8:
            self._consumer.resume(*assigned)
            self._paused = False

    async def _dispatch(self) -> None:
        while True:
            now = self._clock()
            while len(self._tasks) < self._concurrency:
                batch = self._take_due(now)
                if batch is None:
                    break
                task = asyncio.create_task(self._run(batch))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            wait = self._heap[0][0] - now if self._heap else _IDLE_WAKE_SECONDS
            self._wake.clear()
            if len(self._tasks) >= self._concurrency:
                wait = _IDLE_WAKE_SECONDS
            try:
                async with asyncio.timeout(min(max(wait, 0.005), _IDLE_WAKE_SECONDS)):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _run(self, batch: Sequence[_Entry]) -> None:
        try:
            await self._handler([entry.record for entry in batch])
        except asyncio.CancelledError:
            raise
        # Whatever failed (usually the broker), the entries must stay pending: dropped from the index they
        # would never be handled, and a running one would hold the partition's commit back for ever.
        except Exception as exc:  # noqa: BLE001
            log.warning(
                "scheduled delivery not settled; will try again",
                extra={
                    "deliveries": len(batch),
                    "retry_in_seconds": HANDLER_RETRY_SCHEDULE_SECONDS,
                    "error": repr(exc),
                },
            )
            for entry in batch:
                key = entry.record.delivery_id
                if self._running.get(key) is entry and key not in self._pending:
                    entry.record.not_before.FromSeconds(int(self._clock() + HANDLER_RETRY_SCHEDULE_SECONDS))
                    entry.due = self._clock() + HANDLER_RETRY_SCHEDULE_SECONDS
                    self._seq += 1
                    entry.seq = self._seq
                    self._pending[key] = entry
                    heapq.heappush(self._heap, (entry.due, entry.seq, False, key))
                    entry.record.kind = (
                        ScheduledKind.SCHEDULED_KIND_RETRY
                        if entry.record.kind == ScheduledKind.SCHEDULED_KIND_DEFERRED
                        else entry.record.kind
                    )
        finally:
            for entry in batch:
                key = entry.record.delivery_id
                if self._running.get(key) is entry:
                    del self._running[key]
            self._wake.set()

    # ------------------------------------------------------------------ offsets

    def _safe_offsets(self) -> dict[int, int]:
        lowest: dict[int, int] = {}
        counts = dict.fromkeys(KIND_LABELS.values(), 0)
        for entries in (self._pending.values(), self._running.values()):
            for entry in entries:
                counts[KIND_LABELS.get(entry.record.kind, "retry")] += 1
                if entry.offset < lowest.get(entry.partition, 1 << 62):
                    lowest[entry.partition] = entry.offset
        for kind, count in counts.items():
            self._metrics.scheduled.labels(kind=kind).set(count)
        return lowest

    async def _commit(self, only: Sequence[TopicPartition] | None = None) -> None:
        lowest = self._safe_offsets()
        if self._consumer is None:
            return
        offsets: dict[TopicPartition, int] = {}
        try:
            for tp in only if only is not None else list(self._consumer.assignment()):
                offset = lowest.get(tp.partition)
                if offset is None:
                    offset = await self._consumer.position(tp)
                if self._committed.get(tp) != offset:
                    offsets[tp] = offset
            if offsets:
                await self._consumer.commit(offsets)
                self._committed.update(offsets)
        except KafkaError as exc:
            self._metrics.commit_failures.inc()
            log.warning("schedule offset commit refused", extra={"error": repr(exc)})

    async def _revoked(self, revoked: list[TopicPartition]) -> None:
        if not revoked:
            return
        await self._commit(revoked)
        gone = {tp.partition for tp in revoked}
        for key in [k for k, e in self._pending.items() if e.partition in gone]:
            self._remove(key)
        for tp in revoked:
            self._committed.pop(tp, None)

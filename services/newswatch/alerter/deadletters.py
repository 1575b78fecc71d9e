"""Dead letters still outstanding: the ``newswatch_alerter_dlq_depth`` gauge.

A dead letter on ``newswatch.alerts.dlq.v1`` is *outstanding* until its delivery is settled later:

- a ``delivered`` record of its delivery id on ``newswatch.deliveries.v1`` (the ledger of attempts), or
- a replay mark there: ``newswatch deliveries replay`` writes, for every dead letter it queues again, a
  ``DeliveryAttempt`` with outcome ``REPLAYED`` and attempt 0 (:func:`replay_mark`) — durable, so a
  restart counts the same.

Settled means *after* the dead letter (record timestamps): a replayed delivery that fails again is
dead-lettered again and counts again. The delivery id comes from the dead letter's key (the alert id) and
its ``newswatch-subscription-id`` header; a dead letter without one (an alert that never decoded) stays
outstanding until retention removes it. Dead letters removed by retention stop counting.

:class:`DeadLetterDepth` reads the DLQ from its first retained record, then the part of the deliveries
topic from the time of the oldest outstanding dead letter up to where the alerter's
:class:`~newswatch.alerter.ledger.Ledger` began reading: only records keyed by the alert of an
outstanding dead letter are decoded, and at most :data:`MAX_HISTORY_RECORDS` per partition are read (a
dead letter settled longer ago than that counts again after a restart, until replayed). From there on
the ledger hands it every deliveries record it reads (:meth:`DeadLetterDepth.observe`), so the busy
deliveries topic is read once per process. Settlements seen while loading are kept (at most
:data:`MAX_EARLY_SETTLEMENTS`) and applied once the DLQ is read. The gauge is set once loaded
(``loaded`` is then set), then after every batch and settlement. A settlement read before its own dead
letter once loaded is missed (a replay reads the dead letter first, so in practice it comes seconds
later). Memory: one entry per outstanding dead letter.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from newswatch import contracts
from newswatch.alerter.fanout import DLQ_SUBSCRIPTION_HEADER, delivery_id_for
from newswatch.errors import InvalidMessageError, NewswatchError
from newswatch.kafka import assign_all_partitions, caught_up, make_consumer
from newswatch.settings import Settings
from newswatch.topics import ALERTS_DLQ
from newswatch.v1.delivery_pb2 import DeliveryAttempt, DeliveryOutcome

__all__ = [
    "MAX_EARLY_SETTLEMENTS",
    "MAX_HISTORY_RECORDS",
    "DeadLetterDepth",
    "Outstanding",
    "replay_mark",
    "settles",
]

log = logging.getLogger(__name__)

_SETTLING = frozenset({DeliveryOutcome.DELIVERY_OUTCOME_DELIVERED, DeliveryOutcome.DELIVERY_OUTCOME_REPLAYED})
_RETENTION_CHECK_SECONDS = 60.0
MAX_EARLY_SETTLEMENTS = 200_000
MAX_HISTORY_RECORDS = 1_000_000


def replay_mark(alert_id: str, subscription_id: str) -> DeliveryAttempt:
    """The record ``newswatch deliveries replay`` leaves on the deliveries topic."""
    mark = DeliveryAttempt(
        delivery_id=delivery_id_for(alert_id, subscription_id),
        alert_id=alert_id,
        subscription_id=subscription_id,
        attempt=0,
        outcome=DeliveryOutcome.DELIVERY_OUTCOME_REPLAYED,
        error="queued again by newswatch deliveries replay",
        started_at=contracts.timestamp(),
    )
    return mark


def settles(attempt: DeliveryAttempt) -> bool:
    """Whether a deliveries record can settle a dead letter: a delivery or a replay mark."""
    return attempt.outcome in _SETTLING


@dataclass(slots=True)
class _Letter:
    partition: int
    offset: int
    timestamp_ms: int
    alert_key: bytes


class Outstanding:
    """The bookkeeping, apart from Kafka: dead letters in, settlements in, a count out."""

    def __init__(self) -> None:
        self._letters: dict[str, _Letter] = {}  # delivery id (or "p/o" when none) -> newest dead letter
        self._keys: dict[bytes, int] = {}  # alert key -> outstanding dead letters with it

    def __len__(self) -> int:
        return len(self._letters)

    def __contains__(self, delivery_id: object) -> bool:
        """Whether the dead letter of ``delivery_id`` is outstanding."""
        return delivery_id in self._letters

    def oldest_ms(self) -> int | None:
        return min((x.timestamp_ms for x in self._letters.values()), default=None)

    def wanted(self, key: bytes | None) -> bool:
        """Whether a deliveries record with this key could settle a dead letter."""
        return key is not None and key in self._keys

    def dead_letter(self, record: Any) -> None:
        key: bytes = record.key or b""
        sub_id = contracts.header(record.headers, DLQ_SUBSCRIPTION_HEADER)
        if sub_id and key:
            name = delivery_id_for(key.decode("utf-8", "replace"), sub_id)
        else:
            name = f"{record.partition}/{record.offset}"
        self._drop(name)
        self._letters[name] = _Letter(record.partition, record.offset, record.timestamp, key)
        self._keys[key] = self._keys.get(key, 0) + 1

    def settled(self, attempt: DeliveryAttempt, timestamp_ms: int) -> None:
        """A deliveries record: a delivery or a replay mark settles an older dead letter of its id."""
        if not settles(attempt):
            return
        letter = self._letters.get(attempt.delivery_id)
        if letter is not None and letter.timestamp_ms <= timestamp_ms:
            self._drop(attempt.delivery_id)

    def retained_from(self, begins: dict[int, int]) -> None:
        """Forget dead letters before ``begins`` (partition -> first retained offset)."""
        gone = [n for n, x in self._letters.items() if x.offset < begins.get(x.partition, 0)]
        for name in gone:
            self._drop(name)

    def _drop(self, name: str) -> None:
        letter = self._letters.pop(name, None)
        if letter is None:
            return
        left = self._keys[letter.alert_key] - 1
        if left:
            self._keys[letter.alert_key] = left
        else:
            del self._keys[letter.alert_key]


class DeadLetterDepth:
    """Follows the DLQ, fed by the ledger; calls ``on_depth(count)`` (module docstring)."""

    def __init__(self, settings: Settings, on_depth: Callable[[int], None]) -> None:
        self.outstanding = Outstanding()
        self._settings = settings
        self._on_depth = on_depth
        self._early: dict[str, int] | None = {}  # while loading: delivery id -> newest settlement (ms)
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self.loaded = asyncio.Event()

    def observe(self, attempt: DeliveryAttempt, timestamp_ms: int) -> None:
        """A record of the deliveries topic, as the ledger reads it (cheap unless it settles something)."""
        if not settles(attempt):
            return
        if self._early is not None:
            if len(self._early) >= MAX_EARLY_SETTLEMENTS:
                del self._early[next(iter(self._early))]
            self._early[attempt.delivery_id] = max(timestamp_ms, self._early.get(attempt.delivery_id, 0))
        elif attempt.delivery_id in self.outstanding:
            self.outstanding.settled(attempt, timestamp_ms)
            self._on_depth(len(self.outstanding))

    def start(self, ledger_starts: dict[TopicPartition, int]) -> None:
        """Load and follow in the background until ``stop()``; ``ledger_starts`` = where the ledger began
        reading the deliveries topic (what lies before is read here). Kafka errors: logged, run again."""
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(ledger_starts), name="alerter-dlq-depth")

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _supervise(self, ledger_starts: dict[TopicPartition, int]) -> None:
        first = True
        while True:
            try:
                await self._run(ledger_starts, to_end=not first)
            except (KafkaError, NewswatchError) as exc:
                log.warning("dead-letter count interrupted; reading again", extra={"error": repr(exc)})
                first = False
                self.outstanding = Outstanding()
                self._early = {}
                self.loaded.clear()
                await asyncio.sleep(5.0)

    async def _run(self, ledger_starts: dict[TopicPartition, int], *, to_end: bool) -> None:
        """Load, then follow. ``to_end``: read the deliveries history to its current end (a run again
        after an error: what the ledger handed over before is lost with the old count)."""
        consumer = make_consumer(
            self._settings, "alerter-dlq", group_id=None, isolation_level="read_uncommitted"
        )
        try:
            await consumer.start()
            dlq = await assign_all_partitions(consumer, ALERTS_DLQ)
            await consumer.seek_to_beginning(*dlq)
            ends = await consumer.end_offsets(dlq)
            while not await caught_up(consumer, ends):
                await self._read(consumer)
            positions = {tp: await consumer.position(tp) for tp in dlq}
            await self._read_history(consumer, ledger_starts, to_end=to_end)
            consumer.assign(dlq)
            for tp, offset in positions.items():
                consumer.seek(tp, offset)
            self._settle_early()
            self._on_depth(len(self.outstanding))
            self.loaded.set()
            checked = time.monotonic()
            while True:
                await self._read(consumer)
                if time.monotonic() - checked >= _RETENTION_CHECK_SECONDS:
                    begins = await consumer.beginning_offsets(dlq)
                    self.outstanding.retained_from({tp.partition: o for tp, o in begins.items()})
                    checked = time.monotonic()
                self._on_depth(len(self.outstanding))
        finally:
            await consumer.stop()

    def _settle_early(self) -> None:
        early, self._early = self._early or {}, None
        for delivery_id, at_ms in early.items():
            if delivery_id in self.outstanding:
                mark = DeliveryAttempt(
                    delivery_id=delivery_id, outcome=DeliveryOutcome.DELIVERY_OUTCOME_DELIVERED
                )
                self.outstanding.settled(mark, at_ms)

    async def _read_history(
        self, consumer: AIOKafkaConsumer, ledger_starts: dict[TopicPartition, int], *, to_end: bool
    ) -> None:
        """The deliveries records from the oldest outstanding dead letter up to ``ledger_starts``."""
        oldest = self.outstanding.oldest_ms()
        if oldest is None or not ledger_starts:
            return
        tps = sorted(ledger_starts, key=lambda tp: tp.partition)
        consumer.assign(tps)
        upto: dict[TopicPartition, int] = await consumer.end_offsets(tps) if to_end else dict(ledger_starts)
        found = await consumer.offsets_for_times(dict.fromkeys(tps, oldest))
        for tp in tps:
            hit = found.get(tp)
            start = min(hit.offset if hit is not None else upto[tp], upto[tp])
            consumer.seek(tp, max(start, upto[tp] - MAX_HISTORY_RECORDS))
        while not await caught_up(consumer, upto):
            await self._read(consumer)

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
        for tp, records in batch.items():
            if tp.topic == ALERTS_DLQ.name:
                for record in records:
                    self.outstanding.dead_letter(record)
                continue
            for record in records:
                if not self.outstanding.wanted(record.key):
                    continue
                try:
                    attempt = contracts.decode(DeliveryAttempt, record.value, record.headers)
                except InvalidMessageError:
                    continue
                self.outstanding.settled(attempt, record.timestamp)

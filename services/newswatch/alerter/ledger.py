"""Which deliveries already have a final outcome: the alerter's memory of the audit trail.

Every attempt is recorded on ``newswatch.deliveries.v1``. :class:`Ledger` reads the recent tail of that
topic at start-up (the last ``capacity / partitions`` records of each partition) and then follows it,
remembering the final outcome (delivered, failed, rejected) of each delivery id in an
:class:`OutcomeCache` of at most ``capacity`` ids (oldest forgotten first). Fan-out also records its own
outcomes at once, before the audit record comes back.

This is what keeps the alerter from reporting two successes for one (alert, subscription) when an alert is
read again (a restart before the offset commit, a rebalance) or a retry chain and a re-read race: a
delivery id with a final outcome is not attempted again, except by an explicit replay of a failed one.
Two processes attempting the same delivery at the same instant can still both succeed; the receiver then
drops the second by its ``webhook-id``.

Recent deliveries: given ``on_recent``, start-up also reads back to the first record of the last
``recent_seconds`` (at most :data:`MAX_RECENT_RECORDS` per partition before the tail) and, once loaded,
calls ``on_recent(subscription_id, delivered_at)`` for each delivery made in that window, oldest first —
one call per channel call (the members of a digest share ``started_at``). The alerter rebuilds its
per-subscription rate-limit windows from these, so a restart does not forget what was sent this hour.
Records read after start-up are not passed on: fan-out counts its own deliveries.

``on_attempt(attempt, timestamp_ms)`` sees every record read, from :attr:`Ledger.start_offsets`
on (the DLQ depth, :mod:`~newswatch.alerter.deadletters`, learns of deliveries and replays from it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from newswatch import contracts
from newswatch.errors import InvalidMessageError
from newswatch.kafka import assign_all_partitions, cancel_follower, caught_up, make_consumer, seek_to_tail
from newswatch.settings import Settings
from newswatch.topics import DELIVERIES
from newswatch.v1.delivery_pb2 import DeliveryAttempt, DeliveryOutcome

__all__ = [
    "DEFAULT_CAPACITY",
    "FINAL_OUTCOMES",
    "MAX_RECENT_RECORDS",
    "Ledger",
    "OnAttempt",
    "OnRecent",
    "OutcomeCache",
]

log = logging.getLogger(__name__)

DEFAULT_CAPACITY = 100_000
FINAL_OUTCOMES = frozenset(
    {
        DeliveryOutcome.DELIVERY_OUTCOME_DELIVERED,
        DeliveryOutcome.DELIVERY_OUTCOME_FAILED,
        DeliveryOutcome.DELIVERY_OUTCOME_REJECTED,
    }
)
MAX_RECENT_RECORDS = 250_000
_START_TIMEOUT_SECONDS = 60.0

OnRecent = Callable[[str, float], None]
OnAttempt = Callable[[DeliveryAttempt, int], None]  # the record and its timestamp (ms)


class OutcomeCache:
    """The final outcome of the most recent ``capacity`` delivery ids (oldest forgotten first).

    A delivered id stays delivered: a later failure record of the same id (a stray retry) does not
    overwrite it.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._outcomes: OrderedDict[str, DeliveryOutcome.ValueType] = OrderedDict()

    def __len__(self) -> int:
        return len(self._outcomes)

    def outcome(self, delivery_id: str) -> DeliveryOutcome.ValueType | None:
        return self._outcomes.get(delivery_id)

    def delivered(self, delivery_id: str) -> bool:
        return self._outcomes.get(delivery_id) == DeliveryOutcome.DELIVERY_OUTCOME_DELIVERED

    def record(self, delivery_id: str, outcome: DeliveryOutcome.ValueType) -> None:
        if outcome not in FINAL_OUTCOMES or self.delivered(delivery_id):
            return
        self._outcomes[delivery_id] = outcome
        self._outcomes.move_to_end(delivery_id)
        while len(self._outcomes) > self._capacity:
            self._outcomes.popitem(last=False)


class Ledger:
    """An :class:`OutcomeCache` filled from the tail of ``newswatch.deliveries.v1`` and kept current."""

    def __init__(
        self,
        settings: Settings,
        capacity: int = DEFAULT_CAPACITY,
        *,
        on_recent: OnRecent | None = None,
        on_attempt: OnAttempt | None = None,
        recent_seconds: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cache = OutcomeCache(capacity)
        self._capacity = capacity
        self._settings = settings
        self._on_recent = on_recent
        self._on_attempt = on_attempt
        self.start_offsets: dict[TopicPartition, int] = {}  # where reading began, per partition
        self._recent_seconds = recent_seconds
        self._clock = clock
        self._recent: dict[tuple[str, int], float] | None = None  # while loading: (sub, started ns) -> at
        self._recent_since = 0.0
        self._consumer: AIOKafkaConsumer | None = None  # made by start()
        self._task: asyncio.Task[None] | None = None
        self._started = False
        self._stopped = False

    async def start(self) -> None:
        """Read the tail of the audit trail (returns once caught up), then follow it."""
        self._consumer = make_consumer(
            self._settings, "alerter-ledger", group_id=None, isolation_level="read_uncommitted"
        )
        await self._consumer.start()
        self._started = True
        tps = await assign_all_partitions(self._consumer, DELIVERIES)
        ends = await seek_to_tail(self._consumer, tps, max(1, self._capacity // len(tps)))
        if self._on_recent is not None:
            self._recent = {}
            self._recent_since = self._clock() - self._recent_seconds
            await self._seek_back(tps, ends)
        self.start_offsets = {tp: await self._consumer.position(tp) for tp in tps}
        async with asyncio.timeout(_START_TIMEOUT_SECONDS):
            while not await caught_up(self._consumer, ends):
                await self._read_once()
        recent, self._recent = self._recent, None
        if self._on_recent is not None and recent is not None:
            for subscription_id, at in sorted(((k[0], at) for k, at in recent.items()), key=lambda r: r[1]):
                self._on_recent(subscription_id, at)
        log.info(
            "delivery ledger loaded",
            extra={"delivery_ids": len(self.cache), "recent_deliveries": len(recent or ())},
        )
        self._task = asyncio.create_task(self._follow(), name="alerter-ledger")

    async def _seek_back(self, tps: list[TopicPartition], ends: dict[TopicPartition, int]) -> None:
        """Move back to the first record of the recent window where the tail starts after it."""
        assert self._consumer is not None
        since_ms = int(self._recent_since * 1000)
        found = await self._consumer.offsets_for_times(dict.fromkeys(tps, since_ms))
        for tp in tps:
            hit = found.get(tp)
            if hit is not None and hit.offset < await self._consumer.position(tp):
                self._consumer.seek(tp, max(hit.offset, ends[tp] - MAX_RECENT_RECORDS))

    async def _read_once(self) -> None:
        assert self._consumer is not None
        batch = await self._consumer.getmany(timeout_ms=500, max_records=5000)
        for records in batch.values():
            for record in records:
                try:
                    attempt = contracts.decode(DeliveryAttempt, record.value, record.headers)
                except InvalidMessageError:
                    continue  # not ours to judge: the audit trail has other writers' records too
                self.cache.record(attempt.delivery_id, attempt.outcome)
                if self._on_attempt is not None:
                    self._on_attempt(attempt, record.timestamp)
                if self._recent is not None and attempt.outcome == DeliveryOutcome.DELIVERY_OUTCOME_DELIVERED:
                    self._remember(attempt, record.timestamp / 1000)

    def _remember(self, attempt: DeliveryAttempt, produced_at: float) -> None:
        assert self._recent is not None
        started = attempt.started_at.ToNanoseconds() if attempt.HasField("started_at") else 0
        at = started / 1e9 + attempt.duration_seconds if started else produced_at
        if at >= self._recent_since:
            self._recent[(attempt.subscription_id, started or int(produced_at * 1e9))] = at

    async def _follow(self) -> None:
        while True:
            await self._read_once()

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        await cancel_follower(self._task, "delivery ledger")
        if self._started and self._consumer is not None:
            await self._consumer.stop()

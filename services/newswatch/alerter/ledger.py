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
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict

from aiokafka import AIOKafkaConsumer

from newswatch import contracts
from newswatch.errors import InvalidMessageError
from newswatch.kafka import assign_all_partitions, cancel_follower, caught_up, make_consumer
from newswatch.settings import Settings
from newswatch.topics import DELIVERIES
from newswatch.v1.delivery_pb2 import DeliveryAttempt, DeliveryOutcome

__all__ = ["DEFAULT_CAPACITY", "FINAL_OUTCOMES", "Ledger", "OutcomeCache"]

log = logging.getLogger(__name__)

DEFAULT_CAPACITY = 100_000
FINAL_OUTCOMES = frozenset(
    {
        DeliveryOutcome.DELIVERY_OUTCOME_DELIVERED,
        DeliveryOutcome.DELIVERY_OUTCOME_FAILED,
        DeliveryOutcome.DELIVERY_OUTCOME_REJECTED,
    }
)
_START_TIMEOUT_SECONDS = 60.0


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

    def __init__(self, settings: Settings, capacity: int = DEFAULT_CAPACITY) -> None:
        self.cache = OutcomeCache(capacity)
        self._capacity = capacity
        self._settings = settings
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
        starts = await self._consumer.beginning_offsets(tps)
        ends = await self._consumer.end_offsets(tps)
        per_partition = max(1, self._capacity // len(tps))
        for tp in tps:
            self._consumer.seek(tp, max(starts[tp], ends[tp] - per_partition))
        async with asyncio.timeout(_START_TIMEOUT_SECONDS):
            while not await caught_up(self._consumer, ends):
                await self._read_once()
        log.info("delivery ledger loaded", extra={"delivery_ids": len(self.cache)})
        self._task = asyncio.create_task(self._follow(), name="alerter-ledger")

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

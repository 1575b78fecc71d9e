"""``newswatch_alerter_consumer_lag_records``: high-water mark minus position over the assigned partitions."""

from __future__ import annotations

from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import IllegalStateError
from prometheus_client import CollectorRegistry

from newswatch.alerter.service import AlerterService
from newswatch.settings import load_settings
from newswatch.topics import ALERTS


class FakeConsumer:
    def __init__(self, partitions: dict[int, tuple[int | None, int]], fail: bool = False) -> None:
        self._parts = {TopicPartition(ALERTS.name, p): hw_pos for p, hw_pos in partitions.items()}
        self._fail = fail

    def assignment(self) -> set[TopicPartition]:
        return set(self._parts)

    def highwater(self, tp: TopicPartition) -> int | None:
        return self._parts[tp][0]

    async def position(self, tp: TopicPartition) -> int:
        if self._fail:
            raise IllegalStateError("partition not assigned")
        return self._parts[tp][1]


async def lag_after(consumer: Any, before: float = 0.0) -> float | None:
    registry = CollectorRegistry()
    service = AlerterService(load_settings(environ={}), registry)
    service.metrics.consumer_lag.set(before)
    service._consumer = consumer
    await service._measure_lag()
    return registry.get_sample_value("newswatch_alerter_consumer_lag_records")


async def test_lag_sums_unread_records_of_assigned_partitions() -> None:
    # partition 2's high-water mark is not known yet (no fetch answered): it counts zero
    assert await lag_after(FakeConsumer({0: (10, 4), 1: (7, 7), 2: (None, 0)})) == 6


async def test_lag_is_kept_while_a_rebalance_hides_positions() -> None:
    assert await lag_after(FakeConsumer({0: (10, 4)}, fail=True), before=3) == 3


async def test_no_consumer_yet_reads_zero() -> None:
    assert await lag_after(None) == 0

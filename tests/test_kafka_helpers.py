"""Helpers of newswatch.kafka that need no broker: the tail seek and the caching partitioner."""

from __future__ import annotations

from typing import Any

from aiokafka import TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from newswatch.kafka import CachedPartitioner, key_partition, seek_to_tail


class FakeConsumer:
    def __init__(self, begins: dict[TopicPartition, int], ends: dict[TopicPartition, int]) -> None:
        self.begins, self.ends = begins, ends
        self.positions: dict[TopicPartition, int] = {}

    async def beginning_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.begins[tp] for tp in tps}

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.ends[tp] for tp in tps}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.positions[tp] = offset


async def test_seek_to_tail_never_goes_before_the_first_retained_offset() -> None:
    a, b, c = (TopicPartition("t", p) for p in range(3))
    consumer: Any = FakeConsumer({a: 0, b: 95, c: 7}, {a: 100, b: 100, c: 7})
    ends = await seek_to_tail(consumer, [a, b, c], 10)
    assert ends == {a: 100, b: 100, c: 7}
    assert consumer.positions == {a: 90, b: 95, c: 7}
    await seek_to_tail(consumer, [a, b, c], 0)
    assert consumer.positions == {a: 100, b: 100, c: 7}  # nothing back: the end
    await seek_to_tail(consumer, [a], -5)
    assert consumer.positions[a] == 100


@given(st.binary(min_size=0, max_size=64), st.integers(min_value=1, max_value=64))
def test_the_cached_partitioner_agrees_with_the_default_one(key: bytes, partitions: int) -> None:
    all_partitions = list(range(partitions))
    cached = CachedPartitioner(size=4)
    expected = DefaultPartitioner()(key, all_partitions, all_partitions)
    assert cached(key, all_partitions, all_partitions) == expected
    assert cached(key, all_partitions, all_partitions) == expected  # from the cache now


@given(st.binary(min_size=0, max_size=300), st.integers(min_value=1, max_value=64))
def test_key_partition_is_the_default_partitioners_choice(key: bytes, partitions: int) -> None:
    all_partitions = list(range(partitions))
    assert key_partition(key, all_partitions) == DefaultPartitioner()(key, all_partitions, all_partitions)


def test_the_cached_partitioner_is_bounded_and_keyless_records_go_to_an_available_partition() -> None:
    cached = CachedPartitioner(size=3)
    for n in range(10):
        cached(str(n).encode(), [0, 1, 2], [0, 1, 2])
    assert len(cached._hashes) == 3
    assert {cached(None, [0, 1, 2], [2]) for _ in range(20)} == {2}

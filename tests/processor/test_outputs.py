"""The Faust outputs: a call's records in one record batch per topic partition (fake producer, no Kafka;
the worker tests publish through the real one)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner

from newswatch.processor.agents import Outgoing
from newswatch.processor.faustapp import ORIGIN_HEADER, FaustOutputs
from newswatch.topics import ALERTS, ARTICLES_ENRICHED

Record = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]


class FakeBatch:
    """Holds at most ``capacity`` records (aiokafka's BatchBuilder: append returns None when full)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.records: list[Record] = []

    def append(self, *, timestamp: Any, key: bytes | None, value: bytes | None, headers: Any) -> Any:
        if len(self.records) >= self.capacity:
            return None
        self.records.append((key, value, list(headers)))
        return object()


class FakeProducer:
    def __init__(self, capacity: int, fail: Exception | None = None) -> None:
        self.capacity, self.fail = capacity, fail
        self.sent: list[tuple[str, int, list[Record]]] = []
        self.metadata_waits: list[str] = []
        self._metadata = SimpleNamespace(partitions_for_topic=lambda topic: {0, 1, 2})

    async def partitions_for(self, topic: str) -> set[int]:
        self.metadata_waits.append(topic)
        return {0, 1, 2}

    def create_batch(self) -> FakeBatch:
        return FakeBatch(self.capacity)

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> asyncio.Future[None]:
        self.sent.append((topic, partition, batch.records))
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.fail is not None:
            fut.set_exception(self.fail)
        else:
            fut.set_result(None)
        return fut


def _outputs(producer: FakeProducer) -> FaustOutputs:
    transport = SimpleNamespace(
        _ensure_producer=lambda: producer,
        # only asked for records without a key (the producer picks one of the available partitions)
        key_partition=lambda topic, key: SimpleNamespace(topic=topic, partition=0 if key is None else -1),
    )
    app: Any = SimpleNamespace(producer=transport)
    return FaustOutputs(app, "app-1")


async def test_records_go_in_one_batch_per_topic_partition_in_order() -> None:
    producer = FakeProducer(capacity=100)
    outputs = _outputs(producer)
    # The producer's default partitioner (murmur2 of the key) over partitions 0-2 puts a2 and a3 on
    # partition 0 and a1 on partition 2.
    default = DefaultPartitioner()
    assert [default(k, [0, 1, 2], [0, 1, 2]) for k in (b"a2", b"a3", b"a1")] == [0, 0, 2]
    records = [
        Outgoing(ARTICLES_ENRICHED, b"a2", b"e2", [("content-type", b"x")]),
        Outgoing(ALERTS, b"a2", b"al2"),
        Outgoing(ARTICLES_ENRICHED, b"a3", b"e3"),  # partition 0 too
        Outgoing(ARTICLES_ENRICHED, b"a1", b"e1"),
        Outgoing(ARTICLES_ENRICHED, b"k0", b"c0", partition=2),  # explicit partition wins
        Outgoing(ALERTS, None, b"n"),  # no key: the producer's choice
    ]
    await (await outputs.publish(records))
    by_tp = {(topic, partition): [r[1] for r in recs] for topic, partition, recs in producer.sent}
    assert by_tp == {
        (ARTICLES_ENRICHED.name, 0): [b"e2", b"e3"],
        (ALERTS.name, 0): [b"al2", b"n"],
        (ARTICLES_ENRICHED.name, 2): [b"e1", b"c0"],
    }
    origin = (ORIGIN_HEADER, b"app-1")
    assert all(r[2][-1] == origin for _, _, recs in producer.sent for r in recs)
    assert producer.sent[0][2][0][2] == [("content-type", b"x"), origin]
    await (await outputs.publish(records[:1]))
    assert producer.metadata_waits == [ARTICLES_ENRICHED.name, ALERTS.name]  # once per topic


async def test_a_full_batch_is_sent_and_another_started() -> None:
    producer = FakeProducer(capacity=2)
    records = [Outgoing(ARTICLES_ENRICHED, f"a{n}".encode(), f"e{n}".encode(), partition=0) for n in range(5)]
    await (await _outputs(producer).publish(records))
    assert [[r[1] for r in recs] for _, _, recs in producer.sent] == [[b"e0", b"e1"], [b"e2", b"e3"], [b"e4"]]


async def test_a_failed_batch_fails_the_call() -> None:
    producer = FakeProducer(capacity=10, fail=ConnectionError("broker gone"))
    done = await _outputs(producer).publish([Outgoing(ALERTS, b"a1", b"v")])
    with pytest.raises(ConnectionError):
        await done

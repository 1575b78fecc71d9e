"""The schedule's index (fakes) and the schedule on the real broker."""

from __future__ import annotations

import time
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from newswatch import contracts
from newswatch.alerter.metrics import AlerterMetrics
from newswatch.alerter.schedule import Scheduler, ScheduleWriter, partition_for
from newswatch.kafka import ensure_topics, make_producer
from newswatch.settings import Settings
from newswatch.topics import SCHEDULE
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.delivery_pb2 import ScheduledDelivery, ScheduledKind
from tests.alerter.kafkatools import commit_group_to_end, eventually

Kind = ScheduledKind
NOW = 1_700_000_000.0


def entry(
    key: str, due: float, kind: ScheduledKind.ValueType = Kind.SCHEDULED_KIND_RETRY, sub: str = "s"
) -> ScheduledDelivery:
    e = ScheduledDelivery(
        delivery_id=key, subscription_id=sub, kind=kind, attempt=2, alert=Alert(alert_id=key)
    )
    e.not_before.FromNanoseconds(int(due * 1e9))
    return e


def record(offset: int, key: str, value: ScheduledDelivery | None) -> Any:
    if value is None:
        return SimpleNamespace(key=key.encode(), value=None, headers=[], offset=offset)
    data, headers = contracts.encode(value)
    return SimpleNamespace(key=key.encode(), value=data, headers=headers, offset=offset)


class Index:
    """A scheduler that is never started: its index is fed by hand."""

    def __init__(self, digest_size: int = 0, accept: Any = None) -> None:
        self.now = NOW
        self.handled: list[list[str]] = []
        self.scheduler = Scheduler(
            Settings(),
            "unused",
            self._handle,
            AlerterMetrics(CollectorRegistry()),
            digest_size=lambda _sub: digest_size,
            accept=accept,
            clock=lambda: self.now,
        )

    async def _handle(self, entries: list[ScheduledDelivery]) -> None:
        self.handled.append([e.delivery_id for e in entries])

    def feed(self, *records: Any) -> None:
        for r in records:
            self.scheduler._apply(0, r)

    def due(self) -> list[list[str]]:
        out = []
        while (batch := self.scheduler._take_due(self.now)) is not None:
            out.append(sorted(e.record.delivery_id for e in batch))
        return out


async def test_a_short_delay_is_not_stuck_behind_a_long_one() -> None:
    ix = Index()
    ix.feed(record(0, "long", entry("long", NOW + 3600)), record(1, "short", entry("short", NOW + 5)))
    assert ix.due() == []
    ix.now += 5
    assert ix.due() == [["short"]]
    ix.now += 3600
    assert ix.due() == [["long"]]


async def test_the_latest_value_of_a_key_wins_and_a_tombstone_removes_it() -> None:
    ix = Index()
    ix.feed(record(0, "a", entry("a", NOW + 1)), record(1, "a", entry("a", NOW + 50)))
    ix.now += 10
    assert ix.due() == []  # the first value was replaced
    ix.feed(record(2, "a", None))
    ix.now += 100
    assert ix.due() == [] and len(ix.scheduler) == 0


async def test_deferred_entries_of_one_subscription_come_due_together() -> None:
    ix = Index()
    deferred = Kind.SCHEDULED_KIND_DEFERRED
    ix.feed(
        record(0, "d1", entry("d1", NOW + 60, deferred)),
        record(1, "d2", entry("d2", NOW + 90, deferred)),
        record(2, "x", entry("x", NOW + 90, deferred, sub="other")),
    )
    ix.now += 60
    assert ix.due() == [["d1", "d2"]]  # when the earliest is due
    ix.now += 30
    assert ix.due() == [["x"]]


async def test_a_digest_is_due_at_once_when_enough_alerts_are_pending() -> None:
    ix = Index(digest_size=3)
    deferred = Kind.SCHEDULED_KIND_DEFERRED
    ix.feed(*(record(i, f"d{i}", entry(f"d{i}", NOW + 86400, deferred)) for i in range(2)))
    assert ix.due() == []
    ix.feed(record(2, "d2", entry("d2", NOW + 86400, deferred)))
    assert ix.due() == [["d0", "d1", "d2"]]


async def test_the_commit_offset_is_the_oldest_entry_not_yet_settled() -> None:
    ix = Index()
    ix.feed(record(10, "a", entry("a", NOW + 100)), record(11, "b", entry("b", NOW + 1)))
    ix.now += 1
    [batch] = [ix.scheduler._take_due(ix.now)]
    assert batch is not None
    assert ix.scheduler._safe_offsets() == {0: 10}
    ix.feed(record(12, "a", None))  # a settled
    assert ix.scheduler._safe_offsets() == {0: 11}  # b still running
    await ix.scheduler._run(batch)
    assert ix.scheduler._safe_offsets() == {} and ix.handled == [["b"]]


async def test_entries_outside_the_scope_are_not_indexed() -> None:
    ix = Index(accept={"mine"}.__contains__)
    ix.feed(record(0, "a", entry("a", NOW, sub="theirs")), record(1, "b", entry("b", NOW, sub="mine")))
    assert ix.due() == [["b"]]


async def test_an_invalid_entry_is_skipped_and_counted() -> None:
    ix = Index()
    ix.feed(SimpleNamespace(key=b"k", value=b"\xff", headers=[], offset=0), record(1, "ok", entry("ok", NOW)))
    assert ix.due() == [["ok"]]
    metrics = ix.scheduler._metrics
    assert metrics.scheduled_dropped.labels(reason="invalid_entry")._value.get() == 1


async def test_the_heap_stays_bounded_when_entries_are_replaced_over_and_over() -> None:
    ix = Index()
    deferred = Kind.SCHEDULED_KIND_DEFERRED
    for i in range(5000):
        ix.feed(record(i, "a", entry("a", NOW + 100 + i)), record(i, "d", entry("d", NOW + 50, deferred)))
    assert len(ix.scheduler._heap) <= 1024 + 4 * 2 + 2
    ix.now += 100 + 5000
    assert ix.due() == [["d"], ["a"]]


def test_partition_for_is_stable_and_spread() -> None:
    assert partition_for("sub-1", 3) == partition_for("sub-1", 3)
    assert {partition_for(f"s{i}", 3) for i in range(50)} == {0, 1, 2}


@pytest.mark.integration
async def test_the_schedule_on_kafka_survives_a_restart_and_keeps_order(settings: Settings) -> None:
    await ensure_topics(settings)
    group = f"test-schedule-{uuid.uuid4().hex}"
    await commit_group_to_end(settings, group, SCHEDULE)
    sub = f"sub-{uuid.uuid4().hex}"
    handled: list[str] = []

    async def handle(entries: list[ScheduledDelivery]) -> None:
        handled.extend(e.delivery_id for e in entries)

    def scheduler() -> Scheduler:
        metrics = AlerterMetrics(CollectorRegistry())
        return Scheduler(settings, group, handle, metrics, accept={sub}.__contains__)

    producer = make_producer(settings, "test")
    await producer.start()
    first = scheduler()
    try:
        writer = ScheduleWriter(producer)
        now = time.time()
        await (await writer.put(entry("late", now + 600, sub=sub)))
        await (await writer.put(entry("soon", now + 0.3, sub=sub)))
        await first.start()
        await eventually(lambda: handled == ["soon"])
        await first.stop()  # "soon" was handled but never settled; "late" is pending
        second = scheduler()
        await second.start()
        try:
            await eventually(lambda: handled == ["soon", "soon"])  # read again: at least once
            assert len(second) == 1  # "late" is back in the index, still waiting
            await (await writer.settle("late", sub))
            await (await writer.settle("soon", sub))
            await eventually(lambda: len(second) == 0)
        finally:
            await second.stop()
    finally:
        await first.stop()
        await producer.stop()

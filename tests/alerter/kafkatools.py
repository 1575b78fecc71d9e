"""Helpers of the alerter's integration tests: fresh groups, topic tails, alerts in, scoped alerters."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer

from newswatch import contracts
from newswatch.alerter.service import AlerterService
from newswatch.alerter.subscriptions import add_subscription, new_subscription, remove_subscription
from newswatch.kafka import assign_all_partitions, ensure_topics, make_consumer, make_producer, publish
from newswatch.settings import Settings
from newswatch.topics import ALERTS, SCHEDULE, TopicSpec
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.delivery_pb2 import DeliveryAttempt
from newswatch.v1.subscription_pb2 import Subscription
from tests.alerter.receiver import Receiver
from tests.helpers import wait_until


def fast(settings: Settings) -> Settings:
    return settings.replace(
        alerter_metrics_port=0,
        api_port=0,
        delivery_retry_schedule="0.2s,0.4s",
        webhook_timeout_seconds=3.0,
        shutdown_deadline_seconds=8.0,
    )


async def commit_group_to_end(settings: Settings, group_id: str, topic: TopicSpec) -> None:
    """Start ``group_id`` at the current end of ``topic``: the shared topic's history is not ours."""
    consumer = make_consumer(settings, "test-seed", group_id=group_id)
    await consumer.start()
    try:
        tps = await assign_all_partitions(consumer, topic)
        await consumer.commit(dict(await consumer.end_offsets(tps)))
    finally:
        await consumer.stop()


class Tail:
    """Records appended to a topic after ``start()``."""

    def __init__(self, settings: Settings, topic: TopicSpec) -> None:
        self._consumer: AIOKafkaConsumer = make_consumer(settings, "test-tail", group_id=None)
        self._topic = topic
        self._settings = settings
        self.records: list[Any] = []

    async def start(self) -> None:
        await self._consumer.start()
        tps = await assign_all_partitions(self._consumer, self._topic)
        for tp, end in (await self._consumer.end_offsets(tps)).items():
            self._consumer.seek(tp, end)

    async def wait_for(
        self, keep: Callable[[Any], bool], enough: Callable[[list[Any]], bool], within_seconds: float = 30
    ) -> list[Any]:
        deadline = time.monotonic() + within_seconds
        while True:
            kept = [r for r in self.records if keep(r)]
            if enough(kept):
                return kept
            assert time.monotonic() < deadline, f"timed out on {self._topic.name}: {kept}"
            batch = await self._consumer.getmany(timeout_ms=300)
            for records in batch.values():
                self.records.extend(records)

    async def drain(self) -> list[Any]:
        """Read until a fetch comes back empty; return every record read so far."""
        while True:
            batch = await self._consumer.getmany(timeout_ms=500)
            if not batch:
                return self.records
            for records in batch.values():
                self.records.extend(records)

    async def stop(self) -> None:
        await self._consumer.stop()


@asynccontextmanager
async def tails(settings: Settings, *topics: TopicSpec) -> AsyncIterator[list[Tail]]:
    started = [Tail(settings, t) for t in topics]
    for t in started:
        await t.start()
    try:
        yield started
    finally:
        for t in started:
            await t.stop()


def attempts_of(sub: Subscription) -> Callable[[Any], bool]:
    def keep(record: Any) -> bool:
        msg = contracts.decode(DeliveryAttempt, record.value, record.headers)
        return msg.subscription_id == sub.subscription_id

    return keep


def decoded(records: list[Any]) -> list[DeliveryAttempt]:
    return [contracts.decode(DeliveryAttempt, r.value, r.headers) for r in records]


def make_alert(watchlist: str, article: str | None = None) -> Alert:
    article = article or uuid.uuid4().hex
    return Alert(
        alert_id=f"{article}:{watchlist}",
        watchlist_id=watchlist,
        watchlist_name="Test",
        article_id=article,
        title="Palmyre reprise",
        url=f"https://example.org/{article}",
        score=0.9,
        created_at=contracts.timestamp(),
    )


async def produce(settings: Settings, *alerts: Alert) -> None:
    producer = make_producer(settings, "test")
    await producer.start()
    try:
        for alert in alerts:
            await (await publish(producer, ALERTS, alert.article_id, alert))
    finally:
        await producer.stop()


async def eventually(check: Callable[[], bool], within_seconds: float = 30.0) -> None:
    await wait_until(check, within_seconds, "the condition")


@asynccontextmanager
async def scenario(
    settings: Settings, receiver: Receiver
) -> AsyncIterator[tuple[Settings, str, Subscription]]:
    """Fast settings, a fresh consumer group at the end of the alerts and schedule topics, a subscription to
    ``receiver`` filtered on a watch list of its own (removed afterwards)."""
    cfg = fast(settings)
    await ensure_topics(cfg)
    group = f"test-alerter-{uuid.uuid4().hex}"
    await commit_group_to_end(cfg, group, ALERTS)
    await commit_group_to_end(cfg, f"{group}.schedule", SCHEDULE)
    watchlist = f"wl-{uuid.uuid4().hex}"
    sub = new_subscription("test", webhook_url=receiver.url, watchlists=[watchlist], allow_private=True)
    await add_subscription(cfg, sub)
    try:
        yield cfg, group, sub
    finally:
        await remove_subscription(cfg, sub.subscription_id)


def alerter(cfg: Settings, group: str, *subs: Subscription) -> AlerterService:
    """An alerter serving only ``subs``: other tests on the shared broker have alerters of their own."""
    mine = {s.subscription_id for s in subs}
    return AlerterService(cfg, group_id=group, scope=mine.__contains__)

"""The alerter on the real broker: alerts in, signed webhooks out, audit and dead letters on Kafka."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from newswatch import contracts
from newswatch.alerter.fanout import DLQ_REASON_HEADER, delivery_id_for
from newswatch.alerter.service import AlerterService
from newswatch.alerter.subscriptions import add_subscription, new_subscription, remove_subscription
from newswatch.kafka import ensure_topics, make_consumer, make_producer, publish
from newswatch.settings import Settings
from newswatch.topics import ALERTS, ALERTS_DLQ, DELIVERIES, TopicSpec
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.delivery_pb2 import DeliveryAttempt, DeliveryOutcome
from newswatch.v1.subscription_pb2 import Subscription
from tests.alerter.receiver import Receiver, Step, check_signed

pytestmark = pytest.mark.integration
Outcome = DeliveryOutcome


def fast(settings: Settings) -> Settings:
    return settings.replace(
        alerter_metrics_port=0,
        api_port=0,
        delivery_backoff_initial_seconds=0.05,
        delivery_backoff_max_seconds=0.2,
        webhook_timeout_seconds=3.0,
        shutdown_deadline_seconds=8.0,
    )


async def partitions(settings: Settings, topic: TopicSpec) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic.name])
    finally:
        await admin.close()
    found = sorted(TopicPartition(topic.name, p["partition"]) for p in described["partitions"])
    assert found, f"{topic.name} has no partitions"
    return found


async def commit_group_to_end(settings: Settings, group_id: str, topic: TopicSpec) -> None:
    """Start ``group_id`` at the current end of ``topic``: the shared topic's history is not ours."""
    consumer = make_consumer(settings, "test-seed", group_id=group_id)
    await consumer.start()
    try:
        tps = await partitions(settings, topic)
        ends = await consumer.end_offsets(tps)
        consumer.assign(tps)
        await consumer.commit(dict(ends))
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
        tps = await partitions(self._settings, self._topic)
        self._consumer.assign(tps)
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
    deadline = time.monotonic() + within_seconds
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


@asynccontextmanager
async def scenario(
    settings: Settings, receiver: Receiver
) -> AsyncIterator[tuple[Settings, str, Subscription]]:
    """Fast settings, a fresh consumer group at the end of the alerts topic, a subscription to ``receiver``
    filtered on a watch list of its own (removed afterwards)."""
    cfg = fast(settings)
    await ensure_topics(cfg)
    group = f"test-alerter-{uuid.uuid4().hex}"
    await commit_group_to_end(cfg, group, ALERTS)
    watchlist = f"wl-{uuid.uuid4().hex}"
    sub = new_subscription("test", webhook_url=receiver.url, watchlists=[watchlist], allow_private=True)
    await add_subscription(cfg, sub)
    try:
        yield cfg, group, sub
    finally:
        await remove_subscription(cfg, sub.subscription_id)


async def test_an_alert_reaches_the_receiver_once_signed_and_is_audited(settings: Settings) -> None:
    async with Receiver() as rx, scenario(settings, rx) as (cfg, group, sub):
        service = AlerterService(cfg, group_id=group)
        async with tails(cfg, DELIVERIES) as [deliveries]:
            try:
                await service.start()
                alert = make_alert(sub.watchlists[0])
                await produce(cfg, alert)
                found = await deliveries.wait_for(attempts_of(sub), lambda rs: len(rs) >= 1)
                async with aiohttp.ClientSession() as http:
                    async with http.get(f"http://127.0.0.1:{service.metrics_port}/metrics") as resp:
                        exposed = await resp.text()
                    async with http.get(f"http://127.0.0.1:{service.metrics_port}/readyz") as resp:
                        assert resp.status == 200
            finally:
                await service.stop()
                await service.stop()  # idempotent
    [attempt] = decoded(found)
    assert attempt.outcome == Outcome.DELIVERY_OUTCOME_DELIVERED and attempt.http_status == 204
    assert attempt.alert_id == alert.alert_id and found[0].key == alert.alert_id.encode()
    assert attempt.delivery_id == delivery_id_for(alert.alert_id, sub.subscription_id)
    assert len(rx.received) == 1
    check_signed(sub.webhook.secret, rx.received[0])
    assert rx.received[0].headers["webhook-id"] == attempt.delivery_id
    assert 'newswatch_alerter_deliveries_total{channel="webhook",outcome="delivered"}' in exposed


async def test_503_twice_then_200_is_delivered_once_with_every_attempt_recorded(settings: Settings) -> None:
    async with (
        Receiver([Step(503), Step(503)], default=Step(200)) as rx,
        scenario(settings, rx) as (cfg, group, sub),
    ):
        service = AlerterService(cfg, group_id=group)
        async with tails(cfg, DELIVERIES) as [deliveries]:
            try:
                await service.start()
                await produce(cfg, make_alert(sub.watchlists[0]))
                found = await deliveries.wait_for(
                    attempts_of(sub),
                    lambda rs: any(a.outcome == Outcome.DELIVERY_OUTCOME_DELIVERED for a in decoded(rs)),
                )
                await asyncio.sleep(0.3)  # nothing more may come
            finally:
                await service.stop()
    attempts = sorted(decoded(found), key=lambda a: a.attempt)
    assert [(a.attempt, a.outcome, a.http_status) for a in attempts] == [
        (1, Outcome.DELIVERY_OUTCOME_RETRYING, 503),
        (2, Outcome.DELIVERY_OUTCOME_RETRYING, 503),
        (3, Outcome.DELIVERY_OUTCOME_DELIVERED, 200),
    ]
    assert len(rx.received) == 3
    assert len({r.headers["webhook-id"] for r in rx.received}) == 1
    assert service.metrics.retries.labels(channel="webhook")._value.get() == 2


async def test_a_malformed_message_goes_to_the_dlq_and_the_service_carries_on(settings: Settings) -> None:
    async with Receiver() as rx, scenario(settings, rx) as (cfg, group, sub):
        service = AlerterService(cfg, group_id=group)
        poison_key = f"poison-{uuid.uuid4().hex}".encode()
        async with tails(cfg, ALERTS_DLQ) as [dlq]:
            try:
                await service.start()
                producer = make_producer(cfg, "test")
                await producer.start()
                try:
                    await producer.send_and_wait(ALERTS.name, b"\xffnot protobuf", key=poison_key)
                finally:
                    await producer.stop()
                await produce(cfg, make_alert(sub.watchlists[0]))
                [dead] = await dlq.wait_for(lambda r: r.key == poison_key, lambda rs: len(rs) >= 1)
                await eventually(lambda: len(rx.received) == 1)
            finally:
                await service.stop()
    assert dict(dead.headers)[DLQ_REASON_HEADER] == b"invalid_message"
    assert dead.value == b"\xffnot protobuf"
    assert service.metrics.dlq_messages.labels(reason="invalid_message")._value.get() >= 1


async def test_a_restart_does_not_deliver_committed_alerts_again(settings: Settings) -> None:
    async with Receiver() as rx, scenario(settings, rx) as (cfg, group, sub):
        article = uuid.uuid4().hex  # both alerts on one partition, in order
        first = make_alert(sub.watchlists[0], article)
        second = make_alert(sub.watchlists[0], article)
        second.alert_id += "-2"
        for alert in (first, second):
            service = AlerterService(cfg, group_id=group)
            try:
                await service.start()
                await produce(cfg, alert)
                wanted = alert.alert_id.encode()
                await eventually(lambda: any(wanted in r.body for r in rx.received))  # noqa: B023
            finally:
                await service.stop()
        await asyncio.sleep(0.3)
    bodies = [r.body for r in rx.received]
    assert sum(first.alert_id.encode() + b'"' in b for b in bodies) == 1
    assert sum(second.alert_id.encode() in b for b in bodies) == 1


async def test_an_alert_cut_short_by_shutdown_is_delivered_after_restart(settings: Settings) -> None:
    async with Receiver([Step(503)], default=Step(200)) as rx, scenario(settings, rx) as (cfg, group, sub):
        slow = cfg.replace(delivery_backoff_initial_seconds=60, delivery_backoff_max_seconds=60)
        alert = make_alert(sub.watchlists[0])
        service = AlerterService(slow, group_id=group)
        try:
            await service.start()
            await produce(slow, alert)
            await eventually(lambda: len(rx.received) == 1)  # the 503, then a 60 s backoff
        finally:
            await service.stop()  # cuts the backoff short: the alert is not committed
        restarted = AlerterService(cfg, group_id=group)
        try:
            await restarted.start()
            await eventually(lambda: len(rx.received) == 2)
        finally:
            await restarted.stop()
    assert {r.headers["webhook-id"] for r in rx.received} == {
        delivery_id_for(alert.alert_id, sub.subscription_id)
    }

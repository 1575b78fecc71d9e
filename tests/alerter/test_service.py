"""The alerter on the real broker: alerts in, signed webhooks out, audit and dead letters on Kafka."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import aiohttp
import pytest

from newswatch.alerter.fanout import DLQ_REASON_HEADER, delivery_id_for, digest_id_for
from newswatch.alerter.subscriptions import add_subscription, new_subscription, remove_subscription
from newswatch.kafka import make_producer
from newswatch.settings import Settings
from newswatch.topics import ALERTS, ALERTS_DLQ, DELIVERIES
from newswatch.v1.delivery_pb2 import DeliveryOutcome
from tests.alerter.kafkatools import (
    alerter,
    attempts_of,
    decoded,
    eventually,
    make_alert,
    produce,
    scenario,
    tails,
)
from tests.alerter.receiver import Receiver, Step, check_signed

pytestmark = pytest.mark.integration
Outcome = DeliveryOutcome


async def test_an_alert_reaches_the_receiver_once_signed_and_is_audited(settings: Settings) -> None:
    async with Receiver() as rx, scenario(settings, rx) as (cfg, group, sub):
        service = alerter(cfg, group, sub)
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
        service = alerter(cfg, group, sub)
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
        service = alerter(cfg, group, sub)
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
            service = alerter(cfg, group, sub)
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


async def test_a_scheduled_retry_survives_a_restart(settings: Settings) -> None:
    async with Receiver([Step(503)], default=Step(200)) as rx, scenario(settings, rx) as (cfg, group, sub):
        slow = cfg.replace(delivery_retry_schedule="2s")
        alert = make_alert(sub.watchlists[0])
        service = alerter(slow, group, sub)
        try:
            await service.start()
            await produce(slow, alert)
            await eventually(lambda: len(rx.received) == 1)  # the 503; the retry waits on Kafka, 2 s
        finally:
            await service.stop()
        assert len(rx.received) == 1
        restarted = alerter(slow, group, sub)
        try:
            await restarted.start()
            await eventually(lambda: len(rx.received) == 2)
            await asyncio.sleep(0.5)  # nothing more may come
        finally:
            await restarted.stop()
    assert len(rx.received) == 2
    assert {r.headers["webhook-id"] for r in rx.received} == {
        delivery_id_for(alert.alert_id, sub.subscription_id)
    }


async def test_policies_hold_alerts_on_the_schedule_and_a_digest_comes_due(settings: Settings) -> None:
    """Digest (every 3 alerts) and quiet hours (the current hour) through Kafka: nothing arrives until the
    third alert, then one signed digest of the three."""
    async with Receiver() as rx, scenario(settings, rx) as (cfg, group, digest_sub):
        digest_sub.digest.every_alerts = 3
        await add_subscription(cfg, digest_sub)
        hour = datetime.now(UTC).hour
        quiet_sub = new_subscription(
            "quiet", webhook_url=rx.url, watchlists=[f"wl-{uuid.uuid4().hex}"], allow_private=True
        )
        quiet_sub.quiet_hours.start = f"{hour:02d}:00"
        quiet_sub.quiet_hours.end = f"{(hour + 2) % 24:02d}:00"
        await add_subscription(cfg, quiet_sub)
        service = alerter(cfg, group, digest_sub, quiet_sub)
        try:
            await service.start()
            assert service._digest_size(digest_sub.subscription_id) == 3  # the alerter sees the policy
            deferred = service.metrics.deferred
            first = [make_alert(digest_sub.watchlists[0]) for _ in range(2)]
            await produce(cfg, *first, make_alert(quiet_sub.watchlists[0]))
            await eventually(lambda: deferred.labels(reason="digest")._value.get() == 2)
            await eventually(lambda: deferred.labels(reason="quiet_hours")._value.get() == 1)
            await asyncio.sleep(0.5)
            assert rx.received == []  # all held
            third = make_alert(digest_sub.watchlists[0])
            await produce(cfg, third)
            await eventually(lambda: len(rx.received) == 1)
            await asyncio.sleep(0.5)  # nothing more may come
        finally:
            await service.stop()
            await remove_subscription(cfg, quiet_sub.subscription_id)
    [digest] = rx.received
    ids = [delivery_id_for(a.alert_id, digest_sub.subscription_id) for a in [*first, third]]
    assert digest.headers["webhook-id"] == digest_id_for(ids)
    check_signed(digest_sub.webhook.secret, digest)
    body = json.loads(digest.body)
    assert body["schema"] == "newswatch.digest.v1"
    assert sorted(a["alert_id"] for a in body["alerts"]) == sorted(a.alert_id for a in [*first, third])
    assert service.metrics.digests.labels(channel="webhook")._value.get() == 1

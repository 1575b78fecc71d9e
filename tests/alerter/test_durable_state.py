"""State that must survive on the real broker: disabled endpoints, DLQ depth after replay, rate limits."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from newswatch import contracts
from newswatch.alerter.fanout import delivery_id_for
from newswatch.alerter.replay import replay_dead_letters
from newswatch.alerter.service import AlerterService
from newswatch.alerter.subscriptions import add_subscription, new_subscription, remove_subscription
from newswatch.kafka import ensure_topics
from newswatch.settings import Settings
from newswatch.topics import ALERTS, ALERTS_DLQ, DELIVERIES, ENDPOINTS, SCHEDULE, SUBSCRIPTIONS
from newswatch.v1.delivery_pb2 import DeliveryAttempt, DeliveryOutcome, EndpointHealth, EndpointState
from newswatch.v1.subscription_pb2 import Subscription
from tests.alerter.kafkatools import commit_group_to_end, eventually, fast, make_alert, produce, tails
from tests.alerter.receiver import Receiver, Step
from tests.alerter.smtpserver import SmtpServer

pytestmark = pytest.mark.integration
TOKEN = "durable-state-token-" + "x" * 8


async def fresh_group(cfg: Settings) -> str:
    group = f"test-alerter-{uuid.uuid4().hex}"
    await commit_group_to_end(cfg, group, ALERTS)
    await commit_group_to_end(cfg, f"{group}.schedule", SCHEDULE)
    return group


def scoped(
    cfg: Settings, group: str, sub: Subscription, clock: Callable[[], float] = time.time
) -> AlerterService:
    return AlerterService(cfg, group_id=group, scope=sub.subscription_id.__eq__, clock=clock)


def gauge(service: AlerterService, state: str) -> float:
    return float(service.metrics.endpoints.labels(state=state)._value.get())


def keyed(sub: Subscription) -> Callable[[Any], bool]:
    return lambda r: bool(r.key == sub.subscription_id.encode() and r.value is not None)


async def test_a_failing_endpoint_is_disabled_its_owner_told_and_enabled_again(settings: Settings) -> None:
    shift = [0.0]  # seconds the alerter's clock is ahead of the real one

    def clock() -> float:
        return time.time() + shift[0]

    async with Receiver(default=Step(503)) as rx, SmtpServer() as smtp:
        cfg = fast(settings).replace(
            endpoint_disable_after_seconds=60.0,
            api_token=TOKEN,
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_security="none",
            smtp_timeout_seconds=5.0,
        )
        await ensure_topics(cfg)
        group = await fresh_group(cfg)
        sub = new_subscription(
            "failing", webhook_url=rx.url, watchlists=[f"wl-{uuid.uuid4().hex}"], allow_private=True
        )
        sub.owner_email = f"owner-{uuid.uuid4().hex[:8]}@example.org"
        await add_subscription(cfg, sub)
        service = scoped(cfg, group, sub, clock)
        try:
            async with tails(cfg, ENDPOINTS, SUBSCRIPTIONS, DELIVERIES) as [endpoints, subs, deliveries]:
                await service.start()
                await produce(cfg, make_alert(sub.watchlists[0]))

                def state_is(state: EndpointState.ValueType) -> Callable[[list[Any]], bool]:
                    def enough(records: list[Any]) -> bool:
                        health = [contracts.decode(EndpointHealth, r.value, r.headers) for r in records]
                        return any(h.state == state for h in health)

                    return enough

                await endpoints.wait_for(keyed(sub), state_is(EndpointState.ENDPOINT_STATE_FAILING))
                await eventually(lambda: gauge(service, "failing") == 1)
                shift[0] = 120.0  # past the 60 s window: the next failure disables the endpoint
                await produce(cfg, make_alert(sub.watchlists[0]))
                await endpoints.wait_for(keyed(sub), state_is(EndpointState.ENDPOINT_STATE_DISABLED))
                written = await subs.wait_for(
                    keyed(sub),
                    lambda rs: any(
                        not contracts.decode(Subscription, r.value, r.headers).enabled for r in rs
                    ),
                )
                disabled = contracts.decode(Subscription, written[-1].value, written[-1].headers)
                assert not disabled.enabled
                assert "endpoint failed every delivery" in disabled.disabled_reason
                await eventually(lambda: any(sub.owner_email in m.recipients for m in smtp.received))
                notice = next(m for m in smtp.received if sub.owner_email in m.recipients).message()
                assert "subscription disabled" in str(notice["Subject"])
                assert service.metrics.endpoints_disabled._value.get() == 1
                await eventually(lambda: gauge(service, "disabled") == 1 and gauge(service, "failing") == 0)

                rx.default = Step(204)
                url = f"http://127.0.0.1:{service.api_port}/v1/subscriptions/{sub.subscription_id}"
                async with aiohttp.ClientSession() as http:
                    auth = {"Authorization": f"Bearer {TOKEN}"}
                    async with http.patch(url, json={"enabled": True}, headers=auth) as resp:
                        assert resp.status == 200
                        body = await resp.json()
                assert body["enabled"] is True and not body.get("disabled_reason")
                again = make_alert(sub.watchlists[0])
                await produce(cfg, again)
                wanted = delivery_id_for(again.alert_id, sub.subscription_id)

                def delivered(records: list[Any]) -> bool:
                    found = [contracts.decode(DeliveryAttempt, r.value, r.headers) for r in records]
                    return any(
                        a.delivery_id == wanted and a.outcome == DeliveryOutcome.DELIVERY_OUTCOME_DELIVERED
                        for a in found
                    )

                await deliveries.wait_for(lambda r: r.key == again.alert_id.encode(), delivered)
                await endpoints.wait_for(keyed(sub), state_is(EndpointState.ENDPOINT_STATE_HEALTHY))
                await eventually(lambda: gauge(service, "healthy") == 1 and gauge(service, "disabled") == 0)
        finally:
            await service.stop()
            await remove_subscription(cfg, sub.subscription_id)


async def test_the_dlq_depth_drops_once_a_dead_letter_is_replayed_and_stays_down(settings: Settings) -> None:
    async with Receiver([Step(400)], default=Step(204)) as rx:
        cfg = fast(settings)
        await ensure_topics(cfg)
        group = await fresh_group(cfg)
        sub = new_subscription(
            "dlq", webhook_url=rx.url, watchlists=[f"wl-{uuid.uuid4().hex}"], allow_private=True
        )
        await add_subscription(cfg, sub)
        alert = make_alert(sub.watchlists[0])
        wanted = delivery_id_for(alert.alert_id, sub.subscription_id)
        since = datetime.now(UTC) - timedelta(minutes=1)
        service = scoped(cfg, group, sub)
        try:
            async with tails(cfg, ALERTS_DLQ) as [dlq]:
                await service.start()
                await produce(cfg, alert)
                await dlq.wait_for(lambda r: r.key == alert.alert_id.encode(), lambda rs: len(rs) >= 1)
            depth = service.dead_letters
            assert depth is not None
            await eventually(lambda: wanted in depth.outstanding)
            await eventually(lambda: service.metrics.dlq_depth._value.get() >= 1)
            report = await replay_dead_letters(cfg, since, subscription_id=sub.subscription_id)
            assert report.replayed == 1
            await eventually(lambda: wanted not in depth.outstanding)
            await eventually(lambda: len(rx.received) == 2)  # re-sent and delivered this time
        finally:
            await service.stop()
        restarted = scoped(cfg, group, sub)
        try:
            await restarted.start()
            assert restarted.dead_letters is not None
            await restarted.dead_letters.loaded.wait()
            assert wanted not in restarted.dead_letters.outstanding  # the mark is durable
            assert restarted.metrics.dlq_depth._value.get() == len(restarted.dead_letters.outstanding)
        finally:
            await restarted.stop()
            await remove_subscription(cfg, sub.subscription_id)


async def test_the_rate_limit_holds_across_a_restart(settings: Settings) -> None:
    async with Receiver(default=Step(204)) as rx:
        cfg = fast(settings)
        await ensure_topics(cfg)
        group = await fresh_group(cfg)
        sub = new_subscription(
            "limited", webhook_url=rx.url, watchlists=[f"wl-{uuid.uuid4().hex}"], allow_private=True
        )
        sub.rate_limit_per_hour = 2
        await add_subscription(cfg, sub)
        first = scoped(cfg, group, sub)
        try:
            await first.start()
            await produce(cfg, make_alert(sub.watchlists[0]), make_alert(sub.watchlists[0]))
            await eventually(lambda: len(rx.received) == 2)
        finally:
            await first.stop()
        second = scoped(cfg, group, sub)
        try:
            await second.start()
            assert second.limiter.reopens_at(sub.subscription_id, 2, time.time()) is not None
            await produce(cfg, make_alert(sub.watchlists[0]))
            await eventually(lambda: second.metrics.deferred.labels(reason="rate_limit")._value.get() == 1)
            assert len(rx.received) == 2  # the third waits for the hour to roll on
        finally:
            await second.stop()
            await remove_subscription(cfg, sub.subscription_id)

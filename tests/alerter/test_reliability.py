"""Faults on the real broker with real receivers on loopback: outages, refused connections, SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from newswatch.alerter.fanout import delivery_id_for
from newswatch.alerter.subscriptions import add_subscription, new_subscription, remove_subscription
from newswatch.kafka import ensure_topics
from newswatch.settings import Settings
from newswatch.topics import ALERTS, ALERTS_DLQ, DELIVERIES, SCHEDULE
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.delivery_pb2 import DeliveryOutcome
from newswatch.v1.subscription_pb2 import Subscription
from tests.alerter.kafkatools import (
    alerter,
    attempts_of,
    commit_group_to_end,
    decoded,
    eventually,
    fast,
    make_alert,
    produce,
    tails,
)
from tests.alerter.receiver import Receiver
from tests.helpers import free_port

pytestmark = pytest.mark.integration
Outcome = DeliveryOutcome
REPO = Path(__file__).resolve().parents[2]
CONCURRENCY = 4  # deliveries in flight at once in the killed alerter: a slow stream, easy to cut mid-way


def delivered_ids(records: list[Any]) -> set[str]:
    return {a.delivery_id for a in decoded(records) if a.outcome == Outcome.DELIVERY_OUTCOME_DELIVERED}


class FlakyReceiver:
    """A webhook receiver on a fixed loopback port that can answer 503, go away (connections refused)
    and come back. ``log`` holds (webhook-id, status answered) in arrival order."""

    def __init__(self, delay_seconds: float = 0.0) -> None:
        self.port = free_port()
        self.status = 200
        self.delay_seconds = delay_seconds
        self.log: list[tuple[str, int]] = []
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def up(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def down(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _hook(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        status = self.status
        self.log.append((request.headers["webhook-id"], status))
        return web.Response(status=status)

    def delivered(self) -> Counter[str]:
        return Counter(wid for wid, status in self.log if 200 <= status < 300)


@asynccontextmanager
async def flaky_scenario(
    settings: Settings, rx: FlakyReceiver, schedule: str
) -> AsyncIterator[tuple[Settings, str, Subscription]]:
    cfg = fast(settings).replace(delivery_retry_schedule=schedule)
    await ensure_topics(cfg)
    group = f"test-alerter-{uuid.uuid4().hex}"
    await commit_group_to_end(cfg, group, ALERTS)
    await commit_group_to_end(cfg, f"{group}.schedule", SCHEDULE)
    sub = new_subscription(
        "flaky", webhook_url=rx.url, watchlists=[f"wl-{uuid.uuid4().hex}"], allow_private=True
    )
    await add_subscription(cfg, sub)
    await rx.up()
    try:
        yield cfg, group, sub
    finally:
        await rx.down()
        await remove_subscription(cfg, sub.subscription_id)


async def test_503_then_refused_connections_then_recovery_delivers_everything_once(
    settings: Settings,
) -> None:
    rx = FlakyReceiver()
    # 1 + 12 attempts over about 9 s: longer than the outage below
    async with flaky_scenario(settings, rx, "0.3s,0.5s,0.8s,1s,1s,1s,1s,1s,1s,1s,1s,1s") as (cfg, group, sub):
        alerts = [make_alert(sub.watchlists[0]) for _ in range(20)]
        wanted = {delivery_id_for(a.alert_id, sub.subscription_id) for a in alerts}
        service = alerter(cfg, group, sub)
        async with tails(cfg, DELIVERIES, ALERTS_DLQ) as [deliveries, dlq]:
            try:
                await service.start()
                rx.status = 503
                await produce(cfg, *alerts)
                await eventually(lambda: {wid for wid, _ in rx.log} == wanted)  # every alert refused once
                await rx.down()  # connections refused now
                await asyncio.sleep(1.5)
                rx.status = 200
                await rx.up()
                await eventually(lambda: set(rx.delivered()) == wanted, within_seconds=60)
                await deliveries.wait_for(attempts_of(sub), lambda rs: delivered_ids(rs) == wanted)
                await asyncio.sleep(1.0)  # a duplicate would show up here
                found = [r for r in await deliveries.drain() if attempts_of(sub)(r)]
                ids = {a.alert_id.encode() for a in alerts}
                dead = [r for r in await dlq.drain() if r.key in ids]
            finally:
                await service.stop()
    successes = Counter(
        a.delivery_id for a in decoded(found) if a.outcome == Outcome.DELIVERY_OUTCOME_DELIVERED
    )
    assert set(successes) == wanted and set(successes.values()) == {1}  # no duplicate success
    assert set(rx.delivered().values()) == {1}  # and the receiver got each alert once
    assert dead == []  # nothing lost to the DLQ
    errors = {a.error.split(":")[0] for a in decoded(found) if a.outcome == Outcome.DELIVERY_OUTCOME_RETRYING}
    assert any("503" in e for e in errors) and any("cannot connect" in e for e in errors), errors
    assert service.metrics.retries.labels(channel="webhook")._value.get() >= 2 * len(alerts)


def _spawn_env(cfg: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'services'}",
        "NEWSWATCH_KAFKA_BOOTSTRAP": cfg.kafka_bootstrap,
        "NEWSWATCH_ALLOW_PRIVATE_NETWORKS": "true",
        "NEWSWATCH_ALERTER_METRICS_PORT": "0",
        "NEWSWATCH_API_PORT": "0",
        "NEWSWATCH_TOPIC_PARTITIONS": str(cfg.topic_partitions),
        "NEWSWATCH_DELIVERY_RETRY_SCHEDULE": cfg.delivery_retry_schedule,
        "NEWSWATCH_LOG_LEVEL": "WARNING",
        "NEWSWATCH_DELIVERY_CONCURRENCY": str(CONCURRENCY),
    }


async def _spawn(cfg: Settings, group: str, sub: Subscription) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.alerter.alerter_proc", group, sub.subscription_id,
        cwd=REPO, env=_spawn_env(cfg), stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
    assert line.strip() == b"started", line
    return proc


async def test_sigkill_mid_batch_then_restart_delivers_the_rest_once(settings: Settings) -> None:
    rx = FlakyReceiver(delay_seconds=0.05)
    async with flaky_scenario(settings, rx, "0.3s,0.5s") as (cfg, group, sub):
        article = uuid.uuid4().hex
        alerts = []
        for i in range(60):
            alert: Alert = make_alert(sub.watchlists[0], article)  # one partition, in order
            alert.alert_id += f"-{i}"
            alerts.append(alert)
        wanted = {delivery_id_for(a.alert_id, sub.subscription_id) for a in alerts}
        async with tails(cfg, DELIVERIES) as [deliveries]:
            first = await _spawn(cfg, group, sub)
            try:
                await produce(cfg, *alerts)
                await eventually(lambda: len(rx.log) >= 10)
            finally:
                first.send_signal(signal.SIGKILL)
                await first.wait()
            await asyncio.sleep(4 * rx.delay_seconds)  # requests cut off by the kill finish on the receiver
            before_kill = set(rx.delivered())
            durable = delivered_ids([r for r in await deliveries.drain() if attempts_of(sub)(r)])
            assert 0 < len(before_kill) < len(wanted), "the kill must land mid-stream"
            second = await _spawn(cfg, group, sub)
            try:
                await eventually(lambda: set(rx.delivered()) == wanted, within_seconds=60)
                await asyncio.sleep(1.0)  # a late duplicate would show up here
            finally:
                second.send_signal(signal.SIGTERM)
                await asyncio.wait_for(second.wait(), timeout=30)
            await deliveries.wait_for(attempts_of(sub), lambda rs: delivered_ids(rs) == wanted)
            found = [r for r in await deliveries.drain() if attempts_of(sub)(r)]
    got = rx.delivered()
    assert set(got) == wanted  # nothing lost
    # Only an alert in flight at the kill (delivered, its success not yet durable) may arrive twice, with
    # the same webhook-id so that the receiver drops it; an alert whose success was recorded before the
    # kill is not sent again, and every alert not yet sent at the kill arrives once.
    repeated = {wid for wid, n in got.items() if n > 1}
    assert repeated <= before_kill
    assert durable and not repeated & durable
    successes = Counter(
        a.delivery_id for a in decoded(found) if a.outcome == Outcome.DELIVERY_OUTCOME_DELIVERED
    )
    assert set(successes) <= wanted and max(successes.values()) == 1  # never two reported successes
    assert set(wanted) - set(successes) <= before_kill  # only in-flight ones can lack their record


async def test_a_hanging_endpoint_does_not_hold_back_later_alerts(settings: Settings) -> None:
    hang = FlakyReceiver(delay_seconds=5.0)  # longer than the webhook timeout (3 s): the attempt fails
    async with (
        flaky_scenario(settings, hang, "0.2s") as (cfg, group, slow_sub),
        Receiver() as quick_rx,
    ):
        quick_sub = new_subscription(
            "quick", webhook_url=quick_rx.url, watchlists=[f"wl-{uuid.uuid4().hex}"], allow_private=True
        )
        await add_subscription(cfg, quick_sub)
        service = alerter(cfg, group, slow_sub, quick_sub)
        try:
            await service.start()
            article = uuid.uuid4().hex  # one partition: the quick alert comes after the slow one
            await produce(cfg, make_alert(slow_sub.watchlists[0], article))
            await eventually(lambda: service.metrics.in_flight._value.get() == 1)  # the slow POST hangs
            await produce(cfg, make_alert(quick_sub.watchlists[0], article))
            await eventually(lambda: len(quick_rx.received) == 1)
            # delivered while the slow attempt was still hanging: no outcome recorded for it yet
            retrying = service.metrics.deliveries.labels(channel="webhook", outcome="retrying")._value.get()
            assert retrying == 0
        finally:
            await service.stop()
            await remove_subscription(cfg, quick_sub.subscription_id)

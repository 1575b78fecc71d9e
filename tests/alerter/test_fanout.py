"""Fan-out with fakes: attempts, durable retries, audit, dead letters, policies, digests, dedupe."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from google.protobuf.message import Message
from prometheus_client import CollectorRegistry

from newswatch.alerter.channels import DeliveryResult, RetryLaterError, ScriptedChannel
from newswatch.alerter.endpoints import EndpointTracker
from newswatch.alerter.fanout import (
    DLQ_REASON_HEADER,
    DLQ_SUBSCRIPTION_HEADER,
    Fanout,
    delivery_id_for,
    digest_id_for,
    retry_delay,
)
from newswatch.alerter.ledger import OutcomeCache
from newswatch.alerter.metrics import AlerterMetrics
from newswatch.alerter.subscriptions import new_subscription
from newswatch.errors import DeliveryError
from newswatch.settings import Settings
from newswatch.topics import ALERTS_DLQ, DELIVERIES, ENDPOINTS, TopicSpec
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.delivery_pb2 import (
    DeliveryAttempt,
    DeliveryOutcome,
    EndpointHealth,
    EndpointState,
    ScheduledDelivery,
    ScheduledKind,
)
from newswatch.v1.subscription_pb2 import Digest, Subscription

Outcome = DeliveryOutcome
Kind = ScheduledKind
ALERT = Alert(alert_id="al-1", watchlist_id="w")
SETTINGS = Settings().replace(delivery_retry_schedule="1s,2s")
NOW = 1_700_000_000.0


def _ack() -> asyncio.Future[Any]:
    ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    ack.set_result(None)
    return ack


class FakeOutbox:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Message | None, list[tuple[str, bytes]]]] = []

    async def __call__(
        self, topic: TopicSpec, key: str, message: Message | None, headers: Sequence[tuple[str, bytes]]
    ) -> asyncio.Future[Any]:
        self.sent.append((topic.name, key, message, list(headers)))
        return _ack()

    def attempts(self) -> list[DeliveryAttempt]:
        return [m for t, _, m, _ in self.sent if t == DELIVERIES.name and isinstance(m, DeliveryAttempt)]

    def dead_letters(self) -> list[tuple[str, dict[str, bytes]]]:
        return [(k, dict(h)) for t, k, _, h in self.sent if t == ALERTS_DLQ.name]


class FakeSchedule:
    def __init__(self) -> None:
        self.puts: list[ScheduledDelivery] = []
        self.settled: list[str] = []

    async def put(self, entry: ScheduledDelivery) -> asyncio.Future[Any]:
        copy = ScheduledDelivery()
        copy.CopyFrom(entry)
        self.puts.append(copy)
        return _ack()

    async def settle(self, delivery_id: str, subscription_id: str) -> asyncio.Future[Any]:
        self.settled.append(delivery_id)
        return _ack()


class DigestScripted(ScriptedChannel):
    """A scripted channel that also takes digests; ``digests`` records (delivery_id, alert ids)."""

    def __init__(self, script: Sequence[DeliveryResult | Exception] = ()) -> None:
        super().__init__("webhook", script)
        self.digests: list[tuple[str, list[str]]] = []

    async def deliver_digest(
        self, alerts: Sequence[Alert], subscription: Subscription, delivery_id: str, attempt: int
    ) -> DeliveryResult:
        self.digests.append((delivery_id, [a.alert_id for a in alerts]))
        step = self.script.pop(0) if self.script else DeliveryResult(http_status=200)
        if isinstance(step, Exception):
            raise step
        return step


class World:
    def __init__(self, script: Sequence[DeliveryResult | Exception] = (), *, digest: bool = False) -> None:
        self.channel: ScriptedChannel = (
            DigestScripted(script) if digest else ScriptedChannel("webhook", script)
        )
        self.outbox = FakeOutbox()
        self.schedule = FakeSchedule()
        self.registry = CollectorRegistry()
        self.subs: dict[str, Subscription] = {}
        self.now = NOW
        self.disabled: list[tuple[str, str]] = []
        self.endpoints = EndpointTracker(
            self.outbox, self._disable, disable_after_seconds=100.0, clock=lambda: self.now
        )
        self.fanout = Fanout(
            SETTINGS,
            {"webhook": self.channel},
            self.outbox,
            AlerterMetrics(self.registry),
            self.schedule,
            outcomes=OutcomeCache(),
            endpoints=self.endpoints,
            lookup=self.subs.get,
            rng=lambda: 0.5,
            clock=lambda: self.now,
        )

    async def _disable(self, sub: Subscription, reason: str) -> None:
        self.disabled.append((sub.subscription_id, reason))

    def sub(self, **fields: Any) -> Subscription:
        sub = new_subscription("t", webhook_url="https://h.example.org/", allow_private=False)
        for name, value in fields.items():
            if isinstance(value, Message):
                getattr(sub, name).CopyFrom(value)
            else:
                setattr(sub, name, value)
        self.subs[sub.subscription_id] = sub
        return sub

    def value(self, name: str, **labels: str) -> float:
        got = self.registry.get_sample_value(name, labels)
        assert got is not None, name
        return got


def due(entry: ScheduledDelivery) -> float:
    return entry.not_before.seconds + entry.not_before.nanos / 1e9


async def test_delivered_first_time_is_audited_once() -> None:
    w = World([DeliveryResult(204)])
    sub = w.sub()
    assert await w.fanout.deliver(ALERT, [sub]) is True
    [attempt] = w.outbox.attempts()
    assert attempt.outcome == Outcome.DELIVERY_OUTCOME_DELIVERED
    assert attempt.http_status == 204 and attempt.attempt == 1 and attempt.channel == "webhook"
    assert attempt.delivery_id == delivery_id_for("al-1", sub.subscription_id)
    assert w.schedule.puts == [] and w.outbox.dead_letters() == []
    assert w.value("newswatch_alerter_deliveries_total", channel="webhook", outcome="delivered") == 1


async def test_a_retriable_failure_is_scheduled_durably_not_waited_for() -> None:
    w = World([DeliveryError("HTTP 503", retriable=True, status=503)])
    sub = w.sub()
    assert await w.fanout.deliver(ALERT, [sub]) is True
    [retry] = w.schedule.puts
    assert retry.kind == Kind.SCHEDULED_KIND_RETRY and retry.attempt == 2
    assert retry.delivery_id == delivery_id_for("al-1", sub.subscription_id)
    assert due(retry) == pytest.approx(NOW + 1.0)  # first step of "1s,2s", jitter at its midpoint
    assert "503" in retry.last_error and retry.alert == ALERT
    [attempt] = w.outbox.attempts()
    assert attempt.outcome == Outcome.DELIVERY_OUTCOME_RETRYING and attempt.http_status == 503
    assert w.value("newswatch_alerter_retries_total", channel="webhook") == 1


async def test_scheduled_retries_continue_then_exhaust_into_the_dlq() -> None:
    err = DeliveryError("HTTP 500", retriable=True, status=500)
    w = World([err, err, err])
    sub = w.sub()
    await w.fanout.deliver(ALERT, [sub])
    await w.fanout.run_scheduled([w.schedule.puts[-1]])  # attempt 2 fails: attempt 3 scheduled
    assert [p.attempt for p in w.schedule.puts] == [2, 3]
    assert due(w.schedule.puts[1]) == pytest.approx(NOW + 2.0)
    await w.fanout.run_scheduled([w.schedule.puts[-1]])  # attempt 3 = 1 + len(schedule): final
    assert [a.outcome for a in w.outbox.attempts()] == [
        Outcome.DELIVERY_OUTCOME_RETRYING, Outcome.DELIVERY_OUTCOME_RETRYING, Outcome.DELIVERY_OUTCOME_FAILED
    ]  # fmt: skip
    [(key, headers)] = w.outbox.dead_letters()
    assert key == "al-1" and headers[DLQ_REASON_HEADER] == b"delivery_failed"
    assert headers[DLQ_SUBSCRIPTION_HEADER] == sub.subscription_id.encode()
    assert w.schedule.settled == [delivery_id_for("al-1", sub.subscription_id)]
    assert len({c[2] for c in w.channel.calls}) == 1  # one webhook-id for every attempt


@pytest.mark.parametrize(
    ("status", "retriable", "outcome", "reason"),
    [
        (400, False, Outcome.DELIVERY_OUTCOME_REJECTED, b"delivery_rejected"),
        (410, False, Outcome.DELIVERY_OUTCOME_REJECTED, b"delivery_rejected"),
    ],
)
async def test_a_final_refusal_is_not_retried(
    status: int, retriable: bool, outcome: DeliveryOutcome.ValueType, reason: bytes
) -> None:
    w = World([DeliveryError(f"HTTP {status}", retriable=retriable, status=status)])
    await w.fanout.deliver(ALERT, [w.sub()])
    assert len(w.channel.calls) == 1 and w.schedule.puts == []
    [attempt] = w.outbox.attempts()
    assert attempt.outcome == outcome
    assert w.outbox.dead_letters()[0][1][DLQ_REASON_HEADER] == reason


async def test_a_scheduled_retry_that_succeeds_is_settled_and_never_delivered_twice() -> None:
    w = World([DeliveryError("HTTP 503", retriable=True, status=503)])
    sub = w.sub()
    await w.fanout.deliver(ALERT, [sub])
    retry = w.schedule.puts[-1]
    await w.fanout.run_scheduled([retry])
    await w.fanout.run_scheduled([retry])  # the same entry read again after a restart
    await w.fanout.deliver(ALERT, [sub])  # the alert read again
    delivered = [a for a in w.outbox.attempts() if a.outcome == Outcome.DELIVERY_OUTCOME_DELIVERED]
    assert len(delivered) == 1 and len(w.channel.calls) == 2
    assert w.schedule.settled == [retry.delivery_id, retry.delivery_id]
    assert w.value("newswatch_alerter_scheduled_dropped_total", reason="already_delivered") == 1


async def test_concurrent_copies_of_one_alert_share_one_delivery() -> None:
    w = World()
    sub = w.sub()
    await asyncio.gather(w.fanout.deliver(ALERT, [sub]), w.fanout.deliver(ALERT, [sub]))
    assert len(w.channel.calls) == 1
    assert w.value("newswatch_alerter_duplicates_suppressed_total") == 1


async def test_retry_after_lengthens_the_wait_up_to_the_longest_step() -> None:
    w = World([RetryLaterError("429", status=429, retry_after_seconds=3600)])
    await w.fanout.deliver(ALERT, [w.sub()])
    assert due(w.schedule.puts[0]) == pytest.approx(NOW + 2.0)


async def test_a_due_entry_for_a_removed_subscription_is_dropped() -> None:
    w = World([DeliveryError("HTTP 503", retriable=True, status=503)])
    sub = w.sub()
    await w.fanout.deliver(ALERT, [sub])
    del w.subs[sub.subscription_id]
    await w.fanout.run_scheduled([w.schedule.puts[-1]])
    assert len(w.channel.calls) == 1
    assert w.schedule.settled == [delivery_id_for("al-1", sub.subscription_id)]
    assert w.value("newswatch_alerter_scheduled_dropped_total", reason="subscription_removed") == 1


async def test_a_due_entry_for_a_disabled_subscription_goes_to_the_dlq() -> None:
    w = World([DeliveryError("HTTP 503", retriable=True, status=503)])
    sub = w.sub()
    await w.fanout.deliver(ALERT, [sub])
    sub.enabled = False
    await w.fanout.run_scheduled([w.schedule.puts[-1]])
    assert len(w.channel.calls) == 1
    assert w.outbox.dead_letters()[0][1][DLQ_REASON_HEADER] == b"subscription_disabled"


async def test_digest_mode_defers_then_delivers_one_digest_audited_per_alert() -> None:
    w = World(digest=True)
    sub = w.sub(digest=Digest(every_seconds=600))
    alerts = [Alert(alert_id=f"al-{i}", watchlist_id="w") for i in range(3)]
    for alert in alerts:
        await w.fanout.deliver(alert, [sub])
    assert w.channel.calls == [] and w.channel.digests == []  # type: ignore[attr-defined]
    assert [p.kind for p in w.schedule.puts] == [Kind.SCHEDULED_KIND_DEFERRED] * 3
    assert {due(p) for p in w.schedule.puts} == {NOW + 600}
    assert w.value("newswatch_alerter_deferred_total", reason="digest") == 3
    w.now += 600
    await w.fanout.run_scheduled(list(w.schedule.puts))
    ids = [delivery_id_for(a.alert_id, sub.subscription_id) for a in alerts]
    [(digest_id, members)] = w.channel.digests  # type: ignore[attr-defined]
    assert digest_id == digest_id_for(ids) and members == ["al-0", "al-1", "al-2"]
    assert sorted(a.delivery_id for a in w.outbox.attempts()) == sorted(ids)
    assert {a.outcome for a in w.outbox.attempts()} == {Outcome.DELIVERY_OUTCOME_DELIVERED}
    assert sorted(w.schedule.settled) == sorted(ids)
    assert w.value("newswatch_alerter_digests_total", channel="webhook") == 1


async def test_a_failed_digest_falls_back_to_retries_per_alert() -> None:
    w = World([DeliveryError("HTTP 502", retriable=True, status=502)], digest=True)
    sub = w.sub(digest=Digest(every_alerts=2))
    for i in range(2):
        await w.fanout.deliver(Alert(alert_id=f"al-{i}", watchlist_id="w"), [sub])
    await w.fanout.run_scheduled(list(w.schedule.puts))
    retries = [p for p in w.schedule.puts if p.kind == Kind.SCHEDULED_KIND_RETRY]
    assert [r.attempt for r in retries] == [2, 2] and w.schedule.settled == []


async def test_quiet_hours_hold_alerts_until_they_end() -> None:
    w = World()
    sub = w.sub()
    sub.quiet_hours.start, sub.quiet_hours.end = "00:00", "23:59"
    await w.fanout.deliver(ALERT, [sub])
    [held] = w.schedule.puts
    assert held.kind == Kind.SCHEDULED_KIND_DEFERRED and w.channel.calls == []
    assert w.value("newswatch_alerter_deferred_total", reason="quiet_hours") == 1
    await w.fanout.run_scheduled([held])  # still quiet: held again, not delivered
    assert len(w.schedule.puts) == 2 and w.channel.calls == []


async def test_rate_limit_defers_the_excess_to_when_the_window_reopens() -> None:
    w = World()
    sub = w.sub(rate_limit_per_hour=2)
    for i in range(3):
        w.now = NOW + i
        await w.fanout.deliver(Alert(alert_id=f"al-{i}", watchlist_id="w"), [sub])
    assert len(w.channel.calls) == 2
    [held] = w.schedule.puts
    assert held.alert.alert_id == "al-2" and due(held) == pytest.approx(NOW + 3600)
    w.now = NOW + 3600
    await w.fanout.run_scheduled([held])
    assert len(w.channel.calls) == 3


async def test_an_endpoint_failing_too_long_is_disabled_once() -> None:
    err = DeliveryError("HTTP 503", retriable=True, status=503)
    w = World([err] * 10)
    sub = w.sub()
    for i in range(3):
        w.now = NOW + 60 * i  # 0 s, 60 s, 120 s of failures; the window is 100 s
        await w.fanout.deliver(Alert(alert_id=f"al-{i}", watchlist_id="w"), [sub])
    [(sub_id, reason)] = w.disabled
    assert sub_id == sub.subscription_id and "failed every delivery for 120 s" in reason
    states = [
        m.state for t, _, m, _ in w.outbox.sent if t == ENDPOINTS.name and isinstance(m, EndpointHealth)
    ]
    assert states == [EndpointState.ENDPOINT_STATE_FAILING, EndpointState.ENDPOINT_STATE_DISABLED]


async def test_a_success_makes_a_failing_endpoint_healthy() -> None:
    w = World([DeliveryError("HTTP 503", retriable=True, status=503)])
    sub = w.sub()
    await w.fanout.deliver(ALERT, [sub])
    assert w.endpoints.state(sub.subscription_id) == EndpointState.ENDPOINT_STATE_FAILING
    await w.fanout.run_scheduled([w.schedule.puts[-1]])
    assert w.endpoints.state(sub.subscription_id) == EndpointState.ENDPOINT_STATE_HEALTHY


async def test_unexpected_channel_errors_count_as_retriable() -> None:
    w = World([RuntimeError("bug")])
    await w.fanout.deliver(ALERT, [w.sub()])
    assert w.schedule.puts[0].kind == Kind.SCHEDULED_KIND_RETRY
    assert "RuntimeError" in w.outbox.attempts()[0].error


async def test_subscription_without_a_known_channel_is_skipped() -> None:
    w = World()
    sub = w.sub()
    sub.ClearField("webhook")
    await w.fanout.deliver(ALERT, [sub])
    assert w.channel.calls == [] and w.outbox.sent == []
    assert w.value("newswatch_alerter_unusable_subscriptions_total") == 1


@pytest.mark.parametrize(
    ("failed", "rng", "retry_after", "expected"),
    [
        (1, 0.5, None, 5.0),
        (1, 0.0, None, 4.5),
        (1, 1.0, None, 5.5),
        (2, 0.5, None, 30.0),
        (9, 0.5, None, 120.0),  # past the end: the last step again
        (1, 0.5, 60.0, 60.0),
        (1, 0.5, 9999.0, 120.0),  # Retry-After capped at the longest step
    ],
)
def test_retry_delay(failed: int, rng: float, retry_after: float | None, expected: float) -> None:
    assert retry_delay([5.0, 30.0, 120.0], failed, lambda: rng, retry_after) == pytest.approx(expected)


def test_delivery_ids_are_deterministic_and_distinct() -> None:
    assert delivery_id_for("a", "s") == delivery_id_for("a", "s")
    assert delivery_id_for("a", "s") != delivery_id_for("a", "t")
    assert delivery_id_for("ab", "c") != delivery_id_for("a", "bc")
    assert delivery_id_for("a", "s").startswith("msg_") and len(delivery_id_for("a", "s")) == 36
    assert digest_id_for(["x", "y"]) == digest_id_for(["y", "x"]) != digest_id_for(["x"])


def test_outcome_cache_is_bounded_and_a_delivery_stays_delivered() -> None:
    cache = OutcomeCache(capacity=3)
    for i in range(5):
        cache.record(str(i), Outcome.DELIVERY_OUTCOME_DELIVERED)
    assert len(cache) == 3 and cache.outcome("0") is None and cache.delivered("4")
    cache.record("4", Outcome.DELIVERY_OUTCOME_FAILED)
    cache.record("r", Outcome.DELIVERY_OUTCOME_RETRYING)
    assert cache.delivered("4") and cache.outcome("r") is None

"""Fan-out: retries, backoff, audit trail, dead letters and the delivered-once rule, with fakes."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from google.protobuf.message import Message
from prometheus_client import CollectorRegistry

from newswatch.alerter.channels import DeliveryResult, RetryLaterError, ScriptedChannel
from newswatch.alerter.fanout import (
    DLQ_REASON_HEADER,
    DLQ_SUBSCRIPTION_HEADER,
    DeliveredSet,
    Fanout,
    backoff_delay,
    delivery_id_for,
)
from newswatch.alerter.metrics import AlerterMetrics
from newswatch.alerter.subscriptions import new_subscription
from newswatch.errors import DeliveryError
from newswatch.settings import Settings
from newswatch.topics import ALERTS_DLQ, DELIVERIES, TopicSpec
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.delivery_pb2 import DeliveryAttempt, DeliveryOutcome
from newswatch.v1.subscription_pb2 import Subscription

Outcome = DeliveryOutcome
ALERT = Alert(alert_id="al-1", watchlist_id="w")
SETTINGS = Settings().replace(
    delivery_max_attempts=3, delivery_backoff_initial_seconds=0.01, delivery_backoff_max_seconds=0.04
)


class FakeOutbox:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Message | None, list[tuple[str, bytes]]]] = []

    async def __call__(
        self, topic: TopicSpec, key: str, message: Message | None, headers: Sequence[tuple[str, bytes]]
    ) -> asyncio.Future[Any]:
        self.sent.append((topic.name, key, message, list(headers)))
        ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        ack.set_result(None)
        return ack

    def attempts(self) -> list[DeliveryAttempt]:
        return [m for t, _, m, _ in self.sent if t == DELIVERIES.name and isinstance(m, DeliveryAttempt)]

    def dead_letters(self) -> list[tuple[str, dict[str, bytes]]]:
        return [(k, dict(h)) for t, k, _, h in self.sent if t == ALERTS_DLQ.name]


def make(
    script: Sequence[DeliveryResult | Exception] = (), settings: Settings = SETTINGS
) -> tuple[Fanout, ScriptedChannel, FakeOutbox, CollectorRegistry]:
    channel = ScriptedChannel("webhook", script)
    outbox = FakeOutbox()
    registry = CollectorRegistry()
    fanout = Fanout(settings, {"webhook": channel}, outbox, AlerterMetrics(registry), rng=lambda: 0.5)
    return fanout, channel, outbox, registry


def hook_sub() -> Subscription:
    return new_subscription("t", webhook_url="https://h.example.org/", allow_private=False)


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    got = registry.get_sample_value(name, labels)
    assert got is not None, name
    return got


async def test_delivered_first_time() -> None:
    fanout, _, outbox, registry = make([DeliveryResult(204)])
    sub = hook_sub()
    assert await fanout.deliver(ALERT, [sub]) is True
    [attempt] = outbox.attempts()
    assert attempt.outcome == Outcome.DELIVERY_OUTCOME_DELIVERED
    assert attempt.http_status == 204 and attempt.attempt == 1 and attempt.channel == "webhook"
    assert attempt.delivery_id == delivery_id_for("al-1", sub.subscription_id)
    assert outbox.sent[0][1] == "al-1"  # keyed by alert id
    assert outbox.dead_letters() == []
    assert value(registry, "newswatch_alerter_deliveries_total", channel="webhook", outcome="delivered") == 1


async def test_retriable_failures_are_retried_with_the_same_delivery_id() -> None:
    retry = DeliveryError("HTTP 503", retriable=True, status=503)
    fanout, channel, outbox, registry = make([retry, retry, DeliveryResult(200)])
    assert await fanout.deliver(ALERT, [hook_sub()]) is True
    outcomes = [(a.attempt, a.outcome, a.http_status) for a in outbox.attempts()]
    assert outcomes == [
        (1, Outcome.DELIVERY_OUTCOME_RETRYING, 503),
        (2, Outcome.DELIVERY_OUTCOME_RETRYING, 503),
        (3, Outcome.DELIVERY_OUTCOME_DELIVERED, 200),
    ]
    assert len({c[2] for c in channel.calls}) == 1
    assert [c[3] for c in channel.calls] == [1, 2, 3]
    assert value(registry, "newswatch_alerter_retries_total", channel="webhook") == 2
    assert outbox.dead_letters() == []


async def test_exhausted_retries_go_to_the_dlq() -> None:
    retry = DeliveryError("HTTP 500", retriable=True, status=500)
    fanout, _, outbox, registry = make([retry] * 3)
    sub = hook_sub()
    assert await fanout.deliver(ALERT, [sub]) is True
    assert [a.outcome for a in outbox.attempts()] == [
        Outcome.DELIVERY_OUTCOME_RETRYING, Outcome.DELIVERY_OUTCOME_RETRYING, Outcome.DELIVERY_OUTCOME_FAILED
    ]  # fmt: skip
    [(key, headers)] = outbox.dead_letters()
    assert key == "al-1"
    assert headers[DLQ_REASON_HEADER] == b"delivery_failed"
    assert headers[DLQ_SUBSCRIPTION_HEADER] == sub.subscription_id.encode()
    assert value(registry, "newswatch_alerter_dlq_messages_total", reason="delivery_failed") == 1


async def test_final_refusal_is_not_retried() -> None:
    fanout, channel, outbox, registry = make([DeliveryError("HTTP 400", retriable=False, status=400)])
    assert await fanout.deliver(ALERT, [hook_sub()]) is True
    assert len(channel.calls) == 1
    [attempt] = outbox.attempts()
    assert attempt.outcome == Outcome.DELIVERY_OUTCOME_REJECTED and attempt.error == "HTTP 400"
    assert outbox.dead_letters()[0][1][DLQ_REASON_HEADER] == b"delivery_rejected"
    assert value(registry, "newswatch_alerter_deliveries_total", channel="webhook", outcome="rejected") == 1


async def test_unexpected_channel_errors_count_as_retriable() -> None:
    fanout, _, outbox, _ = make([RuntimeError("bug"), DeliveryResult(200)])
    assert await fanout.deliver(ALERT, [hook_sub()]) is True
    assert [a.outcome for a in outbox.attempts()] == [
        Outcome.DELIVERY_OUTCOME_RETRYING,
        Outcome.DELIVERY_OUTCOME_DELIVERED,
    ]
    assert "RuntimeError" in outbox.attempts()[0].error


async def test_an_alert_is_delivered_once_per_subscription_within_a_process() -> None:
    fanout, channel, outbox, registry = make()
    sub = hook_sub()
    results = await asyncio.gather(fanout.deliver(ALERT, [sub]), fanout.deliver(ALERT, [sub]))
    assert list(results) == [True, True]
    assert await fanout.deliver(ALERT, [sub]) is True
    assert len(channel.calls) == 1
    assert [a.outcome for a in outbox.attempts()] == [Outcome.DELIVERY_OUTCOME_DELIVERED]
    assert value(registry, "newswatch_alerter_duplicates_suppressed_total") == 2


async def test_every_matching_subscription_gets_its_own_delivery() -> None:
    fanout, channel, outbox, _ = make()
    subs = [hook_sub() for _ in range(5)]
    assert await fanout.deliver(ALERT, subs) is True
    assert {c[1] for c in channel.calls} == {s.subscription_id for s in subs}
    assert len({a.delivery_id for a in outbox.attempts()}) == 5


async def test_concurrency_is_bounded() -> None:
    active = 0
    peak = 0

    class Slow(ScriptedChannel):
        async def deliver(self, alert, subscription, delivery_id, attempt):
            nonlocal active, peak
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0.01)
            active -= 1
            return DeliveryResult(200)

    outbox = FakeOutbox()
    settings = SETTINGS.replace(delivery_concurrency=3)
    fanout = Fanout(settings, {"webhook": Slow()}, outbox, AlerterMetrics(CollectorRegistry()))
    assert await fanout.deliver(ALERT, [hook_sub() for _ in range(12)]) is True
    assert peak == 3


async def test_stop_retrying_abandons_waiting_retries_without_a_final_outcome() -> None:
    slow = SETTINGS.replace(delivery_backoff_initial_seconds=30, delivery_backoff_max_seconds=60)
    fanout, _, outbox, _ = make([DeliveryError("HTTP 503", retriable=True, status=503)], slow)
    task = asyncio.create_task(fanout.deliver(ALERT, [hook_sub()]))
    await asyncio.sleep(0.05)
    fanout.stop_retrying()
    assert await asyncio.wait_for(task, 1) is False
    assert [a.outcome for a in outbox.attempts()] == [Outcome.DELIVERY_OUTCOME_RETRYING]
    assert outbox.dead_letters() == []


async def test_retry_after_lengthens_the_wait_up_to_the_maximum() -> None:
    fanout, _, _, _ = make()
    err = RetryLaterError("429", status=429, retry_after_seconds=3600)
    assert fanout._delay(1, err) == SETTINGS.delivery_backoff_max_seconds


async def test_subscription_without_a_known_channel_is_skipped() -> None:
    fanout, channel, outbox, registry = make()
    sub = hook_sub()
    sub.ClearField("webhook")
    assert await fanout.deliver(ALERT, [sub]) is True
    assert channel.calls == [] and outbox.sent == []
    assert value(registry, "newswatch_alerter_unusable_subscriptions_total") == 1


@pytest.mark.parametrize(
    ("failed", "rng", "expected"),
    [(1, 0.0, 0.5), (1, 1.0, 1.0), (2, 1.0, 2.0), (3, 0.5, 3.0), (10, 1.0, 60.0), (10, 0.0, 30.0)],
)
def test_backoff_delay(failed: int, rng: float, expected: float) -> None:
    assert backoff_delay(failed, 1.0, 60.0, lambda: rng) == pytest.approx(expected)


def test_delivery_id_is_deterministic_and_distinct() -> None:
    assert delivery_id_for("a", "s") == delivery_id_for("a", "s")
    assert delivery_id_for("a", "s") != delivery_id_for("a", "t")
    assert delivery_id_for("ab", "c") != delivery_id_for("a", "bc")
    assert delivery_id_for("a", "s").startswith("msg_") and len(delivery_id_for("a", "s")) == 36


def test_delivered_set_is_bounded_and_forgets_the_oldest() -> None:
    seen = DeliveredSet(capacity=3)
    for i in range(5):
        seen.add(str(i))
    assert len(seen) == 3
    assert "0" not in seen and "1" not in seen and "4" in seen

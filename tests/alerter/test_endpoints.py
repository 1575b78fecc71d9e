"""Endpoint health: failure windows, disabling, the owner's notice, the gauge by state (fakes)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from google.protobuf.message import Message

from newswatch.alerter.channels import ScriptedChannel
from newswatch.alerter.endpoints import EndpointTracker, count_states, notify_owner
from newswatch.errors import DeliveryError
from newswatch.settings import Settings
from newswatch.topics import TopicSpec
from newswatch.v1.delivery_pb2 import EndpointHealth, EndpointState
from newswatch.v1.subscription_pb2 import Subscription

State = EndpointState


class Outbox:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Message | None]] = []

    async def __call__(
        self, topic: TopicSpec, key: str, message: Message | None, headers: Sequence[tuple[str, bytes]]
    ) -> asyncio.Future[Any]:
        self.sent.append((key, message))
        ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        ack.set_result(None)
        return ack


def tracker(now: list[float], disabled: list[str]) -> tuple[EndpointTracker, Outbox]:
    outbox = Outbox()

    async def disable(sub: Subscription, reason: str) -> None:
        disabled.append(sub.subscription_id)

    return EndpointTracker(outbox, disable, disable_after_seconds=60, clock=lambda: now[0]), outbox


async def test_a_subscription_enabled_again_starts_a_fresh_window() -> None:
    now, disabled = [1000.0], []
    t, _ = tracker(now, disabled)
    sub = Subscription(subscription_id="s", enabled=True)
    await t.failure(sub, "503")
    now[0] = 1061
    await t.failure(sub, "503")
    assert disabled == ["s"] and t.state("s") == State.ENDPOINT_STATE_DISABLED
    sub.enabled = False
    await t.failure(sub, "503")  # a straggler after disabling: nothing more
    assert disabled == ["s"]
    sub.enabled = True  # a person enabled it again
    now[0] = 1100
    await t.failure(sub, "503")
    assert t.state("s") == State.ENDPOINT_STATE_FAILING and disabled == ["s"]
    now[0] = 1150
    await t.failure(sub, "503")
    assert disabled == ["s"]  # 50 s into the new window only


async def test_only_state_changes_are_written() -> None:
    now, disabled = [0.0], []
    t, outbox = tracker(now, disabled)
    sub = Subscription(subscription_id="s", enabled=True)
    assert await t.success(sub) is None
    for _ in range(3):
        await t.failure(sub, "timeout")
    await t.success(sub)
    await t.success(sub)
    states = [m.state for _, m in outbox.sent if isinstance(m, EndpointHealth)]
    assert states == [State.ENDPOINT_STATE_FAILING, State.ENDPOINT_STATE_HEALTHY]


async def test_states_from_the_topic_are_applied() -> None:
    t, _ = tracker([0.0], [])
    t.apply("s", EndpointHealth(subscription_id="s", state=State.ENDPOINT_STATE_FAILING))
    assert t.state("s") == State.ENDPOINT_STATE_FAILING
    t.apply("s", None)
    assert t.state("s") == State.ENDPOINT_STATE_HEALTHY


def test_count_states() -> None:
    t, _ = tracker([0.0], [])
    t.apply("b", EndpointHealth(subscription_id="b", state=State.ENDPOINT_STATE_FAILING))
    subs = [
        Subscription(subscription_id="a", enabled=True),
        Subscription(subscription_id="b", enabled=True),
        Subscription(subscription_id="c", enabled=False),
    ]
    assert count_states(subs, t) == {"healthy": 1, "failing": 1, "disabled": 1}


async def test_the_owner_is_emailed_when_smtp_is_configured() -> None:
    email = ScriptedChannel("email")
    sub = Subscription(subscription_id="s", name="ops", owner_email="owner@example.org")
    on = Settings().replace(smtp_host="127.0.0.1")
    assert await notify_owner({"email": email}, on, sub, "endpoint failed for 1 day") is True
    [(alert_id, sub_id, _, _)] = email.calls
    assert alert_id == "subscription-disabled:s" and sub_id == "s"
    assert await notify_owner({"email": email}, Settings(), sub, "x") is False  # no SMTP server
    no_owner = Subscription(subscription_id="t")
    assert await notify_owner({"email": email}, on, no_owner, "x") is False
    failing = ScriptedChannel("email", [DeliveryError("SMTP 451", retriable=True)])
    assert await notify_owner({"email": failing}, on, sub, "x") is False
    assert len(email.calls) == 1

"""The processor's Faust consumer: a record delivered inline when that does not block, carried on as a
task would otherwise (no broker; the worker tests run it against the real one)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from newswatch.processor.faustapp import _carry_on, _Consumer


def _consumer() -> Any:
    consumer = _Consumer.__new__(_Consumer)  # only what wait_first's inline path reads
    consumer.suspend_flow = asyncio.Event()
    return consumer


async def test_a_delivery_that_does_not_block_runs_inline() -> None:
    consumer = _consumer()
    delivered: list[int] = []

    async def deliver(n: int) -> int:
        delivered.append(n)
        return n * 2

    coro = deliver(21)
    result = await consumer.wait_first(coro, consumer.suspend_flow.wait())
    assert delivered == [21]
    assert (result.done, result.results, result.stopped) == ([coro], [42], False)


async def test_an_error_of_an_inline_delivery_propagates() -> None:
    consumer = _consumer()

    async def deliver() -> None:
        raise ValueError("undecodable")

    with pytest.raises(ValueError, match="undecodable"):
        await consumer.wait_first(deliver(), consumer.suspend_flow.wait())


@pytest.mark.parametrize("suspended", [False, True])
async def test_other_calls_are_not_taken_for_a_delivery(suspended: bool) -> None:
    consumer = _consumer()
    if suspended:
        consumer.suspend_flow.set()

    async def deliver() -> None:
        return None

    flow = consumer.suspend_flow.wait()
    other = asyncio.Event().wait()
    deliver_coro = deliver()
    assert consumer._is_delivery((deliver_coro, flow), None) is not suspended
    assert consumer._is_delivery((deliver_coro, other), None) is False  # not suspend_flow's wait
    assert consumer._is_delivery((deliver_coro, flow), 1.0) is False  # with a timeout
    for coro in (deliver_coro, flow, other):
        coro.close()


async def test_carry_on_finishes_a_started_coroutine() -> None:
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def deliver() -> str:
        await asyncio.sleep(0)  # a bare yield first
        got = await gate
        return f"delivered {got}"

    coro = deliver()
    waiting = coro.send(None)
    task = asyncio.ensure_future(_carry_on(coro, waiting))
    await asyncio.sleep(0.01)
    assert not task.done()
    gate.set_result("late")
    assert await task == "delivered late"


async def test_carry_on_throws_a_cancellation_into_the_coroutine() -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def deliver() -> None:
        try:
            await gate
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    coro = deliver()
    task = asyncio.ensure_future(_carry_on(coro, coro.send(None)))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled"]

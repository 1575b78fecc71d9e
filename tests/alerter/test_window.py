"""The offset window: only the unbroken settled prefix of each partition is committable."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import TopicPartition

from newswatch.alerter.window import OffsetWindow

P0, P1 = TopicPartition("t", 0), TopicPartition("t", 1)


async def finished(value: bool = True) -> asyncio.Task[bool]:
    async def run() -> bool:
        return value

    task = asyncio.create_task(run())
    await task
    return task


async def test_a_slow_record_holds_back_only_its_own_partition() -> None:
    window = OffsetWindow()
    gate = asyncio.Event()

    async def slow() -> bool:
        await gate.wait()
        return True

    slow_task = asyncio.create_task(slow())
    window.add(P0, 10, await finished())
    window.add(P0, 11, slow_task)
    window.add(P0, 12, await finished())
    window.add(P1, 5, await finished())
    assert window.committable() == {P0: 11, P1: 6}
    assert len(window) == 2 and window.running == 1
    assert window.committable() == {}  # nothing moved
    gate.set()
    await window.wait_any(1.0)
    assert window.committable() == {P0: 13} and len(window) == 0


@pytest.mark.parametrize("outcome", ["false", "cancelled", "error"])
async def test_an_unsettled_record_stops_the_prefix(outcome: str) -> None:
    window = OffsetWindow()
    if outcome == "false":
        task = await finished(False)
    else:

        async def boom() -> bool:
            if outcome == "error":
                raise RuntimeError("broker gone")
            await asyncio.sleep(10)
            return True

        task = asyncio.create_task(boom())
        if outcome == "cancelled":
            await asyncio.sleep(0)
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    window.add(P0, 1, await finished())
    window.add(P0, 2, task)
    window.add(P0, 3, await finished())
    assert window.committable() == {P0: 2}
    assert (window.fatal() is not None) == (outcome == "error")


async def test_a_record_read_again_while_in_flight_is_not_tracked_twice() -> None:
    window = OffsetWindow()
    gate = asyncio.Event()

    async def slow() -> bool:
        await gate.wait()
        return True

    first = asyncio.create_task(slow())
    assert window.add(P0, 7, first) is True
    again = asyncio.create_task(slow())
    assert window.add(P0, 7, again) is False
    again.cancel()
    gate.set()
    await asyncio.gather(first, again, return_exceptions=True)
    assert window.committable() == {P0: 8}

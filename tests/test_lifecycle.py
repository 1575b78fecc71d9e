"""A service's shutdown goes on past a component whose stop fails (unit: no broker)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError

from newswatch.lifecycle import close_component


async def _stray_cancellation() -> None:
    """What aiokafka's consumer.stop() does when the broker went away first: it awaits a fetch task
    it has just cancelled, and that task's CancelledError comes out of stop()."""
    inner = asyncio.create_task(asyncio.sleep(10))
    await asyncio.sleep(0)
    inner.cancel()
    await inner


async def _fails() -> None:
    raise KafkaConnectionError("connection closed")


@pytest.mark.parametrize("stop", [_stray_cancellation, _fails])
async def test_a_failed_stop_is_logged_and_the_shutdown_goes_on(
    stop: Callable[[], Coroutine[Any, Any, None]], caplog: pytest.LogCaptureFixture
) -> None:
    closed: list[str] = []

    async def shutdown() -> None:
        await close_component("alert stream", stop())
        closed.append("producer")  # the next component is still closed

    with caplog.at_level(logging.WARNING, logger="newswatch.lifecycle"):
        await shutdown()
    assert closed == ["producer"]
    [record] = [r for r in caplog.records if r.getMessage() == "error while closing"]
    assert record.__dict__["component"] == "alert stream"


async def test_a_cancelled_shutdown_is_cancelled() -> None:
    """The shutdown's own cancellation is not taken for a component's failure."""
    started = asyncio.Event()

    async def slow_stop() -> None:
        started.set()
        await asyncio.sleep(10)

    task = asyncio.create_task(close_component("consumer", slow_stop()))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

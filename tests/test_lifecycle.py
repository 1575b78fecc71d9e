"""A service's shutdown goes on past a component whose stop fails (unit: no broker); a child process
that asked for it ends with its parent."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError

from newswatch.lifecycle import close_component
from tests.helpers import kill_parent_of, wait_gone


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


def test_a_child_that_asked_for_it_ends_when_its_parent_is_killed(tmp_path: Path) -> None:
    """As the supervisor's children do (SIGTERM), before exec."""
    parent = (
        "import signal, subprocess, sys, time\n"
        "from newswatch.lifecycle import signal_when_parent_dies\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'],\n"
        "                         preexec_fn=lambda: signal_when_parent_dies(signal.SIGTERM))\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    (child,) = kill_parent_of(parent, tmp_path)
    wait_gone(child)

"""Small helpers shared by the test modules (fixtures live in the conftest files)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable

import pytest


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_until(predicate: Callable[[], bool], within_seconds: float, what: str) -> float:
    """Poll ``predicate`` every 0.1 s; fail the test after ``within_seconds``. Returns the seconds waited."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > within_seconds:
            pytest.fail(f"timed out after {within_seconds:g}s waiting for {what}")
        await asyncio.sleep(0.1)
    return time.monotonic() - started

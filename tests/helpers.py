"""Small helpers shared by the test modules (fixtures live in the conftest files)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from pathlib import Path

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


def child_pids(pid: int) -> list[int]:
    """The process's child processes, from ``/proc`` (Linux)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


def process_alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie (``/proc``, Linux)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"

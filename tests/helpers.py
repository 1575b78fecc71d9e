"""Small helpers shared by the test modules (fixtures live in the conftest files)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
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


def wait_gone(pid: int, seconds: float = 20.0) -> None:
    """Fail unless the process ends within ``seconds``."""
    deadline = time.monotonic() + seconds
    while process_alive(pid):
        if time.monotonic() > deadline:
            pytest.fail(f"process {pid} still runs")
        time.sleep(0.05)


def kill_parent_of(script: str, cwd: Path) -> list[int]:
    """Run ``script`` (Python, with this checkout's package) until it prints a line of pids, check that
    they run, SIGKILL the script and return them."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "services")}
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env, cwd=cwd) as proc:
        try:
            assert proc.stdout is not None
            pids = [int(p) for p in proc.stdout.readline().split()]
            assert pids and all(process_alive(pid) for pid in pids)
        finally:
            proc.kill()
    return pids

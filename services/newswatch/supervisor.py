"""``newswatch run all``: the three services as child processes of one supervisor.

Each service runs in its own process (its own event loop, metrics port and Kafka clients), exactly as it
would alone. A child that dies unexpectedly is restarted with exponential backoff. On SIGTERM / SIGINT the
children are stopped in pipeline order — poller (intake) first, then processor, then alerter — each given
the shutdown deadline before it is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from dataclasses import dataclass, field

from newswatch.lifecycle import signal_when_parent_dies

__all__ = ["SERVICES", "supervise"]

log = logging.getLogger(__name__)

SERVICES = ("poller", "processor", "alerter")
_MAX_BACKOFF_SECONDS = 30.0


@dataclass
class _Child:
    service: str
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    started_at: float = field(default_factory=time.monotonic)


def _stop_with_parent() -> None:
    """In the child, before exec: ask Linux for SIGTERM when the supervisor dies (even by SIGKILL)."""
    signal_when_parent_dies(signal.SIGTERM)


async def _spawn(child: _Child, config: str | None) -> None:
    args = [sys.executable, "-m", "newswatch"]
    if config:
        args += ["--config", config]
    args += ["run", child.service]
    # Its own session: a terminal's Ctrl-C reaches only the supervisor, which then stops the children in
    # pipeline order instead of all of them at once.
    child.process = await asyncio.create_subprocess_exec(
        *args, start_new_session=True, preexec_fn=_stop_with_parent
    )
    child.started_at = time.monotonic()
    log.info("child started", extra={"service": child.service, "pid": child.process.pid})


async def _stop_child(child: _Child, deadline_seconds: float) -> int | None:
    proc = child.process
    if proc is None or proc.returncode is not None:
        return proc.returncode if proc else None
    proc.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(proc.wait(), timeout=deadline_seconds + 5)
    except TimeoutError:
        log.error("child did not stop in time; killing", extra={"service": child.service, "pid": proc.pid})
        proc.kill()
        return await proc.wait()


async def supervise(deadline_seconds: float, config: str | None = None) -> int:
    """Run every service until a signal; return 0 when all stopped cleanly."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    children = [_Child(name) for name in SERVICES]
    for child in children:
        await _spawn(child, config)
    try:
        while not stop.is_set():
            waits = {asyncio.create_task(c.process.wait()): c for c in children if c.process is not None}
            stopper = asyncio.create_task(stop.wait())
            done, pending = await asyncio.wait({*waits, stopper}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            if stop.is_set():
                break
            for task in done:
                exited = waits.get(task)
                if exited is None:
                    continue
                uptime = time.monotonic() - exited.started_at
                exited.restarts = 0 if uptime > 60 else exited.restarts + 1
                delay = min(_MAX_BACKOFF_SECONDS, 0.5 * 2**exited.restarts)
                log.error(
                    "child exited; restarting",
                    extra={
                        "service": exited.service,
                        "exit_code": task.result(),
                        "restart_in_seconds": delay,
                    },
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                if not stop.is_set():
                    await _spawn(exited, config)
        exit_code = 0
        for child in children:  # pipeline order: intake first
            stopped = await _stop_child(child, deadline_seconds)
            log.info("child stopped", extra={"service": child.service, "exit_code": stopped})
            if stopped not in (0, None, -signal.SIGTERM):
                exit_code = 1
        return exit_code
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)

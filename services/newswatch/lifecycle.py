"""One way to run a service: start, wait for SIGTERM / SIGINT, stop in order within a deadline.

A :class:`Service` starts its intake last and stops it first: ``stop()`` stops intake, drains what is in
flight within the deadline, flushes producers, commits offsets and closes clients. ``stop()`` must be safe
to call twice and after a failed ``start()``.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import signal
import sys
from collections.abc import Awaitable
from typing import Any, Protocol

from aiokafka.errors import KafkaError

__all__ = ["Service", "close_component", "run_until_signalled", "signal_when_parent_dies"]

log = logging.getLogger(__name__)


class Service(Protocol):
    name: str

    async def start(self) -> None:
        """Connect and begin work. May raise; ``stop()`` is still called afterwards."""

    async def stop(self) -> None:
        """Stop intake, drain, flush, commit, close. Idempotent."""

    async def wait(self) -> None:
        """Return (or raise) when the service ends by itself, e.g. a fatal error."""


async def run_until_signalled(service: Service, deadline_seconds: float) -> int:
    """Run ``service`` until a signal or its own end; return the process exit code."""
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_requested.set)
    code = 0
    try:
        try:
            await service.start()
        except Exception:
            log.exception("service failed to start", extra={"service": service.name})
            code = 1
        else:
            log.info("service started", extra={"service": service.name})
            waiter = asyncio.create_task(service.wait())
            stopper = asyncio.create_task(stop_requested.wait())
            done, _ = await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if waiter in done and waiter.exception() is not None:
                log.error(
                    "service failed", extra={"service": service.name, "error": repr(waiter.exception())}
                )
                code = 1
            stopper.cancel()
            waiter.cancel()
            await asyncio.gather(waiter, stopper, return_exceptions=True)
        log.info("service stopping", extra={"service": service.name, "deadline_seconds": deadline_seconds})
        try:
            await asyncio.wait_for(service.stop(), timeout=deadline_seconds)
        except TimeoutError:
            log.error("shutdown deadline passed", extra={"service": service.name})
            code = code or 1
        log.info("service stopped", extra={"service": service.name, "exit_code": code})
        return code
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def close_component(what: str, closing: Awaitable[Any]) -> None:
    """Await ``closing`` (one component's stop, in a service's ``stop()``); a failure is logged and the
    shutdown goes on to the next component."""
    try:
        await closing
    except (KafkaError, OSError) as exc:
        log.warning("error while closing", extra={"component": what, "error": repr(exc)})
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # this shutdown itself is cancelled
        # aiokafka's consumer.stop() re-raises the cancellation of its own fetch tasks when the
        # broker went away first (aio-libs/aiokafka#647): the consumer is closed all the same.
        log.warning("error while closing", extra={"component": what, "error": "CancelledError"})


_PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)


def signal_when_parent_dies(sig: signal.Signals) -> None:
    """Ask Linux to send this process ``sig`` when its parent ends, even by SIGKILL (elsewhere: nothing).
    Call it in the child (before exec, or first thing in a forked process)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)

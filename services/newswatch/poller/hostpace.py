"""Per-host pacing: at most one request start per host every ``min_interval_seconds``.

The connector already caps connections per host (``NEWSWATCH_FETCH_MAX_CONNECTIONS_PER_HOST``); this adds
a rate: many feeds on one site are fetched one after another at a polite pace instead of in a burst.
A host is the URL's authority (host and port), so two servers on one address are paced apart.

Contract: :meth:`HostPacer.wait` reserves the host's next slot and sleeps until it; it returns the
seconds waited (counted in ``newswatch_poller_host_wait_seconds``). Cancelling a waiter gives its slot
up to nobody — the next caller simply waits one interval more. Memory is bounded: hosts whose slot is in
the past are forgotten once more than ``max_hosts`` are tracked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

__all__ = ["HostPacer"]


class HostPacer:
    def __init__(
        self,
        min_interval_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_hosts: int = 10_000,
    ) -> None:
        self._interval = max(0.0, min_interval_seconds)
        self._clock = clock
        self._sleep = sleep
        self._max_hosts = max_hosts
        self._next: dict[str, float] = {}

    def reserve(self, host: str) -> float:
        """Take the host's next slot; return how long the caller must wait for it (pure bookkeeping)."""
        if self._interval <= 0:
            return 0.0
        now = self._clock()
        slot = max(now, self._next.get(host, now))
        self._next[host] = slot + self._interval
        if len(self._next) > self._max_hosts:
            self._next = {h: t for h, t in self._next.items() if t > now}
        return slot - now

    async def wait(self, host: str) -> float:
        delay = self.reserve(host)
        if delay > 0:
            await self._sleep(delay)
        return delay

    @property
    def tracked_hosts(self) -> int:
        return len(self._next)

"""The records of ``newswatch.alerts.v1`` being handled, and which offsets may be committed.

The alerter keeps reading while earlier records are still being delivered (a slow endpoint holds back
nothing but its own records' commit), up to a bound on records in the window. :class:`OffsetWindow`
tracks, per partition and in offset order, the task handling each record; :meth:`~OffsetWindow.committable`
returns, per partition, the offset after the unbroken prefix of records whose task finished with True
(their outcome is durable) and forgets that prefix. A task still running, cancelled, failed, or that
returned False stops its partition's prefix: the record and all after it are read again after a restart.
:meth:`~OffsetWindow.fatal` gives the first error a task raised (the service then stops).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterable

from aiokafka import TopicPartition

__all__ = ["OffsetWindow"]


class OffsetWindow:
    """Tasks by (partition, offset); see the module docstring. One event loop."""

    def __init__(self) -> None:
        self._parts: dict[TopicPartition, OrderedDict[int, asyncio.Task[bool]]] = {}
        self._running: set[asyncio.Task[bool]] = set()
        self._size = 0

    def __len__(self) -> int:
        """Records in the window: running, or finished but not yet committable."""
        return self._size

    @property
    def running(self) -> int:
        return len(self._running)

    def add(self, tp: TopicPartition, offset: int, task: asyncio.Task[bool]) -> bool:
        """Track ``task`` for the record at ``offset``; False (and nothing tracked) when that record is
        already being handled or was settled (read again after a rebalance)."""
        entries = self._parts.setdefault(tp, OrderedDict())
        known = entries.get(offset)
        if known is not None and (not known.done() or _settled(known)):
            return False
        if known is None:
            self._size += 1
        entries[offset] = task
        if not task.done():
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        return True

    async def wait_any(self, timeout_seconds: float) -> None:
        """Return once a running task finishes, or after ``timeout_seconds``."""
        if self._running:
            await asyncio.wait(
                set(self._running), timeout=timeout_seconds, return_when=asyncio.FIRST_COMPLETED
            )
        else:
            await asyncio.sleep(timeout_seconds)

    def committable(self) -> dict[TopicPartition, int]:
        """Per partition, the offset to commit now (only partitions that moved); forgets that prefix."""
        out: dict[TopicPartition, int] = {}
        for tp, entries in self._parts.items():
            while entries:
                offset, task = next(iter(entries.items()))
                if not _settled(task):
                    break
                entries.popitem(last=False)
                self._size -= 1
                out[tp] = offset + 1
        return out

    def fatal(self) -> BaseException | None:
        """The first error raised by a finished task, if any."""
        for entries in self._parts.values():
            for task in entries.values():
                if task.done() and not task.cancelled() and task.exception() is not None:
                    return task.exception()
        return None

    def tasks(self) -> Iterable[asyncio.Task[bool]]:
        return set(self._running)


def _settled(task: asyncio.Task[bool]) -> bool:
    return task.done() and not task.cancelled() and task.exception() is None and task.result()

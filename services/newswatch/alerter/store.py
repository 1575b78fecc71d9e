"""Where the HTTP API reads and writes subscriptions: a :class:`SubscriptionStore`.

:class:`KafkaSubscriptionStore` reads from the alerter's own followed
:class:`~newswatch.kafka.CompactedView` of ``newswatch.subscriptions.v1`` — the very copy the alerter
matches alerts against — and writes through the alerter's producer (idempotent, ``acks=all``).

Read-your-writes: ``put`` and ``delete`` return once the broker acknowledged the record *and* the view
shows it, or after :data:`VISIBLE_WITHIN_SECONDS` when the view is slower (the write is durable all the
same; a warning is logged and the next read may briefly show the previous state). A later write of the
same key by another client may replace the value before the view shows ours; the wait then simply ends
at the timeout. The API answers from the value it wrote, so its response never depends on that wait.

:class:`MemorySubscriptionStore` is the in-memory fake for unit tests.

Errors::

    NewswatchError
    └── StoreUnavailableError   the broker did not acknowledge within the write timeout (retriable;
                                the write may still land: PUT-like retries of the same id are safe)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from aiokafka.errors import KafkaError
from google.protobuf.message import Message

from newswatch.alerter.subscriptions import ordered
from newswatch.errors import NewswatchError
from newswatch.kafka import CompactedView
from newswatch.topics import SUBSCRIPTIONS, TopicSpec
from newswatch.v1.subscription_pb2 import Subscription

__all__ = [
    "VISIBLE_WITHIN_SECONDS",
    "WRITE_TIMEOUT_SECONDS",
    "KafkaSubscriptionStore",
    "MemorySubscriptionStore",
    "Publish",
    "StoreUnavailableError",
    "SubscriptionStore",
]

log = logging.getLogger(__name__)

VISIBLE_WITHIN_SECONDS = 5.0
WRITE_TIMEOUT_SECONDS = 15.0

Publish = Callable[[TopicSpec, str, Message | None, Sequence[tuple[str, bytes]]], Awaitable[Awaitable[Any]]]
"""``publish(topic, key, message or None, headers)`` → the broker acknowledgement to await."""


class StoreUnavailableError(NewswatchError):
    """The write was not acknowledged in time; it may or may not have landed."""

    retriable = True


class SubscriptionStore(Protocol):
    """Current subscriptions by id. Reads never block; writes are durable when they return."""

    def get(self, subscription_id: str) -> Subscription | None:
        """The subscription (with its secret: callers redact), or None."""

    def all(self) -> list[Subscription]:
        """Every subscription, oldest first."""

    async def put(self, sub: Subscription) -> None:
        """Write ``sub`` (already validated) under its id. Raises StoreUnavailableError."""

    async def delete(self, subscription_id: str) -> None:
        """Write a tombstone for ``subscription_id``. Raises StoreUnavailableError."""


class KafkaSubscriptionStore:
    """The store on ``newswatch.subscriptions.v1``. Call :meth:`changed` from the view's ``on_change``."""

    def __init__(
        self,
        view: CompactedView[Subscription],
        publish: Publish,
        *,
        visible_within_seconds: float = VISIBLE_WITHIN_SECONDS,
        write_timeout_seconds: float = WRITE_TIMEOUT_SECONDS,
    ) -> None:
        self._view = view
        self._publish = publish
        self._visible_within = visible_within_seconds
        self._write_timeout = write_timeout_seconds
        self._changed = asyncio.Event()

    def changed(self) -> None:
        """The view applied a record: wake the writers waiting for theirs."""
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    def get(self, subscription_id: str) -> Subscription | None:
        return self._view.items.get(subscription_id)

    def all(self) -> list[Subscription]:
        return ordered(self._view.items.values())

    async def put(self, sub: Subscription) -> None:
        key = sub.subscription_id
        await self._write(key, sub)
        await self._until_visible(key, lambda: self._view.items.get(key) == sub)

    async def delete(self, subscription_id: str) -> None:
        await self._write(subscription_id, None)
        await self._until_visible(subscription_id, lambda: subscription_id not in self._view.items)

    async def _write(self, key: str, sub: Subscription | None) -> None:
        try:
            async with asyncio.timeout(self._write_timeout):
                ack = await self._publish(SUBSCRIPTIONS, key, sub, ())
                await ack
        except (TimeoutError, KafkaError) as exc:
            raise StoreUnavailableError(
                f"the broker did not acknowledge the write within {self._write_timeout:g}s "
                f"({type(exc).__name__})"
            ) from None

    async def _until_visible(self, key: str, visible: Callable[[], bool]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._visible_within
        while not visible():
            remaining = deadline - loop.time()
            if remaining <= 0:
                log.warning(
                    "write acknowledged but not yet in the subscriptions view",
                    extra={"subscription_id": key, "waited_seconds": self._visible_within},
                )
                return
            event = self._changed
            try:
                async with asyncio.timeout(remaining):
                    await event.wait()
            except TimeoutError:
                continue


class MemorySubscriptionStore:
    """In-memory :class:`SubscriptionStore` for tests; ``writes`` records (id, value or None)."""

    def __init__(self, subs: Sequence[Subscription] = ()) -> None:
        self.items: dict[str, Subscription] = {s.subscription_id: s for s in subs}
        self.writes: list[tuple[str, Subscription | None]] = []
        self.fail_with: Exception | None = None  # raised by the next writes, when set

    def get(self, subscription_id: str) -> Subscription | None:
        return self.items.get(subscription_id)

    def all(self) -> list[Subscription]:
        return ordered(self.items.values())

    async def put(self, sub: Subscription) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        copy = Subscription()
        copy.CopyFrom(sub)
        self.items[sub.subscription_id] = copy
        self.writes.append((sub.subscription_id, copy))

    async def delete(self, subscription_id: str) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.items.pop(subscription_id, None)
        self.writes.append((subscription_id, None))

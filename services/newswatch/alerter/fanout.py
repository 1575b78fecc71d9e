"""Fan-out of one alert to its matching subscriptions, with retries and an audit trail.

For each (alert, subscription) :meth:`Fanout.deliver` runs the subscription's channel up to
``delivery_max_attempts`` times, concurrently with the other subscriptions (at most
``delivery_concurrency`` channel calls in flight across the process). Between attempts it waits an
exponential backoff with jitter (:func:`backoff_delay`), longer when the receiver asked for it
(Retry-After), never longer than ``delivery_backoff_max_seconds``.

Every attempt is published as a ``DeliveryAttempt`` on ``newswatch.deliveries.v1`` (key alert_id).
When a subscription will not get the alert — the receiver refused it for good, or every attempt failed —
the alert goes to ``newswatch.alerts.dlq.v1`` with the headers :data:`DLQ_REASON_HEADER`,
:data:`DLQ_ERROR_HEADER` and :data:`DLQ_SUBSCRIPTION_HEADER`.

``deliver`` returns True once every outcome is settled and acknowledged by the broker, and False when
:meth:`Fanout.stop_retrying` cut a retry short (the caller must not commit that alert). Broker errors
propagate. Within one process an (alert, subscription) is delivered at most once (a bounded memory of
delivery ids); the delivery id is derived from both ids, so every retry carries the same ``webhook-id``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import Message

from newswatch.alerter.channels.base import Channel, RetryLaterError
from newswatch.alerter.metrics import AlerterMetrics
from newswatch.alerter.subscriptions import channel_of
from newswatch.contracts import timestamp, to_datetime
from newswatch.errors import DeliveryError
from newswatch.settings import Settings
from newswatch.topics import ALERTS_DLQ, DELIVERIES, TopicSpec
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.delivery_pb2 import DeliveryAttempt, DeliveryOutcome
from newswatch.v1.subscription_pb2 import Subscription

__all__ = [
    "DLQ_ERROR_HEADER",
    "DLQ_REASON_HEADER",
    "DLQ_SUBSCRIPTION_HEADER",
    "DeliveredSet",
    "Fanout",
    "Publish",
    "backoff_delay",
    "delivery_id_for",
]

log = logging.getLogger(__name__)

DLQ_REASON_HEADER = "newswatch-dlq-reason"
DLQ_ERROR_HEADER = "newswatch-dlq-error"
DLQ_SUBSCRIPTION_HEADER = "newswatch-subscription-id"
DEFAULT_DELIVERED_CAPACITY = 100_000
_ERROR_CHARS = 500

# (topic, key, message or None for a tombstone, extra headers) -> the broker's acknowledgement
Publish = Callable[[TopicSpec, str, Message | None, Sequence[tuple[str, bytes]]], Awaitable[Awaitable[Any]]]

_OUTCOME_LABEL = {
    DeliveryOutcome.DELIVERY_OUTCOME_DELIVERED: "delivered",
    DeliveryOutcome.DELIVERY_OUTCOME_RETRYING: "retrying",
    DeliveryOutcome.DELIVERY_OUTCOME_FAILED: "failed",
    DeliveryOutcome.DELIVERY_OUTCOME_REJECTED: "rejected",
}


def delivery_id_for(alert_id: str, subscription_id: str) -> str:
    """``"msg_"`` + 32 hex characters, a pure function of both ids."""
    digest = hashlib.sha256(f"{alert_id}\x00{subscription_id}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def backoff_delay(
    failed_attempts: int, initial: float, maximum: float, rng: Callable[[], float] = random.random
) -> float:
    """Delay after the ``failed_attempts``-th failure: ``initial * 2**(n-1)`` capped at ``maximum``,
    then "equal jitter" — a uniform draw from [half of it, all of it]."""
    ceiling = min(maximum, initial * 2.0 ** max(0, failed_attempts - 1))
    return ceiling / 2 + rng() * ceiling / 2


class DeliveredSet:
    """The most recent ``capacity`` delivery ids delivered by this process (oldest forgotten first)."""

    def __init__(self, capacity: int = DEFAULT_DELIVERED_CAPACITY) -> None:
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, delivery_id: object) -> bool:
        return delivery_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, delivery_id: str) -> None:
        self._ids[delivery_id] = None
        self._ids.move_to_end(delivery_id)
        while len(self._ids) > self._capacity:
            self._ids.popitem(last=False)


class Fanout:
    """Delivers alerts through ``channels`` (by channel name) and records every attempt via ``publish``."""

    def __init__(
        self,
        settings: Settings,
        channels: Mapping[str, Channel],
        publish: Publish,
        metrics: AlerterMetrics,
        *,
        rng: Callable[[], float] = random.random,
        delivered_capacity: int = DEFAULT_DELIVERED_CAPACITY,
    ) -> None:
        self._channels = dict(channels)
        self._publish = publish
        self._metrics = metrics
        self._rng = rng
        self._max_attempts = settings.delivery_max_attempts
        self._initial = settings.delivery_backoff_initial_seconds
        self._maximum = settings.delivery_backoff_max_seconds
        self._slots = asyncio.Semaphore(settings.delivery_concurrency)
        self._stopping = asyncio.Event()
        self.delivered = DeliveredSet(delivered_capacity)
        self._pending: dict[str, asyncio.Task[bool]] = {}

    def stop_retrying(self) -> None:
        """Cut every backoff wait short; deliveries already in flight still finish."""
        self._stopping.set()

    async def deliver(self, alert: Alert, subscriptions: Sequence[Subscription]) -> bool:
        """Deliver ``alert`` to each subscription; True when every outcome is settled (module docstring)."""
        if not subscriptions:
            return True
        results = await asyncio.gather(*(self._once(alert, sub) for sub in subscriptions))
        return all(results)

    async def _once(self, alert: Alert, sub: Subscription) -> bool:
        delivery_id = delivery_id_for(alert.alert_id, sub.subscription_id)
        if delivery_id in self.delivered:
            self._metrics.duplicates_suppressed.inc()
            return True
        running = self._pending.get(delivery_id)
        if running is not None:  # the same alert twice in flight: share the first outcome
            self._metrics.duplicates_suppressed.inc()
            return await asyncio.shield(running)
        task = asyncio.ensure_future(self._attempts(alert, sub, delivery_id))
        self._pending[delivery_id] = task
        try:
            return await task  # cancelling the caller cancels the delivery
        finally:
            self._pending.pop(delivery_id, None)

    async def _attempts(self, alert: Alert, sub: Subscription, delivery_id: str) -> bool:
        name = channel_of(sub)
        channel = self._channels.get(name or "")
        if channel is None:
            self._metrics.unusable_subscriptions.inc()
            log.warning(
                "subscription has no usable channel; skipped",
                extra={"subscription_id": sub.subscription_id, "channel": name or ""},
            )
            return True
        acks: list[Awaitable[Any]] = []
        try:
            for attempt in range(1, self._max_attempts + 1):
                record = DeliveryAttempt(
                    delivery_id=delivery_id,
                    alert_id=alert.alert_id,
                    subscription_id=sub.subscription_id,
                    channel=channel.name,
                    attempt=attempt,
                    started_at=timestamp(),
                )
                error = await self._call(channel, alert, sub, delivery_id, attempt, record)
                if error is None:
                    record.outcome = DeliveryOutcome.DELIVERY_OUTCOME_DELIVERED
                    acks.append(await self._audit(record, channel.name))
                    self.delivered.add(delivery_id)
                    self._observe_lag(alert)
                    log.debug(
                        "alert delivered",
                        extra={"alert_id": alert.alert_id, "delivery_id": delivery_id, "attempt": attempt},
                    )
                    return True
                last = attempt == self._max_attempts
                if not error.retriable or last:
                    final = (
                        DeliveryOutcome.DELIVERY_OUTCOME_FAILED
                        if error.retriable
                        else DeliveryOutcome.DELIVERY_OUTCOME_REJECTED
                    )
                    record.outcome = final
                    acks.append(await self._audit(record, channel.name))
                    acks.append(await self._dead_letter(alert, sub, final, error, attempt))
                    return True
                record.outcome = DeliveryOutcome.DELIVERY_OUTCOME_RETRYING
                acks.append(await self._audit(record, channel.name))
                self._metrics.retries.labels(channel=channel.name).inc()
                delay = self._delay(attempt, error)
                log.info(
                    "delivery failed; will retry",
                    extra={
                        "alert_id": alert.alert_id,
                        "subscription_id": sub.subscription_id,
                        "attempt": attempt,
                        "retry_in_seconds": round(delay, 3),
                        "error": record.error,
                    },
                )
                if not await self._pause(delay):
                    log.info(
                        "retry abandoned: shutting down",
                        extra={"alert_id": alert.alert_id, "subscription_id": sub.subscription_id},
                    )
                    return False
            return True  # unreachable: the last attempt always returns above
        finally:
            await asyncio.gather(*acks)

    async def _call(
        self,
        channel: Channel,
        alert: Alert,
        sub: Subscription,
        delivery_id: str,
        attempt: int,
        record: DeliveryAttempt,
    ) -> DeliveryError | None:
        """One channel call; fills the record's status, duration and error. None = delivered."""
        started = time.monotonic()
        error: DeliveryError | None = None
        async with self._slots:
            self._metrics.in_flight.inc()
            try:
                result = await channel.deliver(alert, sub, delivery_id, attempt)
                record.http_status = result.http_status
            except DeliveryError as exc:
                error = exc
                record.http_status = exc.status or 0
            except Exception as exc:  # a channel bug must not stop the other deliveries
                log.exception("channel raised an unexpected error", extra={"channel": channel.name})
                error = DeliveryError(f"unexpected {type(exc).__name__} in channel", retriable=True)
            finally:
                self._metrics.in_flight.dec()
        duration = time.monotonic() - started
        record.duration_seconds = duration
        self._metrics.delivery_duration.labels(channel=channel.name).observe(duration)
        if error is not None:
            record.error = str(error)[:_ERROR_CHARS]
        return error

    def _delay(self, attempt: int, error: DeliveryError) -> float:
        delay = backoff_delay(attempt, self._initial, self._maximum, self._rng)
        if isinstance(error, RetryLaterError) and error.retry_after_seconds is not None:
            delay = max(delay, min(error.retry_after_seconds, self._maximum))
        return delay

    async def _pause(self, seconds: float) -> bool:
        """Wait ``seconds``; False when stop_retrying() was called before or meanwhile."""
        if self._stopping.is_set():
            return False
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            return True
        return False

    async def _audit(self, record: DeliveryAttempt, channel: str) -> Awaitable[Any]:
        self._metrics.deliveries.labels(channel=channel, outcome=_OUTCOME_LABEL[record.outcome]).inc()
        return await self._publish(DELIVERIES, record.alert_id, record, ())

    async def _dead_letter(
        self,
        alert: Alert,
        sub: Subscription,
        outcome: DeliveryOutcome.ValueType,
        error: DeliveryError,
        attempts: int,
    ) -> Awaitable[Any]:
        rejected = outcome == DeliveryOutcome.DELIVERY_OUTCOME_REJECTED
        reason = "delivery_rejected" if rejected else "delivery_failed"
        log.warning(
            "alert not delivered; sent to the dead-letter topic",
            extra={
                "alert_id": alert.alert_id,
                "subscription_id": sub.subscription_id,
                "reason": reason,
                "attempts": attempts,
                "error": str(error)[:_ERROR_CHARS],
            },
        )
        self._metrics.dlq_messages.labels(reason=reason).inc()
        headers = [
            (DLQ_REASON_HEADER, reason.encode()),
            (DLQ_ERROR_HEADER, str(error)[:_ERROR_CHARS].encode("utf-8", "replace")),
            (DLQ_SUBSCRIPTION_HEADER, sub.subscription_id.encode()),
        ]
        return await self._publish(ALERTS_DLQ, alert.alert_id, alert, headers)

    def _observe_lag(self, alert: Alert) -> None:
        created = to_datetime(alert.created_at)
        if created is not None:
            lag = (datetime.now(UTC) - created).total_seconds()
            self._metrics.fanout_lag.observe(max(0.0, lag))

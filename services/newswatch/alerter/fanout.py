"""Fan-out of alerts to their matching subscriptions: attempts, durable retries, audit, dead letters.

Two entry points, both returning only once every outcome they produced is acknowledged by the broker:

- :meth:`Fanout.deliver` (the alerts consumer): for each (alert, subscription) — unless its delivery id
  already has a final outcome (:class:`~newswatch.alerter.ledger.OutcomeCache`) — either hold it back
  (the subscription's policy, :mod:`~newswatch.alerter.policies`: a ``deferred`` entry on the schedule)
  or make attempt 1 at once.
- :meth:`Fanout.run_scheduled` (the :class:`~newswatch.alerter.schedule.Scheduler` handler): due
  entries of the schedule — a retry, a replay from the DLQ, or one subscription's deferred alerts, sent
  as one digest when the channel can (``deliver_digest``) and one by one otherwise. The subscription is
  looked up again first: removed → dropped (counted); disabled → dead-lettered
  (``subscription_disabled``); the entry is then settled with a tombstone.

After a failed attempt ``n``: a retriable error (5xx, 408, 429, timeout, connection refused) with
attempts left (``1 + len(delivery_retry_schedule)`` in all) puts a ``retry`` entry for attempt ``n + 1``
on the schedule, due after the ``n``-th delay of the schedule with ±10 % jitter (longer if the receiver's
Retry-After asks, up to the schedule's longest delay), and only once the broker acknowledged it is the
attempt audited as ``retrying`` — nothing waits in memory. Otherwise the outcome is final (``failed`` or
``rejected``) and the alert goes to ``newswatch.alerts.dlq.v1`` with :data:`DLQ_REASON_HEADER`,
:data:`DLQ_ERROR_HEADER` and :data:`DLQ_SUBSCRIPTION_HEADER`.

Every attempt is published as a ``DeliveryAttempt`` on ``newswatch.deliveries.v1`` (key alert_id). The
delivery id is derived from both ids (:func:`delivery_id_for`), so every attempt, retry and replay of one
(alert, subscription) carries the same ``webhook-id``; a digest has its own id derived from its members'
(:func:`digest_id_for`), and each member is audited under its own delivery id. Endpoint health
(:class:`~newswatch.alerter.endpoints.EndpointTracker`) sees every attempt. Broker errors propagate.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client import Counter, Histogram

from newswatch.alerter.channels.base import Channel, DeliveryResult, RetryLaterError
from newswatch.alerter.endpoints import EndpointTracker
from newswatch.alerter.ledger import OutcomeCache
from newswatch.alerter.metrics import AlerterMetrics
from newswatch.alerter.policies import RateLimiter, hold_for
from newswatch.alerter.schedule import Schedule
from newswatch.alerter.store import Publish
from newswatch.alerter.subscriptions import channel_of
from newswatch.contracts import timestamp
from newswatch.errors import DeliveryError
from newswatch.settings import Settings, parse_durations
from newswatch.topics import ALERTS_DLQ, DELIVERIES
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.delivery_pb2 import DeliveryAttempt, DeliveryOutcome, ScheduledDelivery, ScheduledKind
from newswatch.v1.subscription_pb2 import Subscription

__all__ = [
    "DLQ_ERROR_HEADER",
    "DLQ_REASON_HEADER",
    "DLQ_SUBSCRIPTION_HEADER",
    "DigestChannel",
    "Fanout",
    "Publish",
    "delivery_id_for",
    "digest_id_for",
    "retry_delay",
]

log = logging.getLogger(__name__)

DLQ_REASON_HEADER = "newswatch-dlq-reason"
DLQ_ERROR_HEADER = "newswatch-dlq-error"
DLQ_SUBSCRIPTION_HEADER = "newswatch-subscription-id"
_ERROR_CHARS = 500
_JITTER = 0.1
Kind = ScheduledKind
Outcome = DeliveryOutcome

_OUTCOME_LABEL = {
    Outcome.DELIVERY_OUTCOME_DELIVERED: "delivered",
    Outcome.DELIVERY_OUTCOME_RETRYING: "retrying",
    Outcome.DELIVERY_OUTCOME_FAILED: "failed",
    Outcome.DELIVERY_OUTCOME_REJECTED: "rejected",
}


@runtime_checkable
class DigestChannel(Protocol):
    """A channel that can deliver several alerts in one call (webhook body: ``digest_document``)."""

    name: str

    async def deliver_digest(
        self, alerts: Sequence[Alert], subscription: Subscription, delivery_id: str, attempt: int
    ) -> DeliveryResult: ...


def delivery_id_for(alert_id: str, subscription_id: str) -> str:
    """``"msg_"`` + 32 hex characters, a pure function of both ids."""
    digest = hashlib.sha256(f"{alert_id}\x00{subscription_id}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def digest_id_for(delivery_ids: Sequence[str]) -> str:
    """The delivery id of a digest: a pure function of its members' ids (in any order)."""
    digest = hashlib.sha256("\x00".join(sorted(delivery_ids)).encode()).hexdigest()
    return f"msg_{digest[:32]}"


def retry_delay(
    schedule: Sequence[float],
    failed_attempt: int,
    rng: Callable[[], float] = random.random,
    retry_after: float | None = None,
) -> float:
    """Delay after the ``failed_attempt``-th failure: that step of ``schedule`` ±10 % jitter, at least
    the receiver's Retry-After but never more than the schedule's longest delay."""
    base = schedule[min(failed_attempt, len(schedule)) - 1]
    delay = base * (1 - _JITTER + 2 * _JITTER * rng())
    if retry_after is not None:
        delay = max(delay, min(retry_after, max(schedule)))
    return delay


@dataclass(slots=True)
class _Item:
    """One (alert, subscription) delivery inside an attempt."""

    alert: Alert
    delivery_id: str
    attempt: int


class Fanout:
    """Delivers alerts through ``channels`` (by channel name); see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        channels: Mapping[str, Channel],
        publish: Publish,
        metrics: AlerterMetrics,
        schedule: Schedule,
        *,
        outcomes: OutcomeCache | None = None,
        endpoints: EndpointTracker | None = None,
        limiter: RateLimiter | None = None,
        lookup: Callable[[str], Subscription | None] = lambda _id: None,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._channels = channels
        self._publish = publish
        self._metrics = metrics
        self._schedule = schedule
        self.outcomes = outcomes if outcomes is not None else OutcomeCache()
        self._endpoints = endpoints
        self.limiter = limiter if limiter is not None else RateLimiter()
        self._lookup = lookup
        self._rng = rng
        self._clock = clock
        self._delays = parse_durations(settings.delivery_retry_schedule)
        self.max_attempts = 1 + len(self._delays)
        self._slots = asyncio.Semaphore(settings.delivery_concurrency)
        self._pending: dict[str, asyncio.Future[None]] = {}
        self._outcome_counters: dict[tuple[str, DeliveryOutcome.ValueType], Counter] = {}
        self._durations: dict[str, Histogram] = {}

    # ------------------------------------------------------------------ alerts path

    async def deliver(self, alert: Alert, subscriptions: Sequence[Subscription]) -> bool:
        """Deliver or hold ``alert`` for each subscription; True once every outcome is durable."""
        if len(subscriptions) == 1:
            await self._once(alert, subscriptions[0])
        elif subscriptions:
            await asyncio.gather(*(self._once(alert, sub) for sub in subscriptions))
        return True

    async def _once(self, alert: Alert, sub: Subscription) -> None:
        delivery_id = delivery_id_for(alert.alert_id, sub.subscription_id)
        if self.outcomes.outcome(delivery_id) is not None:
            self._metrics.duplicates_suppressed.inc()
            return
        running = self._pending.get(delivery_id)
        if running is not None:  # the same alert twice in flight: share the first outcome
            self._metrics.duplicates_suppressed.inc()
            await asyncio.shield(running)
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()  # settled when it ends
        self._pending[delivery_id] = done
        try:
            await self._first(alert, sub, delivery_id)  # cancelling the caller cancels the delivery
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                done.cancel()
            else:
                done.set_exception(exc)
                done.exception()  # marked retrieved: this caller raises it (and waiters, if any)
            raise
        else:
            done.set_result(None)
        finally:
            self._pending.pop(delivery_id, None)

    async def _first(self, alert: Alert, sub: Subscription, delivery_id: str) -> None:
        channel = self._channel(sub)
        if channel is None:
            return
        hold = hold_for(sub, self._clock(), self.limiter)
        if hold is not None:
            entry = self._entry(alert, sub, delivery_id, Kind.SCHEDULED_KIND_DEFERRED, 1, hold.until, "")
            await (await self._schedule.put(entry))
            self._metrics.deferred.labels(reason=hold.reason).inc()
            return
        await self._attempt([_Item(alert, delivery_id, 1)], sub, channel)

    # ------------------------------------------------------------------ schedule path

    async def run_scheduled(self, entries: list[ScheduledDelivery]) -> None:
        """Handle due schedule entries (all of one subscription when deferred); settle each durably."""
        by_sub: dict[str, list[ScheduledDelivery]] = {}
        for entry in entries:
            by_sub.setdefault(entry.subscription_id, []).append(entry)
        await asyncio.gather(*(self._scheduled_for(sub_id, group) for sub_id, group in by_sub.items()))

    async def _scheduled_for(self, subscription_id: str, entries: list[ScheduledDelivery]) -> None:
        acks: list[Awaitable[Any]] = []
        try:
            sub = self._lookup(subscription_id)
            channel = self._channel(sub) if sub is not None else None
            if sub is None or channel is None:
                if sub is None:
                    self._metrics.scheduled_dropped.labels(reason="subscription_removed").inc(len(entries))
                    log.info(
                        "scheduled deliveries dropped: subscription removed",
                        extra={"subscription_id": subscription_id, "deliveries": len(entries)},
                    )
                acks += [await self._settle(e) for e in entries]
                return
            if not sub.enabled:
                for e in entries:
                    acks.append(
                        await self._dead_letter(
                            e.alert, sub, "subscription_disabled", "subscription disabled", e.attempt
                        )
                    )
                    acks.append(await self._settle(e))
                return
            live: list[ScheduledDelivery] = []
            for e in entries:
                if self.outcomes.delivered(e.delivery_id):
                    self._metrics.scheduled_dropped.labels(reason="already_delivered").inc()
                    acks.append(await self._settle(e))
                else:
                    live.append(e)
            deferred = [e for e in live if e.kind == Kind.SCHEDULED_KIND_DEFERRED]
            if deferred and await self._held_again(deferred, sub):
                live = [e for e in live if e.kind != Kind.SCHEDULED_KIND_DEFERRED]
                deferred = []
            if len(deferred) > 1 and isinstance(channel, DigestChannel):
                items = [_Item(e.alert, e.delivery_id, e.attempt) for e in deferred]
                live = [e for e in live if e.kind != Kind.SCHEDULED_KIND_DEFERRED]
                await self._attempt(items, sub, channel, settle=deferred)
            for e in live:
                await self._attempt([_Item(e.alert, e.delivery_id, e.attempt)], sub, channel, settle=[e])
        finally:
            await asyncio.gather(*acks)

    async def _held_again(self, deferred: list[ScheduledDelivery], sub: Subscription) -> bool:
        hold = hold_for(sub, self._clock(), self.limiter, digest_due=True)
        if hold is None:
            return False
        acks = []
        for e in deferred:
            again = ScheduledDelivery()
            again.CopyFrom(e)
            again.not_before.FromNanoseconds(int(hold.until * 1e9))
            acks.append(await self._schedule.put(again))
        await asyncio.gather(*acks)
        self._metrics.deferred.labels(reason=hold.reason).inc(len(deferred))
        return True

    # ------------------------------------------------------------------ one attempt

    async def _attempt(
        self,
        items: list[_Item],
        sub: Subscription,
        channel: Channel,
        settle: Sequence[ScheduledDelivery] = (),
    ) -> None:
        """One channel call for ``items`` (a digest when several); record and settle every outcome."""
        acks: list[Awaitable[Any]] = []
        try:
            started = Timestamp()
            started.FromNanoseconds(time.time_ns())
            result, error, duration = await self._call(channel, items, sub)
            attempt = max(i.attempt for i in items)
            message = str(error)[:_ERROR_CHARS] if error else ""
            records = [
                DeliveryAttempt(
                    delivery_id=i.delivery_id,
                    alert_id=i.alert.alert_id,
                    subscription_id=sub.subscription_id,
                    channel=channel.name,
                    attempt=i.attempt,
                    started_at=started,
                    duration_seconds=duration,
                    http_status=result.http_status if result else (error.status or 0) if error else 0,
                    error=message,
                )
                for i in items
            ]
            rescheduled: set[str] = set()
            if error is None:
                self.limiter.record(sub.subscription_id, sub.rate_limit_per_hour, self._clock())
                if len(items) > 1:
                    self._metrics.digests.labels(channel=channel.name).inc()
                for item, record in zip(items, records, strict=True):
                    record.outcome = Outcome.DELIVERY_OUTCOME_DELIVERED
                    self._observe_lag(item.alert)
                health = await self._endpoints.success(sub) if self._endpoints is not None else None
                if health is not None:
                    acks.append(health)
            else:
                health = await self._endpoints.failure(sub, message) if self._endpoints is not None else None
                if health is not None:
                    acks.append(health)
                if error.retriable and attempt < self.max_attempts:
                    retry_after = error.retry_after_seconds if isinstance(error, RetryLaterError) else None
                    delay = retry_delay(self._delays, attempt, self._rng, retry_after)
                    puts = [
                        await self._schedule.put(
                            self._entry(
                                i.alert,
                                sub,
                                i.delivery_id,
                                Kind.SCHEDULED_KIND_RETRY,
                                i.attempt + 1,
                                self._clock() + delay,
                                message,
                            )
                        )
                        for i in items
                    ]
                    await asyncio.gather(*puts)  # the retry is durable before the attempt is reported
                    rescheduled = {i.delivery_id for i in items}
                    for record in records:
                        record.outcome = Outcome.DELIVERY_OUTCOME_RETRYING
                    self._metrics.retries.labels(channel=channel.name).inc(len(items))
                    log.info(
                        "delivery failed; retry scheduled",
                        extra={
                            "subscription_id": sub.subscription_id,
                            "attempt": attempt,
                            "alerts": len(items),
                            "retry_in_seconds": round(delay, 3),
                            "error": message,
                        },
                    )
                else:
                    final = (
                        Outcome.DELIVERY_OUTCOME_FAILED
                        if error.retriable
                        else Outcome.DELIVERY_OUTCOME_REJECTED
                    )
                    reason = "delivery_failed" if error.retriable else "delivery_rejected"
                    for item, record in zip(items, records, strict=True):
                        record.outcome = final
                        acks.append(await self._dead_letter(item.alert, sub, reason, message, item.attempt))
            for record in records:
                self.outcomes.record(record.delivery_id, record.outcome)
                self._counter(channel.name, record.outcome).inc()
                acks.append(await self._publish(DELIVERIES, record.alert_id, record, ()))
            acks += [await self._settle(e) for e in settle if e.delivery_id not in rescheduled]
        finally:
            for ack in acks:  # already sent: awaiting in turn costs less than a gather
                await ack

    async def _call(
        self, channel: Channel, items: list[_Item], sub: Subscription
    ) -> tuple[DeliveryResult | None, DeliveryError | None, float]:
        """One channel call: (result, None) when delivered, (None, error) otherwise, and its duration."""
        started = time.monotonic()
        result: DeliveryResult | None = None
        error: DeliveryError | None = None
        async with self._slots:
            self._metrics.in_flight.inc()
            try:
                if len(items) == 1:
                    item = items[0]
                    result = await channel.deliver(item.alert, sub, item.delivery_id, item.attempt)
                else:
                    assert isinstance(channel, DigestChannel)
                    alerts = [i.alert for i in items]
                    digest_id = digest_id_for([i.delivery_id for i in items])
                    result = await channel.deliver_digest(
                        alerts, sub, digest_id, max(i.attempt for i in items)
                    )
            except DeliveryError as exc:
                error = exc
            except Exception as exc:  # a channel bug must not stop the other deliveries
                log.exception("channel raised an unexpected error", extra={"channel": channel.name})
                error = DeliveryError(f"unexpected {type(exc).__name__} in channel", retriable=True)
            finally:
                self._metrics.in_flight.dec()
        duration = time.monotonic() - started
        duration_child = self._durations.get(channel.name)
        if duration_child is None:
            duration_child = self._durations[channel.name] = self._metrics.delivery_duration.labels(
                channel=channel.name
            )
        duration_child.observe(duration)
        return result, error, duration

    # ------------------------------------------------------------------ helpers

    def _counter(self, channel: str, outcome: DeliveryOutcome.ValueType) -> Counter:
        """The deliveries counter of (channel, outcome), looked up once."""
        child = self._outcome_counters.get((channel, outcome))
        if child is None:
            child = self._metrics.deliveries.labels(channel=channel, outcome=_OUTCOME_LABEL[outcome])
            self._outcome_counters[(channel, outcome)] = child
        return child

    def _channel(self, sub: Subscription) -> Channel | None:
        name = channel_of(sub) or ""
        channel = self._channels.get(name)
        if channel is None:
            self._metrics.unusable_subscriptions.inc()
            log.warning(
                "subscription has no usable channel; skipped",
                extra={"subscription_id": sub.subscription_id, "channel": name},
            )
        return channel

    def _entry(
        self,
        alert: Alert,
        sub: Subscription,
        delivery_id: str,
        kind: ScheduledKind.ValueType,
        attempt: int,
        not_before: float,
        error: str,
    ) -> ScheduledDelivery:
        entry = ScheduledDelivery(
            delivery_id=delivery_id,
            subscription_id=sub.subscription_id,
            alert=alert,
            kind=kind,
            attempt=attempt,
            last_error=error[:_ERROR_CHARS],
            created_at=timestamp(),
        )
        entry.not_before.FromNanoseconds(int(not_before * 1e9))
        return entry

    async def _settle(self, entry: ScheduledDelivery) -> Awaitable[Any]:
        return await self._schedule.settle(entry.delivery_id, entry.subscription_id)

    async def _dead_letter(
        self, alert: Alert, sub: Subscription, reason: str, error: str, attempts: int
    ) -> Awaitable[Any]:
        log.warning(
            "alert not delivered; sent to the dead-letter topic",
            extra={
                "alert_id": alert.alert_id,
                "subscription_id": sub.subscription_id,
                "reason": reason,
                "attempts": attempts,
                "error": error[:_ERROR_CHARS],
            },
        )
        self._metrics.dlq_messages.labels(reason=reason).inc()
        headers = [
            (DLQ_REASON_HEADER, reason.encode()),
            (DLQ_ERROR_HEADER, error[:_ERROR_CHARS].encode("utf-8", "replace")),
            (DLQ_SUBSCRIPTION_HEADER, sub.subscription_id.encode()),
        ]
        return await self._publish(ALERTS_DLQ, alert.alert_id, alert, headers)

    def _observe_lag(self, alert: Alert) -> None:
        created = alert.created_at
        if created.seconds or created.nanos:
            lag = time.time() - (created.seconds + created.nanos / 1e9)
            self._metrics.fanout_lag.observe(max(0.0, lag))

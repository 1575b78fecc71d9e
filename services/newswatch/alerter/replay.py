"""``newswatch deliveries replay``: re-send dead-lettered alerts through the running alerter.

Reads ``newswatch.alerts.dlq.v1`` from ``since`` to its current end (:func:`~newswatch.stored.read_since`:
group-less, commits nothing) and, for each dead letter naming a subscription (header
``newswatch-subscription-id``), puts a ``replay`` entry on the alerter's durable schedule
(``newswatch.alerter.schedule.v1``) due now, with the delivery id of the original delivery — so the
receiver sees the same ``webhook-id`` and can drop what it already has. The alerter then makes attempt
1 of a fresh retry schedule; a delivery it already recorded as delivered is not sent again. Each queued
dead letter also gets a replay mark on ``newswatch.deliveries.v1``
(:func:`~newswatch.alerter.deadletters.replay_mark`), so it no longer counts in the DLQ depth.

Skipped and counted: records that are not alerts (``invalid_message`` dead letters: the bytes never
decoded), dead letters without a subscription, other subscriptions than ``--subscription``, subscriptions
that no longer exist or are disabled (enable them first), and repeats of one (alert, subscription) within
the run. ``dry_run`` counts without writing. Nothing is removed from the DLQ: Kafka retention does that.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from newswatch import contracts
from newswatch.alerter.deadletters import replay_mark
from newswatch.alerter.fanout import DLQ_SUBSCRIPTION_HEADER, delivery_id_for
from newswatch.alerter.schedule import ScheduleWriter
from newswatch.errors import InvalidMessageError
from newswatch.kafka import ensure_topics, make_producer, publish, read_compacted
from newswatch.settings import Settings
from newswatch.stored import read_since
from newswatch.topics import ALERTS_DLQ, DELIVERIES, SCHEDULE, SUBSCRIPTIONS
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.delivery_pb2 import ScheduledDelivery, ScheduledKind
from newswatch.v1.subscription_pb2 import Subscription

__all__ = ["DlqReplayReport", "replay_dead_letters"]

_ACK_BATCH = 1000


@dataclass
class DlqReplayReport:
    """What a replay found and did. ``replayed`` counts entries written (or that would be, dry run)."""

    scanned: int = 0
    replayed: int = 0
    skipped: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("not_an_alert", "no_subscription", "filtered", "unknown_subscription", "disabled", "repeat"), 0
        )
    )

    def summary(self, dry_run: bool) -> str:
        verb = "would re-send" if dry_run else "queued for re-sending"
        skipped = ", ".join(f"{n} {why.replace('_', ' ')}" for why, n in self.skipped.items() if n)
        return f"{verb} {self.replayed} of {self.scanned} dead letters" + (
            f" (skipped: {skipped})" if skipped else ""
        )


async def replay_dead_letters(
    settings: Settings,
    since: datetime,
    *,
    subscription_id: str | None = None,
    dry_run: bool = False,
) -> DlqReplayReport:
    """Queue the dead letters stored since ``since`` for delivery again (module docstring)."""
    await ensure_topics(settings, [ALERTS_DLQ, DELIVERIES, SCHEDULE, SUBSCRIPTIONS])
    subs = await read_compacted(settings, SUBSCRIPTIONS, Subscription)
    report = DlqReplayReport()
    seen: set[str] = set()
    acks: list[Awaitable[Any]] = []
    producer = make_producer(settings, "deliveries-replay")
    await producer.start()
    try:
        writer = ScheduleWriter(producer)
        records = read_since(settings, ALERTS_DLQ, since, role="deliveries-replay")
        async with contextlib.aclosing(records):
            async for record in records:
                report.scanned += 1
                try:
                    alert = contracts.decode(Alert, record.value, record.headers)
                except InvalidMessageError:
                    report.skipped["not_an_alert"] += 1
                    continue
                sub_id = contracts.header(record.headers, DLQ_SUBSCRIPTION_HEADER) or ""
                why = _skip_reason(alert, sub_id, subs, subscription_id, seen)
                if why is not None:
                    report.skipped[why] += 1
                    continue
                report.replayed += 1
                if not dry_run:
                    acks.append(await writer.put(_entry(alert, sub_id)))
                    mark = replay_mark(alert.alert_id, sub_id)
                    acks.append(await publish(producer, DELIVERIES, alert.alert_id, mark))
                if len(acks) >= _ACK_BATCH:
                    await asyncio.gather(*acks)
                    acks.clear()
        await asyncio.gather(*acks)
    finally:
        await producer.stop()
    return report


def _skip_reason(
    alert: Alert, sub_id: str, subs: dict[str, Subscription], wanted: str | None, seen: set[str]
) -> str | None:
    if not sub_id:
        return "no_subscription"
    if wanted is not None and sub_id != wanted:
        return "filtered"
    sub = subs.get(sub_id)
    if sub is None:
        return "unknown_subscription"
    if not sub.enabled:
        return "disabled"
    delivery_id = delivery_id_for(alert.alert_id, sub_id)
    if delivery_id in seen:
        return "repeat"
    seen.add(delivery_id)
    return None


def _entry(alert: Alert, subscription_id: str) -> ScheduledDelivery:
    entry = ScheduledDelivery(
        delivery_id=delivery_id_for(alert.alert_id, subscription_id),
        subscription_id=subscription_id,
        alert=alert,
        kind=ScheduledKind.SCHEDULED_KIND_REPLAY,
        attempt=1,
        created_at=contracts.timestamp(),
    )
    entry.not_before.FromNanoseconds(time.time_ns())
    return entry

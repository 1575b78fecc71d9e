"""``newswatch tail``: print alerts from ``newswatch.alerts.v1`` as they arrive.

Reads without a consumer group (it commits nothing and never takes partitions from the alerter). By
default the last ``n`` alerts already on the topic are printed first, oldest first, then new ones.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiokafka import TopicPartition
from google.protobuf.json_format import MessageToDict

from newswatch import contracts
from newswatch.errors import InvalidMessageError
from newswatch.kafka import assign_all_partitions, caught_up, ensure_topics, make_consumer
from newswatch.settings import Settings
from newswatch.topics import ALERTS
from newswatch.v1.alert_pb2 import Alert

__all__ = ["format_alert", "tail_alerts"]


def format_alert(alert: Alert) -> str:
    """One human-readable line per alert."""
    when = contracts.to_datetime(alert.created_at)
    stamp = when.strftime("%Y-%m-%d %H:%M:%S") if when else "-"
    terms = sorted({m.term_label for m in alert.matches})
    parts = [
        f"{stamp} [{alert.watchlist_name or alert.watchlist_id}] score={alert.score:g}",
        alert.title or "(untitled)",
        f"terms={','.join(terms) or '-'}",
        f"regions={','.join(alert.regions) or '-'}",
        f"countries={','.join(alert.countries) or '-'}",
        alert.url,
    ]
    return " | ".join(parts)


def alert_json(alert: Alert) -> str:
    return json.dumps(MessageToDict(alert, preserving_proto_field_name=True), ensure_ascii=False)


async def tail_alerts(
    settings: Settings,
    emit: Callable[[str], None],
    *,
    last: int = 10,
    as_json: bool = False,
    watchlist: str | None = None,
    max_alerts: int | None = None,
    timeout_seconds: float | None = None,
) -> int:
    """Print alerts until ``max_alerts`` were printed or ``timeout_seconds`` passed (None = forever).

    Returns the number of alerts printed.
    """
    await ensure_topics(settings, [ALERTS])
    consumer = make_consumer(settings, "tail", group_id=None, isolation_level="read_uncommitted")
    await consumer.start()
    printed = 0
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    try:
        tps = await assign_all_partitions(consumer, ALERTS)
        ends = await consumer.end_offsets(tps)
        begins = await consumer.beginning_offsets(tps)
        backlog: list[Any] = []
        for tp in tps:
            start = max(begins[tp], ends[tp] - max(last, 0))
            consumer.seek(tp, start)
        # Read the backlog (up to the end offsets seen at start), then print its newest `last`, oldest first.
        while not await caught_up(consumer, ends):
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                backlog.extend(r for r in records if r.offset < ends[TopicPartition(r.topic, r.partition)])
        backlog.sort(key=lambda r: r.timestamp)

        def show(record: Any) -> bool:
            try:
                alert = contracts.decode(Alert, record.value, record.headers)
            except InvalidMessageError:
                return False
            if watchlist and watchlist not in (alert.watchlist_id, alert.watchlist_name):
                return False
            emit(alert_json(alert) if as_json else format_alert(alert))
            return True

        for record in backlog[-last:] if last > 0 else []:
            if show(record):
                printed += 1
                if max_alerts is not None and printed >= max_alerts:
                    return printed
        while deadline is None or time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    if show(record):
                        printed += 1
                        if max_alerts is not None and printed >= max_alerts:
                            return printed
            await asyncio.sleep(0)
        return printed
    finally:
        await consumer.stop()

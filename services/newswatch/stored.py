"""Reading what a topic stored since a point in time: the shared reader of ``replay`` and ``backtest``.

:func:`read_since` assigns every partition of a topic to a group-less consumer (it commits nothing and
takes no partitions from any service), seeks each one to the first offset stored at or after ``since``
(``offsets_for_times``), and yields records up to the end offsets the partitions had when reading
started: records written meanwhile are not read, so a run always ends. Records come as fetched:
partitions interleave, each in offset order. Memory stays bounded by one fetch (``max_poll_records``).

:func:`stored_articles` is the raw-article view of it both commands need: each record decoded as an
``Article``, with messages that do not decode and copies re-published by ``newswatch replay`` (header
:data:`REPLAY_HEADER`) skipped and counted in a :class:`SkipCounts`.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from newswatch import contracts
from newswatch.errors import InvalidMessageError, SettingsError
from newswatch.kafka import assign_all_partitions, caught_up, ensure_topics, make_consumer
from newswatch.settings import Settings
from newswatch.topics import ARTICLES_RAW, TopicSpec
from newswatch.v1.article_pb2 import Article

__all__ = [
    "MAX_READ_SECONDS",
    "REPLAY_HEADER",
    "ReadProgress",
    "SkipCounts",
    "parse_since",
    "read_since",
    "stored_articles",
]

log = logging.getLogger(__name__)

MAX_READ_SECONDS = 600.0
_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Set by ``newswatch replay`` on the copies it publishes (value: the replay id).
REPLAY_HEADER = "newswatch-replay"


@dataclass
class ReadProgress:
    """Filled in by :func:`read_since`: ``complete`` turns True once every partition reached its end."""

    complete: bool = False


@dataclass
class SkipCounts:
    """Records :func:`stored_articles` left out: not decodable, or an earlier replay's copy."""

    invalid: int = 0
    replays: int = 0


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``7d``, ``12h``, ``30m`` … or an ISO 8601 time; returns an aware UTC datetime.

    Raises SettingsError (naming ``--since``) for anything else.
    """
    now = now or datetime.now(UTC)
    match = _DURATION.match(text.strip())
    if match:
        return now - timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise SettingsError(
            "--since", f"expected a duration such as 7d or an ISO time, got {text!r}"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


async def read_since(
    settings: Settings,
    topic: TopicSpec,
    since: datetime,
    *,
    role: str,
    max_seconds: float = MAX_READ_SECONDS,
    progress: ReadProgress | None = None,
) -> AsyncGenerator[Any, None]:
    """Yield the committed records of ``topic`` stored at or after ``since`` (aiokafka ConsumerRecords).

    Stops at the end offsets seen at start (then sets ``progress.complete``), or after ``max_seconds``
    (logged). Close the generator (``contextlib.aclosing``) when leaving early: that stops the consumer.
    Kafka errors propagate.
    """
    await ensure_topics(settings, [topic])
    consumer = make_consumer(settings, role, group_id=None, isolation_level="read_committed")
    await consumer.start()
    try:
        tps = await assign_all_partitions(consumer, topic)
        ends = await consumer.end_offsets(tps)
        since_ms = int(since.timestamp() * 1000)
        found = await consumer.offsets_for_times(dict.fromkeys(tps, since_ms))
        for tp in tps:
            hit = found.get(tp)
            consumer.seek(tp, hit.offset if hit is not None else ends[tp])
        started = time.monotonic()
        while not await caught_up(consumer, ends):
            if time.monotonic() - started >= max_seconds:
                log.warning(
                    "stopped reading before the end offsets",
                    extra={"topic": topic.name, "max_seconds": max_seconds},
                )
                return
            batch = await consumer.getmany(timeout_ms=500)
            for tp, records in batch.items():
                for record in records:
                    if record.offset < ends[tp]:
                        yield record
        if progress is not None:
            progress.complete = True
    finally:
        await consumer.stop()


async def stored_articles(
    settings: Settings,
    since: datetime,
    skipped: SkipCounts,
    *,
    role: str,
    max_seconds: float = MAX_READ_SECONDS,
    progress: ReadProgress | None = None,
) -> AsyncGenerator[tuple[Any, Article], None]:
    """Yield ``(record, article)`` for the raw articles stored since ``since`` (see :func:`read_since`),
    skipping — and counting in ``skipped`` — records that do not decode and replay copies."""
    records = read_since(settings, ARTICLES_RAW, since, role=role, max_seconds=max_seconds, progress=progress)
    async with contextlib.aclosing(records):
        async for record in records:
            try:
                article = contracts.decode(Article, record.value, record.headers)
            except InvalidMessageError:
                skipped.invalid += 1
                continue
            if contracts.header(record.headers, REPLAY_HEADER) is not None:
                skipped.replays += 1  # an earlier replay's copy: its original is read instead
                continue
            yield record, article

"""``newswatch replay``: re-publish stored raw articles so the processor examines them again.

Reads ``newswatch.articles.raw.v1`` from a point in time and publishes each article again on the same
topic with a ``newswatch-replay`` header carrying a replay id. The processor treats a replayed article as
new within that replay (its normal de-duplication would drop it), so a changed watch list is applied to
stored articles. Messages that do not decode are skipped and counted.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from newswatch import contracts
from newswatch.errors import InvalidMessageError, SettingsError
from newswatch.kafka import assign_all_partitions, caught_up, ensure_topics, make_consumer, make_producer
from newswatch.settings import Settings
from newswatch.topics import ARTICLES_RAW
from newswatch.v1.article_pb2 import Article

__all__ = ["REPLAY_HEADER", "ReplayReport", "parse_since", "replay_articles"]

REPLAY_HEADER = "newswatch-replay"
_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``7d``, ``12h``, ``30m`` … or an ISO 8601 time; returns an aware UTC datetime."""
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


@dataclass
class ReplayReport:
    replay_id: str
    republished: int = 0
    skipped_invalid: int = 0


async def replay_articles(
    settings: Settings, since: datetime, feed_id: str | None = None, dry_run: bool = False
) -> ReplayReport:
    """Re-publish raw articles stored since ``since`` (optionally of one feed)."""
    await ensure_topics(settings, [ARTICLES_RAW])
    report = ReplayReport(replay_id=uuid.uuid4().hex[:12])
    consumer = make_consumer(settings, "replay", group_id=None, isolation_level="read_committed")
    producer = make_producer(settings, "replay")
    await consumer.start()
    await producer.start()
    try:
        tps = await assign_all_partitions(consumer, ARTICLES_RAW)
        ends = await consumer.end_offsets(tps)
        since_ms = int(since.timestamp() * 1000)
        found = await consumer.offsets_for_times(dict.fromkeys(tps, since_ms))
        for tp in tps:
            hit = found.get(tp)
            consumer.seek(tp, hit.offset if hit is not None else ends[tp])
        started = time.monotonic()
        while not await caught_up(consumer, ends) and time.monotonic() - started < 600:
            batch = await consumer.getmany(timeout_ms=500)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        continue
                    try:
                        article = contracts.decode(Article, record.value, record.headers)
                    except InvalidMessageError:
                        report.skipped_invalid += 1
                        continue
                    if contracts.header(record.headers, REPLAY_HEADER) is not None:
                        continue  # an earlier replay's copy: the original is replayed instead
                    if feed_id and article.feed_id != feed_id:
                        continue
                    if not dry_run:
                        marker = [(REPLAY_HEADER, report.replay_id.encode())]
                        value, headers = contracts.encode(article, marker)
                        await producer.send(ARTICLES_RAW.name, value=value, key=record.key, headers=headers)
                    report.republished += 1
        await producer.flush()
        return report
    finally:
        await producer.stop()
        await consumer.stop()

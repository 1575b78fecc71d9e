"""``newswatch replay``: re-publish stored raw articles so the processor examines them again.

Reads ``newswatch.articles.raw.v1`` from a point in time and publishes each article again on the same
topic with a ``newswatch-replay`` header carrying a replay id. The processor treats a replayed article as
new within that replay (its normal de-duplication would drop it), so a changed watch list is applied to
stored articles. Messages that do not decode are skipped and counted.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import datetime

from newswatch import contracts
from newswatch.kafka import make_producer
from newswatch.settings import Settings
from newswatch.stored import REPLAY_HEADER, SkipCounts, parse_since, stored_articles
from newswatch.topics import ARTICLES_RAW

__all__ = ["REPLAY_HEADER", "ReplayReport", "parse_since", "replay_articles"]


@dataclass
class ReplayReport:
    replay_id: str
    republished: int = 0
    skipped_invalid: int = 0


async def replay_articles(
    settings: Settings, since: datetime, feed_id: str | None = None, dry_run: bool = False
) -> ReplayReport:
    """Re-publish raw articles stored since ``since`` (optionally of one feed)."""
    report = ReplayReport(replay_id=uuid.uuid4().hex[:12])
    producer = make_producer(settings, "replay")
    await producer.start()
    try:
        skipped = SkipCounts()
        articles = stored_articles(settings, since, skipped, role="replay")
        async with contextlib.aclosing(articles):
            async for record, article in articles:
                if feed_id and article.feed_id != feed_id:
                    continue
                if not dry_run:
                    marker = [(REPLAY_HEADER, report.replay_id.encode())]
                    value, headers = contracts.encode(article, marker)
                    await producer.send(ARTICLES_RAW.name, value=value, key=record.key, headers=headers)
                report.republished += 1
        await producer.flush()
        report.skipped_invalid = skipped.invalid
        return report
    finally:
        await producer.stop()

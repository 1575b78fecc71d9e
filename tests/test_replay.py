"""``newswatch replay`` on the real broker: stored raw articles of one feed are published again, once."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime

import pytest

from newswatch import contracts
from newswatch.kafka import make_producer, publish
from newswatch.replay import replay_articles
from newswatch.settings import Settings
from newswatch.stored import REPLAY_HEADER, SkipCounts, read_since, stored_articles
from newswatch.topics import ARTICLES_RAW
from newswatch.v1.article_pb2 import Article

pytestmark = pytest.mark.integration


def _article(run: str, feed: str, n: int) -> Article:
    return Article(
        article_id=f"rp-{run}-{feed}-{n}",
        feed_id=f"feed-{run}-{feed}",
        url=f"http://127.0.0.1:9/{run}/{feed}/{n}",
        title=f"Report {n}",
        content="Text.",
        language="en",
    )


async def _stored(settings: Settings, since: datetime, run: str) -> tuple[list[tuple[str, str]], SkipCounts]:
    """(article id, replay header or "") of this run's stored articles, and what the reader skipped."""
    skipped = SkipCounts()
    found: list[tuple[str, str]] = []
    articles = stored_articles(settings, since, skipped, role="test-replay")
    async with contextlib.aclosing(articles):
        async for _record, article in articles:
            if article.article_id.startswith(f"rp-{run}-"):
                found.append((article.article_id, ""))
    # The reader hides replay copies; read them with their header from the raw records.
    records = read_since(settings, ARTICLES_RAW, since, role="test-replay")
    async with contextlib.aclosing(records):
        async for record in records:
            marker = contracts.header(record.headers, REPLAY_HEADER)
            if marker is not None and record.key is not None and record.key.decode().startswith(f"rp-{run}-"):
                found.append((record.key.decode(), marker))
    return found, skipped


async def test_replay_republishes_one_feed_once_and_skips_bad_records(settings: Settings) -> None:
    run = uuid.uuid4().hex[:8]
    producer = make_producer(settings, "test-replay")
    await producer.start()
    try:
        since = datetime.now(UTC)
        await asyncio.sleep(0.05)
        futures = [
            await publish(producer, ARTICLES_RAW, f"rp-{run}-a-{n}", _article(run, "a", n)) for n in (1, 2)
        ]
        futures.append(await publish(producer, ARTICLES_RAW, f"rp-{run}-b-1", _article(run, "b", 1)))
        # an earlier replay's copy and a record that is not an Article
        copy = _article(run, "a", 1)
        futures.append(
            await publish(producer, ARTICLES_RAW, copy.article_id, copy, [(REPLAY_HEADER, b"old")])
        )
        futures.append(
            await producer.send(ARTICLES_RAW.name, key=f"rp-{run}-bad".encode(), value=b"\xff\x00")
        )
        for fut in futures:
            await fut
    finally:
        await producer.stop()

    dry = await replay_articles(settings, since, feed_id=f"feed-{run}-a", dry_run=True)
    assert dry.republished == 2 and dry.skipped_invalid >= 1
    after_dry, _ = await _stored(settings, since, run)
    assert sorted(after_dry) == sorted(
        [(f"rp-{run}-a-1", ""), (f"rp-{run}-a-2", ""), (f"rp-{run}-b-1", ""), (f"rp-{run}-a-1", "old")]
    )

    report = await replay_articles(settings, since, feed_id=f"feed-{run}-a")
    assert report.republished == 2
    found, skipped = await _stored(settings, since, run)
    copies = sorted(key for key, marker in found if marker == report.replay_id)
    assert copies == [f"rp-{run}-a-1", f"rp-{run}-a-2"]  # feed b untouched, the old copy not copied again
    assert skipped.invalid >= 1 and skipped.replays >= 3

"""Entries → ``Article`` protos on ``newswatch.articles.raw.v1``, each at most once per process.

:func:`build_article` is pure. :class:`KafkaPublisher` publishes the articles of one feed keyed by
``article_id``, awaits Kafka's acknowledgement of each, and only then marks it seen (``SeenIds``), so an
article Kafka did not accept is offered again at the next check. An entry is "unchanged" when its id and
content hash were already published by this process; across restarts the processor de-duplicates by
``article_id``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from newswatch import contracts, kafka
from newswatch.errors import NewswatchError
from newswatch.poller.identity import article_id
from newswatch.poller.metrics import PollerMetrics
from newswatch.poller.parser import Entry, ParsedFeed
from newswatch.topics import ARTICLES_RAW
from newswatch.v1.article_pb2 import Article
from newswatch.v1.feed_pb2 import Feed

__all__ = ["KafkaPublisher", "PublishError", "Publisher", "SeenIds", "build_article", "build_articles"]

log = logging.getLogger(__name__)
SEEN_PER_FEED = 4096  # ids remembered per feed (a feed rarely lists more than a few hundred entries)


class PublishError(NewswatchError):
    """Kafka did not acknowledge some articles; they are retried at the next check."""

    retriable = True


def content_sha256(title: str, summary: str, content: str) -> str:
    return hashlib.sha256("\x00".join((title, summary, content)).encode("utf-8", "surrogatepass")).hexdigest()


def build_article(feed: Feed, parsed: ParsedFeed, entry: Entry, fetched_at: datetime) -> Article:
    """The Article for ``entry`` of ``feed``; language: entry, else feed-declared, else catalogue hint."""
    article = Article(
        article_id=article_id(
            entry.guid, entry.link, entry.title + "\n" + entry.summary + "\n" + entry.content
        ),
        feed_id=feed.feed_id,
        feed_url=feed.url,
        url=entry.link,
        title=entry.title,
        summary=entry.summary,
        content=entry.content,
        language=entry.language or parsed.language or feed.language,
        authors=list(entry.authors),
        fetched_at=contracts.timestamp(fetched_at),
        guid=entry.guid,
        content_sha256=content_sha256(entry.title, entry.summary, entry.content),
    )
    if entry.published is not None:
        article.published_at.CopyFrom(contracts.timestamp(entry.published))
    return article


def build_articles(feed: Feed, parsed: ParsedFeed, fetched_at: datetime) -> list[Article]:
    """One Article per entry, first occurrence of an id wins (feeds sometimes repeat an entry)."""
    by_id: dict[str, Article] = {}
    for entry in parsed.entries:
        article = build_article(feed, parsed, entry, fetched_at)
        by_id.setdefault(article.article_id, article)
    return list(by_id.values())


class SeenIds:
    """Per feed, the last ``per_feed`` article ids published with their content hash (LRU)."""

    def __init__(self, per_feed: int = SEEN_PER_FEED) -> None:
        self._per_feed = per_feed
        self._feeds: dict[str, OrderedDict[str, str]] = {}

    def is_unchanged(self, feed_id: str, article: Article) -> bool:
        seen = self._feeds.get(feed_id)
        if seen is None or seen.get(article.article_id) != article.content_sha256:
            return False
        seen.move_to_end(article.article_id)
        return True

    def add(self, feed_id: str, article: Article) -> None:
        seen = self._feeds.setdefault(feed_id, OrderedDict())
        seen[article.article_id] = article.content_sha256
        seen.move_to_end(article.article_id)
        while len(seen) > self._per_feed:
            seen.popitem(last=False)

    def forget(self, feed_id: str) -> None:
        self._feeds.pop(feed_id, None)

    def count(self, feed_id: str) -> int:
        return len(self._feeds.get(feed_id, ()))


class Publisher(Protocol):
    async def publish(self, feed_id: str, articles: Sequence[Article]) -> int:
        """Publish the articles not yet published; return how many were. Raises PublishError (retriable)
        after publishing what it could. May block while Kafka applies backpressure."""

    def forget(self, feed_id: str) -> None:
        """Drop what is remembered about a removed feed."""


class KafkaPublisher:
    """:class:`Publisher` on an (already started) aiokafka producer."""

    def __init__(
        self, producer: AIOKafkaProducer, metrics: PollerMetrics, seen: SeenIds | None = None
    ) -> None:
        self._producer = producer
        self._metrics = metrics
        self._seen = seen or SeenIds()

    async def publish(self, feed_id: str, articles: Sequence[Article]) -> int:
        fresh = [a for a in articles if not self._seen.is_unchanged(feed_id, a)]
        self._metrics.articles_unchanged.inc(len(articles) - len(fresh))
        if not fresh:
            return 0
        futures = []
        failed = 0
        for article in fresh:
            try:
                futures.append(
                    (article, await kafka.publish(self._producer, ARTICLES_RAW, article.article_id, article))
                )
            except KafkaError as exc:
                failed += 1
                log.warning("article not queued", extra={"feed_id": feed_id, "error": repr(exc)})
        results = await asyncio.gather(*(f for _, f in futures), return_exceptions=True)
        published = 0
        for (article, _), result in zip(futures, results, strict=True):
            if isinstance(result, BaseException):
                failed += 1
                log.warning("article not acknowledged", extra={"feed_id": feed_id, "error": repr(result)})
                continue
            self._seen.add(feed_id, article)
            published += 1
        self._metrics.articles_published.inc(published)
        if failed:
            self._metrics.publish_errors.inc(failed)
            raise PublishError(f"{failed} of {len(fresh)} articles not acknowledged by Kafka", retriable=True)
        return published

    def forget(self, feed_id: str) -> None:
        self._seen.forget(feed_id)

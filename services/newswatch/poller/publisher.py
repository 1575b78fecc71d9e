"""Entries → ``Article`` protos on ``newswatch.articles.raw.v1``.

:func:`build_article` is pure. :class:`KafkaPublisher` publishes the articles of one feed keyed by
``article_id``, awaits Kafka's acknowledgement of each and reports which were acknowledged; the caller
remembers those as published (:mod:`newswatch.poller.state`), so an article Kafka did not accept is
offered again at the next check.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from newswatch import contracts, kafka
from newswatch.poller.identity import article_id
from newswatch.poller.metrics import PollerMetrics
from newswatch.poller.parser import Entry, ParsedFeed
from newswatch.topics import ARTICLES_RAW
from newswatch.v1.article_pb2 import Article
from newswatch.v1.feed_pb2 import Feed

__all__ = ["KafkaPublisher", "PublishReport", "Publisher", "build_article", "build_articles"]

log = logging.getLogger(__name__)


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


@dataclass(frozen=True, slots=True)
class PublishReport:
    """The articles Kafka acknowledged, and how many it did not (those are offered again later)."""

    acked: list[Article]
    failed: int = 0


class Publisher(Protocol):
    async def publish(self, feed_id: str, articles: Sequence[Article]) -> PublishReport:
        """Publish every article given; never raises (cancellation aside). May block while Kafka applies
        backpressure."""


class KafkaPublisher:
    """:class:`Publisher` on an (already started) aiokafka producer."""

    def __init__(self, producer: AIOKafkaProducer, metrics: PollerMetrics) -> None:
        self._producer = producer
        self._metrics = metrics

    async def publish(self, feed_id: str, articles: Sequence[Article]) -> PublishReport:
        futures = []
        failed = 0
        for article in articles:
            try:
                futures.append(
                    (article, await kafka.publish(self._producer, ARTICLES_RAW, article.article_id, article))
                )
            except KafkaError as exc:
                failed += 1
                log.warning("article not queued", extra={"feed_id": feed_id, "error": repr(exc)})
        results = await asyncio.gather(*(f for _, f in futures), return_exceptions=True)
        acked: list[Article] = []
        for (article, _), result in zip(futures, results, strict=True):
            if isinstance(result, BaseException):
                failed += 1
                log.warning("article not acknowledged", extra={"feed_id": feed_id, "error": repr(result)})
                continue
            acked.append(article)
        self._metrics.articles_published.inc(len(acked))
        if failed:
            self._metrics.publish_errors.inc(failed)
        return PublishReport(acked, failed)

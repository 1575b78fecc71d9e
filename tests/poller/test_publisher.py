"""build_article and KafkaPublisher (fake producer): ids, fields, seen-set, partial failures."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from newswatch import contracts
from newswatch.feeds import make_feed
from newswatch.poller.identity import article_id
from newswatch.poller.metrics import PollerMetrics
from newswatch.poller.parser import Entry, ParsedFeed, parse_feed
from newswatch.poller.publisher import KafkaPublisher, build_article, build_articles
from newswatch.topics import ARTICLES_RAW
from newswatch.v1.article_pb2 import Article

from .conftest import fixture_bytes
from .fakes import FakeProducer

FETCHED = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)
FEED = make_feed("https://news.example.org/rss", language="de")


def test_build_article_fields() -> None:
    parsed = parse_feed(fixture_bytes("rss20.xml"), FEED.url)
    article = build_article(FEED, parsed, parsed.entries[0], FETCHED)
    assert article.article_id == article_id("fixture-rss20-0001", None, None)
    assert article.feed_id == FEED.feed_id and article.feed_url == FEED.url
    assert article.url.startswith("https://news.example.org/2025/03/palmyra-museum")
    assert article.guid == "fixture-rss20-0001"
    assert article.language == "en"  # declared by the feed, wins over the catalogue hint
    assert list(article.authors) == ["Ada Fixture"]
    assert contracts.to_datetime(article.published_at) == datetime(2025, 3, 3, 8, 30, tzinfo=UTC)
    assert contracts.to_datetime(article.fetched_at) == FETCHED
    assert len(article.content_sha256) == 64
    no_date = build_article(FEED, parsed, parsed.entries[2], FETCHED)
    assert not no_date.HasField("published_at")


def test_catalogue_language_is_the_last_resort() -> None:
    parsed = ParsedFeed("rss20", "t", "", "", (Entry("g", "", "t", "s", "", (), None, ""),))
    assert build_articles(FEED, parsed, FETCHED)[0].language == "de"


def test_duplicate_entries_become_one_article() -> None:
    entry = Entry("same-guid", "", "t", "s", "", (), None, "")
    parsed = ParsedFeed("rss20", "t", "", "", (entry, entry))
    assert len(build_articles(FEED, parsed, FETCHED)) == 1


async def test_publishes_once_keyed_by_article_id_with_content_type() -> None:
    metrics = PollerMetrics(CollectorRegistry())
    producer = FakeProducer()
    publisher = KafkaPublisher(producer, metrics)  # type: ignore[arg-type]
    parsed = parse_feed(fixture_bytes("rss20.xml"), FEED.url)
    articles = build_articles(FEED, parsed, FETCHED)
    report = await publisher.publish(FEED.feed_id, articles)
    assert (len(report.acked), report.failed) == (3, 0)
    assert len(producer.sent) == 3
    topic, key, value, headers = producer.sent[0]
    assert topic == ARTICLES_RAW.name
    decoded = contracts.decode(Article, value, headers)
    assert key == decoded.article_id.encode()
    assert metrics.articles_published._value.get() == 3


async def test_unacknowledged_articles_are_reported() -> None:
    metrics = PollerMetrics(CollectorRegistry())
    parsed = parse_feed(fixture_bytes("rss20.xml"), FEED.url)
    articles = build_articles(FEED, parsed, FETCHED)
    producer = FakeProducer(fail_keys=frozenset({articles[1].article_id.encode()}))
    publisher = KafkaPublisher(producer, metrics)  # type: ignore[arg-type]
    report = await publisher.publish(FEED.feed_id, articles)
    assert report.failed == 1
    assert [a.article_id for a in report.acked] == [articles[0].article_id, articles[2].article_id]
    assert metrics.publish_errors._value.get() == 1
    assert metrics.articles_published._value.get() == 2

"""The console's server side on fakes (no broker): an in-memory subscription store, an unstarted
:class:`~newswatch.alerter.eventstream.EventStream` fed with ``offer()``, fixed feeds and articles."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CollectorRegistry

from newswatch.alerter.api import SubscriptionsApi
from newswatch.alerter.console import ConsoleRoutes
from newswatch.alerter.eventstream import EventStream
from newswatch.alerter.metrics import AlerterMetrics
from newswatch.alerter.store import MemorySubscriptionStore
from newswatch.contracts import timestamp
from newswatch.settings import load_settings
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.article_pb2 import Article
from newswatch.v1.enriched_pb2 import EnrichedArticle, Place, TermMatch, TextField
from newswatch.v1.feed_pb2 import FEED_STATE_FAILING, FEED_STATE_OK, Feed, FeedHealth

TOKEN = "console-test-token-" + "y" * 16
BODY = "Government forces retook Palmyra (تدمر) from ISIS on Sunday, officials said."


def _span(text: str, word: str) -> tuple[int, int]:
    start = len(text[: text.index(word)])  # code points: Python str indexes them
    return start, start + len(word)


def make_alert(title: str = "Army nears Palmyra", *, cluster: str = "", body: str = BODY, **kw: str) -> Alert:
    """An alert on ``body`` matching ISIS and Palmyra (offsets into ``content``) in Syria, MENA."""
    article_id = kw.pop("article_id", f"art-{uuid.uuid4().hex[:10]}")
    isis, palmyra = _span(body, "ISIS"), _span(body, "Palmyra")
    return Alert(
        alert_id=kw.pop("alert_id", f"alert-{uuid.uuid4().hex[:10]}"),
        watchlist_id=kw.pop("watchlist_id", "default"),
        watchlist_name="Default watch list",
        article_id=article_id,
        feed_id="feed-1",
        title=title,
        url=kw.pop("url", f"https://news.example.org/{article_id}"),
        language=kw.pop("language", "en"),
        matches=[
            TermMatch(
                term_id="isis",
                term_label="ISIS",
                kind="organisation",
                matched_text="ISIS",
                field=TextField.TEXT_FIELD_CONTENT,
                start=isis[0],
                end=isis[1],
                snippet="…from ISIS on…",
            ),
            TermMatch(
                term_id="palmyra",
                term_label="Palmyra",
                kind="place",
                matched_text="Palmyra",
                field=TextField.TEXT_FIELD_CONTENT,
                start=palmyra[0],
                end=palmyra[1],
                snippet="…retook Palmyra (…",
            ),
        ],
        places=[
            Place(
                name="Palmyra",
                matched_text="Palmyra",
                geonames_id="170592",
                country_code="SY",
                field=TextField.TEXT_FIELD_CONTENT,
                start=palmyra[0],
                end=palmyra[1],
            ),
        ],
        countries=["SY"],
        regions=["mena"],
        score=2.5,
        duplicate_cluster_id=cluster,
        created_at=timestamp(),
    )


def article_for(alert: Alert, body: str = BODY) -> EnrichedArticle:
    return EnrichedArticle(
        article=Article(article_id=alert.article_id, title=alert.title, content=body, url=alert.url)
    )


class FakeArticles:
    """:class:`~newswatch.alerter.console.articles.ArticleSource` from a dict; ``asked`` records ids."""

    def __init__(self) -> None:
        self.articles: dict[str, EnrichedArticle] = {}
        self.asked: list[str] = []

    async def find(self, alert: Alert) -> EnrichedArticle | None:
        self.asked.append(alert.article_id)
        return self.articles.get(alert.article_id)


def sample_feeds() -> dict[str, Feed]:
    ok = Feed(feed_id="f-ok", url="https://user:pw@news.example.org/rss?key=s3cret", title="Good feed",
              enabled=True, health=FeedHealth(state=FEED_STATE_OK, last_success_at=timestamp()))  # fmt: skip
    bad = Feed(
        feed_id="f-bad",
        url="https://broken.example.org/feed",
        title="Broken feed",
        enabled=True,
        health=FeedHealth(state=FEED_STATE_FAILING, last_error="http_status: 503", consecutive_failures=4),
    )
    return {f.feed_id: f for f in (ok, bad)}


@dataclass
class Console:
    """Everything a console test on fakes needs; :meth:`app` builds the served application."""

    token: str = TOKEN
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    store: MemorySubscriptionStore = field(default_factory=MemorySubscriptionStore)
    articles: FakeArticles = field(default_factory=FakeArticles)
    feeds: dict[str, Feed] = field(default_factory=sample_feeds)

    def __post_init__(self) -> None:
        self.metrics = AlerterMetrics(self.registry)
        self.stream = EventStream(load_settings(environ={}), self.metrics)

    def app(self) -> web.Application:
        api = SubscriptionsApi(
            self.store,
            token=self.token,
            allow_private=False,
            metrics=self.metrics,
            stream=self.stream,
            console=ConsoleRoutes(self.stream, lambda: self.feeds, self.articles),
        )
        return api.app()

    def publish(self, alert: Alert, *, with_article: bool = True) -> Alert:
        """As if the alert had arrived on the topic (call on the serving loop)."""
        if with_article:
            self.articles.articles[alert.article_id] = article_for(alert)
        self.stream.offer(alert)
        return alert

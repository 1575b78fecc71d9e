"""The console's data routes, beside the subscriptions API and behind the same bearer token.

=======  ======================  ===================================================================
GET      ``/v1/feeds``           every feed of ``newswatch.feeds.v1`` with its health, by title
GET      ``/v1/alerts/recent``   the newest buffered alerts that pass the query's filters, newest first
GET      ``/v1/alerts/{id}``     one buffered alert, its article text and its duplicates
=======  ======================  ===================================================================

Recent alerts are the live stream's buffer (:class:`~newswatch.alerter.eventstream.EventStream`, the
newest :data:`~newswatch.alerter.eventstream.BUFFER_SIZE` alerts on the topic, by count): an alert older
than that is 404 here. ``/v1/alerts/recent`` takes the stream's filters (``watchlist``, ``term``,
``region``, ``country``, ``language``, ``min_score``) and ``limit`` (1-:data:`MAX_LIMIT`, default
:data:`DEFAULT_LIMIT`). An alert id seen twice in the buffer (a redelivery) is listed once, newest copy.

The detail (:func:`~newswatch.alerter.console.documents.detail_document`): ``article`` is the text from
``newswatch.articles.enriched.v1`` (:class:`~newswatch.alerter.console.articles.ArticleSource`, bounded
in records and time) or null when not found — the console then shows the match snippets; ``duplicates``
are the buffered alerts of other articles with the same non-empty ``duplicate_cluster_id`` (one per
article, at most :data:`MAX_DUPLICATES`, newest first).

A route whose source this alerter does not have answers 503 ``console_unavailable``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aiohttp import web

from newswatch.alerter.alertquery import alert_filter
from newswatch.alerter.apihttp import ApiError
from newswatch.alerter.channels.base import alert_document
from newswatch.alerter.console.articles import ArticleSource
from newswatch.alerter.console.documents import detail_document, feed_document
from newswatch.alerter.eventstream import BUFFER_SIZE, EventStream
from newswatch.alerter.matching import matches
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.feed_pb2 import Feed

__all__ = ["DEFAULT_LIMIT", "MAX_DUPLICATES", "MAX_LIMIT", "ConsoleRoutes"]

DEFAULT_LIMIT = 100
MAX_LIMIT = BUFFER_SIZE
MAX_DUPLICATES = 50
_MAX_ID_CHARS = 200

FeedsSource = Callable[[], Mapping[str, Feed]]


class ConsoleRoutes:
    """The routes above on sources that may be absent (then 503); :meth:`add_to` registers them."""

    def __init__(
        self,
        stream: EventStream | None = None,
        feeds: FeedsSource | None = None,
        articles: ArticleSource | None = None,
    ) -> None:
        self._stream = stream
        self._feeds = feeds
        self._articles = articles

    def add_to(self, app: web.Application) -> None:
        app.router.add_get("/v1/feeds", self._list_feeds, allow_head=False)
        app.router.add_get("/v1/alerts/recent", self._recent, allow_head=False)
        app.router.add_get("/v1/alerts/{id}", self._detail, allow_head=False)

    def _buffered(self) -> list[Alert]:
        """The buffered alerts, newest first, each id once."""
        if self._stream is None:
            raise ApiError(503, "console_unavailable", "this alerter keeps no recent alerts")
        seen: set[str] = set()
        out: list[Alert] = []
        for alert in reversed(self._stream.recent()):
            if alert.alert_id not in seen:
                seen.add(alert.alert_id)
                out.append(alert)
        return out

    async def _list_feeds(self, _request: web.Request) -> web.Response:
        if self._feeds is None:
            raise ApiError(503, "console_unavailable", "this alerter does not follow the feeds topic")
        feeds = sorted(self._feeds().values(), key=lambda f: (f.title.casefold(), f.url, f.feed_id))
        return web.json_response({"feeds": [feed_document(f) for f in feeds]})

    async def _recent(self, request: web.Request) -> web.Response:
        wanted = alert_filter(request.query, request.query.items(), ("limit",))
        limit_text = request.query.get("limit", str(DEFAULT_LIMIT))
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
            raise ApiError(400, "invalid_value", f"limit must be an integer 1-{MAX_LIMIT}", "limit")
        passing = [a for a in self._buffered() if matches(wanted, a)][: int(limit_text)]
        return web.json_response({"alerts": [alert_document(a) for a in passing]})

    async def _detail(self, request: web.Request) -> web.Response:
        alert_id = request.match_info["id"]
        buffered = self._buffered() if len(alert_id) <= _MAX_ID_CHARS else []
        alert = next((a for a in buffered if a.alert_id == alert_id), None)
        if alert is None:
            raise ApiError(404, "not_found", "no recent alert with this id")
        cluster = alert.duplicate_cluster_id
        duplicates: list[Alert] = []
        articles = {alert.article_id}
        for other in buffered if cluster else ():
            if other.duplicate_cluster_id == cluster and other.article_id not in articles:
                articles.add(other.article_id)
                duplicates.append(other)
        duplicates = duplicates[:MAX_DUPLICATES]
        article = await self._articles.find(alert) if self._articles is not None else None
        return web.json_response(detail_document(alert, article, duplicates))

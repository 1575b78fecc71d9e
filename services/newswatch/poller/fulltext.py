"""Full text for feeds that carry only summaries: fetch each article's page, keep its main text.

Contract of :meth:`FullText.complete` (called with a check's articles before they are published):

- nothing happens unless ``feed.full_text`` is set — no request, no metric;
- an article needs its page (:func:`needs_page`) when it has a URL and the feed gave only a teaser:
  no content, or content not longer than the summary or than :data:`TEASER_MAX_CHARS` characters;
- those articles are taken newest first (:func:`newest_first`); the first ``max_pages_per_check`` are
  fetched one after another while the time budget (``budget_seconds`` from the start of the call) lasts;
  the others are counted ``over_cap`` and keep the feed's text;
- a page is fetched only when its URL passes :func:`newswatch.netguard.check_url` (http/https, no
  credentials, no private address unless allowed), through the poller's own :class:`Fetcher` — guarded
  resolver, body cap, per-host pacing, timeouts, redirect limit — asking for HTML (:data:`PAGE_ACCEPT`).
  After a timeout, connection error or rate limit from a host, the other pages of that host are not
  requested in this call;
- each page ends with one outcome of ``newswatch_poller_fulltext_pages_total``: ``ok`` (content
  replaced), ``fetch_failed`` (refused URL or fetch error), ``not_html``, ``no_text`` (nothing extracted,
  or nothing longer than the feed's own text), ``over_cap``;
- the extracted text (:mod:`~newswatch.poller.extract`, in a worker thread, one at a time per call)
  replaces ``article.content`` only when it is longer than the feed's content and summary; title,
  summary and ``content_sha256`` never change — the hash stays that of what the feed carried, since
  identity and de-duplication depend on it;
- it never raises (cancellation aside): failures are logged with the feed id, the outcome and the URL
  without query or fragment (:func:`~newswatch.poller.health.redact_url`), and counted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence

from newswatch import netguard
from newswatch.errors import FetchError, UnsafeURLError
from newswatch.poller.extract import decode_html, extract_main_text, is_html, media_type
from newswatch.poller.fetcher import Fetcher
from newswatch.poller.health import redact_url, short_error
from newswatch.poller.metrics import PollerMetrics
from newswatch.v1.article_pb2 import Article
from newswatch.v1.feed_pb2 import Feed

__all__ = ["BUDGET_SECONDS", "PAGE_ACCEPT", "TEASER_MAX_CHARS", "FullText", "needs_page", "newest_first"]

log = logging.getLogger(__name__)

PAGE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
TEASER_MAX_CHARS = 500
"""Feed content this short is a teaser: the page is fetched even when the content exceeds the summary."""
BUDGET_SECONDS = 120.0
"""Default time one call may spend starting page fetches; pages not started by then are over_cap."""
_HOST_DOWN = frozenset({"timeout", "connection_error", "rate_limited"})


def needs_page(article: Article) -> bool:
    """True when the article has a URL and the feed carried only a teaser of it (module docstring)."""
    if not article.url.strip():
        return False
    content = article.content.strip()
    return not content or len(content) <= max(len(article.summary.strip()), TEASER_MAX_CHARS)


def newest_first(articles: Sequence[Article]) -> list[Article]:
    """Dated articles newest first, then undated ones; ties keep the feed's order."""

    def key(article: Article) -> tuple[int, int, int]:
        if not article.HasField("published_at"):
            return (1, 0, 0)
        return (0, -article.published_at.seconds, -article.published_at.nanos)

    return sorted(articles, key=key)


def _feed_text_chars(article: Article) -> int:
    return max(len(article.content.strip()), len(article.summary.strip()))


def _page_text(body: bytes, content_type: str | None) -> str:
    """Worker-thread half of one page: decode, then extract."""
    return extract_main_text(decode_html(body, content_type))


class FullText:
    """Completes the articles of full-text feeds with their pages' main text (module docstring).

    One event loop; calls for different feeds may run concurrently (they share only the fetcher).
    """

    def __init__(
        self,
        fetcher: Fetcher,
        metrics: PollerMetrics,
        *,
        max_pages_per_check: int,
        allow_private_networks: bool,
        budget_seconds: float = BUDGET_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetcher = fetcher
        self._metrics = metrics
        self._max_pages = max(0, max_pages_per_check)
        self._allow_private = allow_private_networks
        self._budget = budget_seconds
        self._clock = clock

    async def complete(self, feed: Feed, articles: Sequence[Article]) -> None:
        """Fill ``content`` of the articles of ``feed`` that need their page. Never raises."""
        if not feed.full_text:
            return
        wanted = newest_first([a for a in articles if needs_page(a)])
        if not wanted:
            return
        deadline = self._clock() + self._budget
        hosts_down: set[str] = set()
        outcomes: Counter[str] = Counter()
        for index, article in enumerate(wanted):
            if index >= self._max_pages or self._clock() >= deadline:
                outcome = "over_cap"
            else:
                try:
                    outcome = await self._complete_one(feed.feed_id, article, hosts_down)
                except Exception:  # a bug must not cost the feed its check: logged with its traceback
                    log.exception(
                        "full text failed unexpectedly",
                        extra={"feed_id": feed.feed_id, "url": redact_url(article.url)},
                    )
                    outcome = "fetch_failed"
            self._metrics.fulltext_pages.labels(outcome=outcome).inc()
            outcomes[outcome] += 1
        level = logging.INFO if outcomes["over_cap"] else logging.DEBUG
        log.log(
            level,
            "full text done",
            extra={
                "feed_id": feed.feed_id,
                "pages_wanted": len(wanted),
                **{f"pages_{name}": count for name, count in sorted(outcomes.items())},
            },
        )

    async def _complete_one(self, feed_id: str, article: Article, hosts_down: set[str]) -> str:
        """Fetch, check and extract one page; returns its outcome."""
        url = article.url.strip()
        fields = {"feed_id": feed_id, "article_id": article.article_id, "url": redact_url(url)}
        try:
            host = netguard.check_url(url, self._allow_private).raw_authority
        except UnsafeURLError as exc:
            log.warning(
                "article page refused",
                extra={**fields, "outcome": "fetch_failed", "error": short_error(str(exc))},
            )
            return "fetch_failed"
        if host in hosts_down:
            log.debug("article page skipped: host failed earlier in this check", extra=fields)
            return "fetch_failed"
        try:
            result = await self._fetcher.fetch(url, accept=PAGE_ACCEPT)
        except FetchError as exc:
            if exc.outcome in _HOST_DOWN:
                hosts_down.add(host)
            log.warning(
                "article page not fetched",
                extra={
                    **fields,
                    "outcome": "fetch_failed",
                    "fetch_outcome": exc.outcome,
                    "error": short_error(str(exc)),
                },
            )
            return "fetch_failed"
        if result.not_modified or not is_html(result.content_type, result.body):
            log.info(
                "article page is not HTML",
                extra={**fields, "outcome": "not_html", "content_type": media_type(result.content_type)},
            )
            return "not_html"
        started = time.monotonic()
        try:
            text = await asyncio.to_thread(_page_text, result.body, result.content_type)
        except Exception as exc:  # noqa: BLE001 - hostile HTML may break the parser: no text, carry on
            log.warning(
                "article page not parsed",
                extra={**fields, "outcome": "no_text", "error": short_error(repr(exc))},
            )
            text = ""
        finally:
            self._metrics.fulltext_extract_duration.observe(time.monotonic() - started)
        if len(text) <= _feed_text_chars(article):
            log.info(
                "no main text longer than the feed's",
                extra={**fields, "outcome": "no_text", "text_chars": len(text)},
            )
            return "no_text"
        article.content = text
        log.debug("article page extracted", extra={**fields, "outcome": "ok", "text_chars": len(text)})
        return "ok"

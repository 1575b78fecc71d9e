"""One check of one feed, and ``check-feed``'s fetch without Kafka.

A check (:class:`FeedChecker`): conditional GET with the validators remembered for the feed → skip the
parse when the body's SHA-256 equals the last body handled → parse in a worker thread → build articles →
keep those not yet published (:mod:`~newswatch.poller.state`) → fill in full text → publish → remember
what Kafka acknowledged. Validators and the body hash are remembered only after every article was
acknowledged, so a failed publish is retried at the next check. Every failure is logged with its outcome,
counted, and turned into a :class:`~newswatch.poller.scheduler.CheckOutcome`; the feed is never dropped.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from newswatch.errors import FeedError
from newswatch.feeds import make_feed, validate_feed_url
from newswatch.poller.fetcher import Fetcher, FetchResult, HttpFetcher, RetryLaterError, Validators
from newswatch.poller.freshness import Hints, observed_interval_seconds
from newswatch.poller.fulltext import FullText
from newswatch.poller.metrics import PollerMetrics
from newswatch.poller.parser import ParsedFeed, parse_feed
from newswatch.poller.publisher import Publisher, PublishReport, build_articles
from newswatch.poller.scheduler import CheckOutcome
from newswatch.poller.state import PollStateStore, entry_digest
from newswatch.settings import Settings
from newswatch.v1.article_pb2 import Article
from newswatch.v1.feed_pb2 import Feed

__all__ = ["AfterParse", "Complete", "FeedChecker", "check_feed"]

log = logging.getLogger(__name__)


Complete = Callable[[Feed, Sequence[Article]], Awaitable[None]]
"""Fills in what the feed left out of new articles before they are published (full text)."""
AfterParse = Callable[[Feed, ParsedFeed], Awaitable[None]]
"""Called after every successful parse of a polled body (WebSub discovery)."""


class FeedChecker:
    """Runs one check of one feed; never raises (except cancellation).

    A successful check with a body hands the scheduler the feed's pace hints: the response's max-age /
    Expires plus the ttl, update period and observed entry frequency of the body (remembered, so an
    unchanged body skipped without parsing still brings them), and whether a hub pushes the feed
    (``pushed``). A 304 brings none (the interval stays).

    What was handled (validators, body hash, entries published) lives in a
    :class:`~newswatch.poller.state.PollStateStore`, read before a feed's first check and saved after a
    check that changed it. :meth:`handle_body` is the path shared by polled and pushed bodies.
    """

    def __init__(
        self,
        fetcher: Fetcher,
        publisher: Publisher,
        metrics: PollerMetrics,
        *,
        state: PollStateStore | None = None,
        complete: Complete | None = None,
        after_parse: AfterParse | None = None,
        pushed: Callable[[str], bool] | None = None,
    ) -> None:
        self._fetcher = fetcher
        self._publisher = publisher
        self._metrics = metrics
        self._state = state or PollStateStore(metrics)
        self._complete = complete
        self._after_parse = after_parse
        self._pushed = pushed or (lambda _feed_id: False)
        self._body_hints: dict[str, Hints] = {}

    def forget(self, feed_id: str) -> None:
        self._state.forget(feed_id)
        self._body_hints.pop(feed_id, None)

    def _hints(self, feed_id: str, result: FetchResult | None = None) -> Hints:
        return replace(
            self._body_hints.get(feed_id, Hints()),
            max_age_seconds=result.max_age_seconds if result else None,
            expires_seconds=result.expires_seconds if result else None,
            pushed=self._pushed(feed_id),
        )

    async def check(self, feed: Feed) -> CheckOutcome:
        fields = {"feed_id": feed.feed_id}
        await self._state.ensure_loaded(feed.feed_id)
        memory = self._state.get(feed.feed_id)
        started = time.monotonic()
        try:
            result = await self._fetcher.fetch(feed.url, memory.validators if memory else None)
        except FeedError as exc:
            self._metrics.fetch_duration.observe(time.monotonic() - started)
            self._metrics.fetches.labels(outcome=exc.outcome).inc()
            retry_after = exc.retry_after_seconds if isinstance(exc, RetryLaterError) else None
            log.warning(
                "feed fetch failed",
                extra={
                    **fields,
                    "outcome": exc.outcome,
                    "retriable": exc.retriable,
                    "error": str(exc),
                    "retry_after_seconds": retry_after,
                },
            )
            return CheckOutcome(
                ok=False,
                retriable=exc.retriable,
                retry_after_seconds=retry_after,
                error_kind=exc.outcome,
                error=str(exc),
            )
        self._metrics.fetch_duration.observe(time.monotonic() - started)
        moved_to = result.final_url if result.permanent_redirect and result.final_url != feed.url else None
        self._metrics.fetched_bytes.inc(result.wire_bytes)
        if result.not_modified:
            self._metrics.fetches.labels(outcome="not_modified").inc()
            log.debug("feed not modified", extra=fields)
            return CheckOutcome(ok=True, moved_to=moved_to)
        self._metrics.fetches.labels(outcome="ok").inc()
        digest = hashlib.sha256(result.body).hexdigest()
        if memory is not None and memory.body_sha256 == digest:
            self._metrics.parses_skipped.inc()
            if memory.validators != result.validators:
                memory.validators = result.validators
                await self._state.save(feed.feed_id)
            return CheckOutcome(ok=True, hints=self._hints(feed.feed_id, result), moved_to=moved_to)
        outcome = await self.handle_body(
            feed, result.body, result.final_url, result.content_type, body=(result.validators, digest)
        )
        if not outcome.ok:
            return outcome
        return CheckOutcome(ok=True, hints=self._hints(feed.feed_id, result), moved_to=moved_to)

    async def handle_body(
        self,
        feed: Feed,
        data: bytes,
        url: str,
        content_type: str | None,
        *,
        body: tuple[Validators, str] | None = None,
    ) -> CheckOutcome:
        """Parse ``data`` (polled, or pushed by a hub), publish its new entries and remember them; with
        ``body`` (validators, SHA-256) also remember the body as handled once every entry is published."""
        fields = {"feed_id": feed.feed_id}
        parse_started = time.monotonic()
        try:
            parsed = await asyncio.to_thread(parse_feed, data, url, content_type)
        except FeedError as exc:
            self._metrics.parse_errors.labels(reason=exc.outcome).inc()
            log.warning(
                "feed refused by the parser", extra={**fields, "reason": exc.outcome, "error": str(exc)}
            )
            return CheckOutcome(ok=False, retriable=exc.retriable, error_kind=exc.outcome, error=str(exc))
        finally:
            self._metrics.parse_duration.observe(time.monotonic() - parse_started)
        articles = build_articles(feed, parsed, datetime.now(UTC))
        digests = [entry_digest(a) for a in articles]
        fresh = self._state.fresh(feed.feed_id, articles, digests)
        self._metrics.articles_unchanged.inc(len(articles) - len(fresh))
        if fresh and self._complete is not None:
            await self._complete(feed, fresh)
        report = await self._publisher.publish(feed.feed_id, fresh) if fresh else PublishReport([])
        self._state.record(
            feed.feed_id, articles, report.acked, body=body if not report.failed else None, digests=digests
        )
        if report.acked or (body is not None and not report.failed):
            await self._state.save(feed.feed_id)
        if self._after_parse is not None:
            await self._after_parse(feed, parsed)
        if report.failed:
            error = f"{report.failed} of {len(fresh)} articles not acknowledged by Kafka"
            log.warning("articles not published", extra={**fields, "error": error})
            return CheckOutcome(ok=False, retriable=True, error_kind="publish", error=error)
        self._body_hints[feed.feed_id] = Hints(
            ttl_seconds=parsed.ttl_seconds,
            update_period_seconds=parsed.update_period_seconds,
            observed_seconds=observed_interval_seconds(e.published for e in parsed.entries),
        )
        if report.acked:
            log.info(
                "articles published",
                extra={**fields, "articles": len(report.acked), "entries": len(articles)},
            )
        return CheckOutcome(ok=True)


async def check_feed(
    settings: Settings, url: str, *, full_text: bool = False
) -> tuple[ParsedFeed, list[Article]]:
    """Fetch and parse one feed without Kafka (CLI ``check-feed``); with ``full_text``, also fetch each
    entry's page as a full-text feed would (same caps and pacing). Raises UnsafeURLError, FetchError,
    ParseError."""
    feed = make_feed(validate_feed_url(url, settings.allow_private_networks), full_text=full_text)
    fetcher = HttpFetcher(settings)
    try:
        result = await fetcher.fetch(feed.url)
        parsed = await asyncio.to_thread(parse_feed, result.body, result.final_url, result.content_type)
        articles = build_articles(feed, parsed, datetime.now(UTC))
        if full_text:
            pages = FullText(
                fetcher,
                PollerMetrics(CollectorRegistry()),
                max_pages_per_check=settings.fulltext_max_pages_per_check,
                allow_private_networks=settings.allow_private_networks,
            )
            await pages.complete(feed, articles)
    finally:
        await fetcher.close()
    return parsed, articles

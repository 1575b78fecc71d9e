"""The poller service: the feed catalogue → scheduled checks → raw articles on Kafka.

One check of a feed (:class:`FeedChecker`): conditional GET → skip the parse when the body's SHA-256
equals the last body handled → parse in a worker thread → build articles → publish those not yet
published. Validators and the body hash are stored only after every article was acknowledged, so a
failed publish is retried at the next check. Every failure is logged with its outcome, counted, and
turned into a :class:`~newswatch.poller.scheduler.CheckOutcome`; the feed is never dropped.

:class:`PollerService` start order: broker, topics, health server, producer, catalogue view (followed,
so feeds added or removed while running are picked up), scheduler. ``stop()`` reverses it and is
idempotent. A poller checks every enabled feed of the catalogue that ``feed_filter`` accepts (default:
all) — the seam where partition assignment will plug in when pollers scale out.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry

from newswatch import kafka
from newswatch.errors import FeedError, NewswatchError
from newswatch.feeds import make_feed, validate_feed_url
from newswatch.observability import HealthServer
from newswatch.poller.fetcher import Fetcher, HttpFetcher, RetryLaterError, Validators
from newswatch.poller.metrics import PollerMetrics
from newswatch.poller.parser import ParsedFeed, parse_feed
from newswatch.poller.publisher import KafkaPublisher, Publisher, build_articles
from newswatch.poller.scheduler import CheckOutcome, Policy, Scheduler
from newswatch.settings import Settings
from newswatch.topics import FEEDS
from newswatch.v1.article_pb2 import Article
from newswatch.v1.feed_pb2 import Feed

__all__ = ["FeedChecker", "PollerService", "check_feed"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Memory:
    """What the poller remembers about a feed's last fully handled body."""

    validators: Validators
    body_sha256: str


class FeedChecker:
    """Runs one check of one feed; never raises (except cancellation)."""

    def __init__(self, fetcher: Fetcher, publisher: Publisher, metrics: PollerMetrics) -> None:
        self._fetcher = fetcher
        self._publisher = publisher
        self._metrics = metrics
        self._memory: dict[str, _Memory] = {}

    def forget(self, feed_id: str) -> None:
        self._memory.pop(feed_id, None)
        self._publisher.forget(feed_id)

    async def check(self, feed: Feed) -> CheckOutcome:
        fields = {"feed_id": feed.feed_id}
        memory = self._memory.get(feed.feed_id)
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
            return CheckOutcome(ok=False, retriable=exc.retriable, retry_after_seconds=retry_after)
        self._metrics.fetch_duration.observe(time.monotonic() - started)
        self._metrics.fetched_bytes.inc(result.wire_bytes)
        if result.not_modified:
            self._metrics.fetches.labels(outcome="not_modified").inc()
            log.debug("feed not modified", extra=fields)
            return CheckOutcome(ok=True)
        self._metrics.fetches.labels(outcome="ok").inc()
        digest = hashlib.sha256(result.body).hexdigest()
        if memory is not None and memory.body_sha256 == digest:
            self._metrics.parses_skipped.inc()
            self._memory[feed.feed_id] = _Memory(result.validators, digest)
            return CheckOutcome(ok=True)
        parse_started = time.monotonic()
        try:
            parsed = await asyncio.to_thread(parse_feed, result.body, result.final_url, result.content_type)
        except FeedError as exc:
            self._metrics.parse_errors.labels(reason=exc.outcome).inc()
            log.warning(
                "feed refused by the parser", extra={**fields, "reason": exc.outcome, "error": str(exc)}
            )
            return CheckOutcome(ok=False, retriable=exc.retriable)
        finally:
            self._metrics.parse_duration.observe(time.monotonic() - parse_started)
        articles = build_articles(feed, parsed, datetime.now(UTC))
        try:
            published = await self._publisher.publish(feed.feed_id, articles)
        except NewswatchError as exc:
            log.warning("articles not published", extra={**fields, "error": str(exc)})
            return CheckOutcome(ok=False, retriable=True)
        self._memory[feed.feed_id] = _Memory(result.validators, digest)
        if published:
            log.info("articles published", extra={**fields, "articles": published, "entries": len(articles)})
        return CheckOutcome(ok=True)


class PollerService:
    """The poller as a :class:`~newswatch.lifecycle.Service`. ``metrics_port`` is the bound port."""

    name = "poller"

    def __init__(
        self,
        settings: Settings,
        registry: CollectorRegistry | None = None,
        *,
        policy: Policy | None = None,
        fetcher: Fetcher | None = None,
        feed_filter: Callable[[Feed], bool] | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry or CollectorRegistry()
        self.metrics = PollerMetrics(self.registry)
        self.policy = policy or Policy(
            default_interval_seconds=settings.poll_interval_seconds,
            backoff_initial_seconds=settings.poll_backoff_initial_seconds,
            backoff_max_seconds=settings.poll_backoff_max_seconds,
        )
        self.metrics_port = settings.poller_metrics_port
        self._fetcher = fetcher or HttpFetcher(settings)
        self._feed_filter = feed_filter or (lambda _feed: True)
        self._health = HealthServer(
            self.registry, settings.metrics_host, settings.poller_metrics_port, ready=self.ready
        )
        self._producer: AIOKafkaProducer | None = None
        self._view: kafka.CompactedView[Feed] | None = None
        self._checker: FeedChecker | None = None
        self._scheduler: Scheduler | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._ready = False
        self._stopped = False
        self._ended = asyncio.Event()
        self._failure: BaseException | None = None

    def ready(self) -> bool:
        return self._ready and not self._stopped

    @property
    def scheduled_feed_ids(self) -> frozenset[str]:
        return self._scheduler.feed_ids if self._scheduler else frozenset()

    def _on_feed_change(self, feed_id: str, feed: Feed | None) -> None:
        assert self._scheduler is not None and self._checker is not None
        if feed is None or not feed.enabled or not self._feed_filter(feed):
            if feed_id not in self._scheduler.feed_ids:
                return
            self._scheduler.remove(feed_id)
            self._checker.forget(feed_id)
            log.info("feed unscheduled", extra={"feed_id": feed_id})
        else:
            new = feed_id not in self._scheduler.feed_ids
            self._scheduler.upsert(feed)
            if new:
                log.info("feed scheduled", extra={"feed_id": feed_id})

    async def start(self) -> None:
        s = self.settings
        await kafka.wait_for_broker(s)
        await kafka.ensure_topics(s)
        await self._health.start()
        self.metrics_port = self._health.port
        producer = kafka.make_producer(s, "poller")
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        self._producer = producer
        self._checker = FeedChecker(self._fetcher, KafkaPublisher(producer, self.metrics), self.metrics)
        self._scheduler = Scheduler(self._checker.check, self.policy, s.fetch_concurrency, self.metrics)
        self._view = kafka.CompactedView(s, FEEDS, Feed, role="poller", on_change=self._on_feed_change)
        await self._view.start()
        self._view.follow()
        self._loop_task = asyncio.create_task(self._scheduler.run(), name="poller-scheduler")
        self._loop_task.add_done_callback(self._loop_ended)
        self._ready = True
        log.info(
            "poller started",
            extra={"feeds": len(self._scheduler.feed_ids), "metrics_port": self.metrics_port},
        )

    def _loop_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._failure = task.exception()
        self._ended.set()

    async def wait(self) -> None:
        await self._ended.wait()
        if self._failure is not None:
            raise self._failure

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._ready = False
        drain = min(self.settings.shutdown_deadline_seconds / 2, self.settings.fetch_timeout_seconds + 1)
        if self._scheduler is not None:
            await self._scheduler.stop(drain)
        if self._loop_task is not None:
            await asyncio.gather(self._loop_task, return_exceptions=True)
        if self._view is not None:
            await self._view.stop()
        if self._producer is not None:
            try:
                await self._producer.flush()
            finally:
                await self._producer.stop()
        await self._fetcher.close()
        await self._health.stop()
        self._ended.set()


async def check_feed(settings: Settings, url: str) -> tuple[ParsedFeed, list[Article]]:
    """Fetch and parse one feed without Kafka (CLI ``check-feed``). Raises UnsafeURLError, FetchError,
    ParseError."""
    feed = make_feed(validate_feed_url(url, settings.allow_private_networks))
    fetcher = HttpFetcher(settings)
    try:
        result = await fetcher.fetch(feed.url)
    finally:
        await fetcher.close()
    parsed = await asyncio.to_thread(parse_feed, result.body, result.final_url, result.content_type)
    return parsed, build_articles(feed, parsed, datetime.now(UTC))

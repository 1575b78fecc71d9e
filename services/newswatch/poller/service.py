"""The poller service: the feed catalogue → scheduled checks → raw articles on Kafka.

One check of a feed (:class:`FeedChecker`): conditional GET → skip the parse when the body's SHA-256
equals the last body handled → parse in a worker thread → build articles → publish those not yet
published. Validators and the body hash are stored only after every article was acknowledged, so a
failed publish is retried at the next check. Every failure is logged with its outcome, counted, and
turned into a :class:`~newswatch.poller.scheduler.CheckOutcome`; the feed is never dropped.

:class:`PollerService` start order: broker, topics, health server, producer, catalogue view (followed,
so feeds added or removed while running are picked up), the group membership on ``newswatch.feeds.v1``
(:mod:`~newswatch.poller.assignment`), scheduler. ``stop()`` leaves the group first, then reverses the
rest, and is idempotent. A poller checks the enabled feeds of its assigned partitions that
``feed_filter`` accepts; pollers scale out by joining the group.

After each check the poller writes the feed's health back to the catalogue
(:mod:`~newswatch.poller.health`) and, after a permanent redirect (every hop 301/308) to a URL that
:func:`~newswatch.feeds.validate_feed_url` accepts, its new URL (same feed_id). Catalogue records that
differ from the last one seen only in ``health`` are ignored (no reschedule, no loop on its own writes).
Network-level failures of most feeds at once are blamed on our own outage (:mod:`~newswatch.poller.outage`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry

from newswatch import kafka
from newswatch.errors import FeedError, NewswatchError
from newswatch.feeds import make_feed, validate_feed_url
from newswatch.observability import HealthServer
from newswatch.poller.assignment import FIRST_ASSIGNMENT_WAIT_SECONDS, FeedAssignment
from newswatch.poller.fetcher import Fetcher, FetchResult, HttpFetcher, RetryLaterError, Validators
from newswatch.poller.freshness import Hints, observed_interval_seconds
from newswatch.poller.health import HealthReporter, digest_without_health
from newswatch.poller.metrics import PollerMetrics
from newswatch.poller.outage import OutageDetector, OutageRule
from newswatch.poller.ownership import FeedOwnership
from newswatch.poller.parser import ParsedFeed, parse_feed
from newswatch.poller.publisher import KafkaPublisher, Publisher, build_articles
from newswatch.poller.scheduler import CheckOutcome, CheckReport, Policy, Scheduler
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
    """Runs one check of one feed; never raises (except cancellation).

    A successful check with a body hands the scheduler the feed's pace hints: the response's max-age /
    Expires plus the ttl, update period and observed entry frequency of the body (remembered, so an
    unchanged body skipped without parsing still brings them). A 304 brings none (the interval stays).
    """

    def __init__(self, fetcher: Fetcher, publisher: Publisher, metrics: PollerMetrics) -> None:
        self._fetcher = fetcher
        self._publisher = publisher
        self._metrics = metrics
        self._memory: dict[str, _Memory] = {}
        self._body_hints: dict[str, Hints] = {}

    def forget(self, feed_id: str) -> None:
        self._memory.pop(feed_id, None)
        self._body_hints.pop(feed_id, None)
        self._publisher.forget(feed_id)

    @staticmethod
    def _hints(body_hints: Hints, result: FetchResult) -> Hints:
        return replace(
            body_hints, max_age_seconds=result.max_age_seconds, expires_seconds=result.expires_seconds
        )

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
            self._memory[feed.feed_id] = _Memory(result.validators, digest)
            body_hints = self._body_hints.get(feed.feed_id, Hints())
            return CheckOutcome(ok=True, hints=self._hints(body_hints, result), moved_to=moved_to)
        parse_started = time.monotonic()
        try:
            parsed = await asyncio.to_thread(parse_feed, result.body, result.final_url, result.content_type)
        except FeedError as exc:
            self._metrics.parse_errors.labels(reason=exc.outcome).inc()
            log.warning(
                "feed refused by the parser", extra={**fields, "reason": exc.outcome, "error": str(exc)}
            )
            return CheckOutcome(ok=False, retriable=exc.retriable, error_kind=exc.outcome, error=str(exc))
        finally:
            self._metrics.parse_duration.observe(time.monotonic() - parse_started)
        articles = build_articles(feed, parsed, datetime.now(UTC))
        try:
            published = await self._publisher.publish(feed.feed_id, articles)
        except NewswatchError as exc:
            log.warning("articles not published", extra={**fields, "error": str(exc)})
            return CheckOutcome(ok=False, retriable=True, error_kind="publish", error=str(exc))
        self._memory[feed.feed_id] = _Memory(result.validators, digest)
        body_hints = self._body_hints[feed.feed_id] = Hints(
            ttl_seconds=parsed.ttl_seconds,
            update_period_seconds=parsed.update_period_seconds,
            observed_seconds=observed_interval_seconds(e.published for e in parsed.entries),
        )
        if published:
            log.info("articles published", extra={**fields, "articles": published, "entries": len(articles)})
        return CheckOutcome(ok=True, hints=self._hints(body_hints, result), moved_to=moved_to)


class PollerService:
    """The poller as a :class:`~newswatch.lifecycle.Service`. ``metrics_port`` is the bound port.

    Pollers form one consumer group on the feeds topic (:class:`~newswatch.poller.assignment.FeedAssignment`);
    this one checks the enabled feeds of its assigned partitions that ``feed_filter`` accepts (default:
    all), kept current by :class:`~newswatch.poller.ownership.FeedOwnership`. The catalogue view holds
    every feed, so a partition gained is scheduled without re-reading Kafka. Ready once the group gave
    this poller an assignment (an empty one too: a standby member when pollers outnumber partitions).
    """

    name = "poller"

    def __init__(
        self,
        settings: Settings,
        registry: CollectorRegistry | None = None,
        *,
        policy: Policy | None = None,
        fetcher: Fetcher | None = None,
        feed_filter: Callable[[Feed], bool] | None = None,
        outage_rule: OutageRule | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry or CollectorRegistry()
        self.metrics = PollerMetrics(self.registry)
        self.policy = policy or Policy(
            default_interval_seconds=settings.poll_interval_seconds,
            backoff_initial_seconds=settings.poll_backoff_initial_seconds,
            backoff_max_seconds=settings.poll_backoff_max_seconds,
            min_interval_seconds=settings.poll_interval_min_seconds,
            max_interval_seconds=settings.poll_interval_max_seconds,
        )
        self.metrics_port = settings.poller_metrics_port
        self._fetcher = fetcher or HttpFetcher(settings, on_host_wait=self.metrics.host_wait.observe)
        self._feed_filter = feed_filter or (lambda _feed: True)
        self._outage = OutageDetector(self.metrics, outage_rule)
        self._reporter = HealthReporter(self._latest_feed, self._write_feed, self.metrics)
        self._seen: dict[str, bytes] = {}  # feed_id -> digest_without_health of the last record seen
        # Local imports (here and in start) keep the module's import block as it is; no cycle involved.

        self._assignment = FeedAssignment(settings, self.metrics, self._on_assignment_change)
        self._ownership: FeedOwnership | None = None
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
        return self._ready and not self._stopped and self._assignment.joined

    @property
    def assigned_partitions(self) -> frozenset[int]:
        return self._assignment.assigned

    @property
    def scheduled_feed_ids(self) -> frozenset[str]:
        return self._scheduler.feed_ids if self._scheduler else frozenset()

    def _on_feed_change(self, feed_id: str, feed: Feed | None) -> None:
        assert self._ownership is not None
        if feed is None:
            self._seen.pop(feed_id, None)
        else:
            digest = digest_without_health(feed)
            if self._seen.get(feed_id) == digest:
                return  # only the health changed (our own write, or another poller's)
            self._seen[feed_id] = digest
        self._ownership.feed_changed(feed_id, feed)

    def _forget(self, feed_id: str) -> None:
        if self._checker is not None:
            self._checker.forget(feed_id)
        self._reporter.forget(feed_id)

    def _latest_feed(self, feed_id: str) -> Feed | None:
        return self._view.items.get(feed_id) if self._view is not None else None

    async def _write_feed(self, feed: Feed) -> None:
        if self._producer is None or self._stopped:
            raise RuntimeError("the poller's producer is not running")
        delivery = await kafka.publish(self._producer, FEEDS, feed.feed_id, feed)
        await delivery

    async def _after_check(self, feed: Feed, report: CheckReport) -> None:
        moved_to = report.outcome.moved_to
        if moved_to is not None:
            try:
                moved_to = validate_feed_url(moved_to, self.settings.allow_private_networks)
            except NewswatchError as exc:
                log.warning(
                    "permanent redirect to a URL newswatch may not poll; the stored URL is kept",
                    extra={"feed_id": feed.feed_id, "error": str(exc)},
                )
                moved_to = None
        await self._reporter.after_check(feed, report, moved_to)

    def _on_assignment_change(self, assigned: frozenset[int], partition_count: int) -> None:
        if self._ownership is not None and not self._stopped:
            self._ownership.assignment_changed(assigned, partition_count)

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
        self._scheduler = Scheduler(
            self._checker.check,
            self.policy,
            s.fetch_concurrency,
            self.metrics,
            outage=self._outage,
            after_check=self._after_check,
        )
        self._ownership = FeedOwnership(self._scheduler, self._feed_filter, self._forget)
        await self._assignment.start()  # the group join (seconds) overlaps reading the catalogue
        self._view = kafka.CompactedView(s, FEEDS, Feed, role="poller", on_change=self._on_feed_change)
        await self._view.start()
        self._view.follow()
        self._loop_task = asyncio.create_task(self._scheduler.run(), name="poller-scheduler")
        self._loop_task.add_done_callback(self._loop_ended)
        if not await self._assignment.wait_joined(FIRST_ASSIGNMENT_WAIT_SECONDS):
            log.warning(
                "no partition assignment yet; feeds are scheduled once the group assigns some",
                extra={"group_id": s.poller_group_id, "waited_seconds": FIRST_ASSIGNMENT_WAIT_SECONDS},
            )
        self._ready = True
        log.info(
            "poller started",
            extra={
                "catalogue_feeds": len(self._view.items),
                "partitions": sorted(self._assignment.assigned),
                "group_id": s.poller_group_id,
                "metrics_port": self.metrics_port,
            },
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
        await self._assignment.stop()  # leave the group first: the other pollers take over at once
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

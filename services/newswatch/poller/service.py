"""The poller service: the feed catalogue → scheduled checks → raw articles on Kafka.

One check of a feed is :class:`~newswatch.poller.checker.FeedChecker`'s; this module runs them for the
feeds this poller owns, and wires in the poll state (:mod:`~newswatch.poller.state`), full text
(:mod:`~newswatch.poller.fulltext`) and WebSub pushes (:mod:`~newswatch.poller.websub`), which take the
same parse-and-publish path as polled bodies.

:class:`PollerService` start order: broker, topics, health server, producer, the group membership on
``newswatch.feeds.v1`` (:mod:`~newswatch.poller.assignment`), catalogue view (followed, so feeds added or
removed while running are picked up), the WebSub callback endpoint (when configured), scheduler.
``stop()`` leaves the group first, drains the checks, hands queued pushes over, then reverses the rest,
and is idempotent. A poller checks the enabled feeds of its assigned partitions that
``feed_filter`` accepts; pollers scale out by joining the group.

After each check the poller writes the feed's health back to the catalogue
(:mod:`~newswatch.poller.health`) and, after a permanent redirect (every hop 301/308) to a URL that
:func:`~newswatch.feeds.validate_feed_url` accepts, its new URL (same feed_id). Catalogue records that
differ from the last one seen only in ``health`` are ignored (no reschedule, no loop on its own writes).
Network-level failures of most feeds at once are blamed on our own outage (:mod:`~newswatch.poller.outage`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry

from newswatch import kafka
from newswatch.errors import FeedError, NewswatchError
from newswatch.feeds import validate_feed_url
from newswatch.lifecycle import close_component
from newswatch.observability import HealthServer
from newswatch.poller.assignment import FIRST_ASSIGNMENT_WAIT_SECONDS, FeedAssignment
from newswatch.poller.checker import FeedChecker
from newswatch.poller.fetcher import Fetcher, HttpFetcher
from newswatch.poller.fulltext import FullText
from newswatch.poller.health import HealthReporter, digest_without_health
from newswatch.poller.metrics import PollerMetrics
from newswatch.poller.outage import OutageDetector, OutageRule
from newswatch.poller.ownership import FeedOwnership
from newswatch.poller.parser import ParsedFeed
from newswatch.poller.publisher import KafkaPublisher
from newswatch.poller.scheduler import CheckReport, Policy, Scheduler
from newswatch.poller.state import KafkaStateStorage, PollStateStore
from newswatch.poller.websub import WebSub
from newswatch.settings import Settings
from newswatch.topics import FEEDS
from newswatch.v1.feed_pb2 import Feed

__all__ = ["PollerService"]

log = logging.getLogger(__name__)


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
        self._state: PollStateStore | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._websub = WebSub(settings, self.metrics, self._deliver_push, self._latest_feed)
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
            self._removed(feed_id)
        else:
            digest = digest_without_health(feed)
            if self._seen.get(feed_id) == digest:
                return  # only the health changed (our own write, or another poller's)
            self._seen[feed_id] = digest
        self._ownership.feed_changed(feed_id, feed)

    def _in_background(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _removed(self, feed_id: str) -> None:
        """A feed left the catalogue: its poll state and hub subscription go too (every poller sees the
        tombstone; the one that checked the feed deletes them)."""
        if self._state is None or self._stopped or feed_id not in self.scheduled_feed_ids:
            return
        self._in_background(self._state.remove(feed_id), "poller-state-remove")
        self._in_background(self._websub.forget(feed_id, removed=True), "poller-websub-unsubscribe")

    def _forget(self, feed_id: str) -> None:
        """A feed this poller no longer checks (removed, disabled or another poller's now)."""
        if self._checker is not None:
            self._checker.forget(feed_id)
        self._reporter.forget(feed_id)
        if not self._stopped:
            self._in_background(self._websub.forget(feed_id, removed=False), "poller-websub-forget")

    async def _deliver_push(self, feed: Feed, body: bytes, content_type: str | None) -> None:
        """A hub pushed ``body`` for ``feed``: the same parse and publish path as a polled body."""
        if self._checker is None:
            raise RuntimeError("the poller is not running")
        outcome = await self._checker.handle_body(feed, body, feed.url, content_type)
        if not outcome.ok:
            raise FeedError(f"{outcome.error_kind}: {outcome.error}", retriable=outcome.retriable)

    async def _advertised(self, feed: Feed, parsed: ParsedFeed) -> None:
        await self._websub.advertised(feed, parsed.hub_url, parsed.self_url)

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
        self._state = PollStateStore(self.metrics, KafkaStateStorage(s, producer))
        fulltext = FullText(
            self._fetcher,
            self.metrics,
            max_pages_per_check=s.fulltext_max_pages_per_check,
            allow_private_networks=s.allow_private_networks,
        )
        self._checker = FeedChecker(
            self._fetcher,
            KafkaPublisher(producer, self.metrics),
            self.metrics,
            state=self._state,
            complete=fulltext.complete,
            after_parse=self._advertised if self._websub.enabled else None,
            pushed=self._websub.active,
        )
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
        await self._websub.start()  # pushes need the catalogue view to find their feed
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
        await self._websub.stop()  # pushes still queued are handed over before the producer stops
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self._view is not None:
            await close_component("view", self._view.stop())
        if self._producer is not None:
            try:
                await self._producer.flush()
            finally:
                await close_component("producer", self._producer.stop())
        await self._fetcher.close()
        await self._health.stop()
        self._ended.set()

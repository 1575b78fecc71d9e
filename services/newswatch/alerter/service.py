"""The alerter service: ``newswatch.alerts.v1`` → matching subscriptions → channels.

Start order (intake last): broker reachable, topics exist, health/metrics endpoint, producer, a followed
:class:`~newswatch.kafka.CompactedView` of ``newswatch.subscriptions.v1`` and one of
``newswatch.alerter.endpoints.v1`` (endpoint health), the delivery ledger (recent final outcomes,
:mod:`~newswatch.alerter.ledger`), the live alert stream, the console's sources (a followed view of
``newswatch.feeds.v1`` and the article lookup, :mod:`~newswatch.alerter.console`), the HTTP API and console
on ``api_host:api_port`` (:mod:`~newswatch.alerter.api`), the durable schedule
(:mod:`~newswatch.alerter.schedule`: retries, deferred and replayed deliveries), then the alerts consumer
(group ``NEWSWATCH_ALERTER_GROUP_ID``, default ``newswatch-alerter``; manual commits) and the consume loop.

Consume loop: every record read is handled in its own task — decoded (a record that does not decode goes,
as received, to ``newswatch.alerts.dlq.v1`` with a ``newswatch-dlq-reason`` header), matched against the
current subscriptions (:mod:`~newswatch.alerter.targets`) and fanned out
(:class:`~newswatch.alerter.fanout.Fanout`: attempt 1 at once, or a deferral; a failed attempt becomes a
retry entry on the schedule topic). A task finishes once its audit / schedule / DLQ messages are
acknowledged. Reading goes on while earlier records are delivered, up to :data:`MAX_IN_FLIGHT_RECORDS`
(:class:`~newswatch.alerter.window.OffsetWindow`), so one slow endpoint does not hold the others back;
every :data:`COMMIT_INTERVAL_SECONDS`, per partition, the offset after the unbroken prefix of finished
records is committed. Delivery is therefore at least once: an alert whose outcome is not durable is
never committed. A broker error while producing ends the loop; :meth:`AlerterService.wait` raises.

Every :data:`GAUGE_INTERVAL_SECONDS` the endpoints-by-state gauge (the subscriptions in scope) and the
consumer lag (records of the assigned alerts partitions not read yet) are refreshed; the DLQ depth (dead
letters not since delivered or replayed, :mod:`~newswatch.alerter.deadletters`) follows its topics.

An endpoint failing for ``endpoint_disable_after_seconds`` gets its subscription written back disabled
(``disabled_reason`` set); the owner is told by email (``owner_email``, when SMTP is configured and an
email channel exists), and always by a WARNING log line, the endpoints topic record and a metric.

Stop order: the HTTP API first (requests in flight get a few seconds), stop intake, let in-flight
deliveries finish within a share of ``shutdown_deadline_seconds`` (the rest are cancelled and not
committed), stop the schedule (its running deliveries get a share too; offsets committed), then close
the consumer, the ledger, flush and close the producer, the views, the channels and the endpoint.
``stop()`` is idempotent and safe after a failed ``start()``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from google.protobuf.message import Message
from prometheus_client import CollectorRegistry

from newswatch import contracts, kafka
from newswatch.alerter.api import ApiServer, SubscriptionsApi
from newswatch.alerter.channels import Channel, ConsoleChannel, build_channels
from newswatch.alerter.console import ArticleLookup, ConsoleRoutes
from newswatch.alerter.deadletters import DeadLetterDepth
from newswatch.alerter.endpoints import EndpointTracker, count_states, notify_owner
from newswatch.alerter.eventstream import EventStream
from newswatch.alerter.fanout import DLQ_ERROR_HEADER, DLQ_REASON_HEADER, Fanout
from newswatch.alerter.ledger import Ledger
from newswatch.alerter.metrics import AlerterMetrics
from newswatch.alerter.policies import RateLimiter
from newswatch.alerter.schedule import Scheduler, ScheduleWriter
from newswatch.alerter.store import KafkaSubscriptionStore
from newswatch.alerter.targets import TargetIndex
from newswatch.alerter.window import OffsetWindow
from newswatch.contracts import timestamp
from newswatch.errors import InvalidMessageError
from newswatch.lifecycle import close_component
from newswatch.observability import HealthServer
from newswatch.settings import Settings
from newswatch.topics import ALERTS, ALERTS_DLQ, ENDPOINTS, FEEDS, SUBSCRIPTIONS, TopicSpec
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.delivery_pb2 import EndpointHealth
from newswatch.v1.feed_pb2 import Feed
from newswatch.v1.subscription_pb2 import Subscription

__all__ = [
    "COMMIT_INTERVAL_SECONDS",
    "DLQ_SOURCE_HEADER",
    "GAUGE_INTERVAL_SECONDS",
    "MAX_IN_FLIGHT_RECORDS",
    "AlerterService",
]

log = logging.getLogger(__name__)

DLQ_SOURCE_HEADER = "newswatch-dlq-source"
BATCH_MAX_RECORDS = 100
MAX_IN_FLIGHT_RECORDS = 500
COMMIT_INTERVAL_SECONDS = 0.5
GAUGE_INTERVAL_SECONDS = 5.0
_POLL_TIMEOUT_MS = 500
# Shares of the shutdown deadline: draining in-flight deliveries, then the grace given to cancelled ones to
# unwind and commit, then the schedule's running deliveries; the rest is for flush and close.
_DRAIN_SHARE = 0.45
_CANCEL_GRACE_SHARE = 0.1
_SCHEDULE_SHARE = 0.2


class AlerterService:
    """Implements :class:`newswatch.lifecycle.Service`. ``channels`` defaults to one of every kind."""

    name = "alerter"

    def __init__(
        self,
        settings: Settings,
        registry: CollectorRegistry | None = None,
        *,
        group_id: str | None = None,
        channels: Sequence[Channel] | Mapping[str, Channel] | None = None,
        scope: Callable[[str], bool] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``group_id`` defaults to ``settings.alerter_group_id``. ``scope(subscription_id)`` restricts
        this process to some subscriptions (separate alerter deployments splitting them, or tests
        sharing one broker); by default it serves all. ``clock``
        (epoch seconds) drives every policy decision: failure windows, rate limits, quiet hours, digests
        and retry times (tests advance it)."""
        self._settings = settings
        self._registry = registry if registry is not None else CollectorRegistry()
        self.metrics = AlerterMetrics(self._registry)
        self._group_id = group_id or settings.alerter_group_id
        self._given_channels = channels
        self._scope = scope
        self._clock = clock
        self.limiter = RateLimiter()
        self.channels: dict[str, Channel] = {}
        self._health: HealthServer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._view: kafka.CompactedView[Subscription] | None = None
        self._endpoint_view: kafka.CompactedView[EndpointHealth] | None = None
        self._feeds_view: kafka.CompactedView[Feed] | None = None  # feed health, for the console
        self._articles: ArticleLookup | None = None
        self._store: KafkaSubscriptionStore | None = None
        self._targets: TargetIndex | None = None
        self._api: ApiServer | None = None
        self._stream: EventStream | None = None
        self._ledger: Ledger | None = None
        self._scheduler: Scheduler | None = None
        self._fanout: Fanout | None = None
        self.endpoints: EndpointTracker | None = None
        self.dead_letters: DeadLetterDepth | None = None
        self._task: asyncio.Task[None] | None = None
        self._gauges: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[bool]] = set()
        self._stopping = asyncio.Event()
        self._stopped = False

    @property
    def metrics_port(self) -> int:
        """The port the metrics endpoint is bound to (useful when configured as 0)."""
        return self._health.port if self._health is not None else self._settings.alerter_metrics_port

    @property
    def api_port(self) -> int:
        """The port the HTTP API is bound to (useful when configured as 0)."""
        return self._api.port if self._api is not None else self._settings.api_port

    @property
    def console(self) -> ConsoleChannel | None:
        """The console channel (its ring buffer feeds the live view), if configured."""
        return next((c for c in self.channels.values() if isinstance(c, ConsoleChannel)), None)

    def ready(self) -> bool:
        return self._task is not None and not self._task.done() and not self._stopping.is_set()

    def _build_channels(self) -> dict[str, Channel]:
        given = self._given_channels
        if given is None:
            return build_channels(self._settings)
        if isinstance(given, Mapping):
            return dict(given)
        return {c.name: c for c in given}

    async def start(self) -> None:
        settings = self._settings
        await kafka.wait_for_broker(settings)
        await kafka.ensure_topics(settings)
        self._health = HealthServer(
            self._registry, settings.metrics_host, settings.alerter_metrics_port, ready=self.ready
        )
        await self._health.start()
        self.channels = self._build_channels()
        self._producer = kafka.make_producer(settings, "alerter")
        await self._producer.start()
        self._view = kafka.CompactedView(
            settings, SUBSCRIPTIONS, Subscription, role="alerter", on_change=self._subscriptions_changed
        )
        await self._view.start()
        self._view.follow()
        self._targets = TargetIndex(self._view.items, self._scope)
        self.endpoints = EndpointTracker(
            self._publish,
            self._disable_subscription,
            disable_after_seconds=settings.endpoint_disable_after_seconds,
            clock=self._clock,
        )
        self._endpoint_view = kafka.CompactedView(
            settings, ENDPOINTS, EndpointHealth, role="alerter-endpoints", on_change=self.endpoints.apply
        )
        await self._endpoint_view.start()
        self._endpoint_view.follow()
        self.dead_letters = DeadLetterDepth(settings, self.metrics.dlq_depth.set)
        self._ledger = Ledger(
            settings,
            on_recent=self._delivered_recently,
            on_attempt=self.dead_letters.observe,
            clock=self._clock,
        )
        await self._ledger.start()
        self._store = KafkaSubscriptionStore(self._view, self._publish)
        self._stream = EventStream(settings, self.metrics)  # every alert, live, for SSE clients
        await self._stream.start()
        feeds = self._feeds_view = kafka.CompactedView(settings, FEEDS, Feed, role="alerter-feeds")
        await feeds.start()
        feeds.follow()
        self._articles = ArticleLookup(settings, self.metrics)
        await self._articles.start()
        api = SubscriptionsApi(
            self._store,
            token=settings.api_token,
            allow_private=settings.allow_private_networks,
            metrics=self.metrics,
            stream=self._stream,
            console=ConsoleRoutes(self._stream, lambda: feeds.items, self._articles),
        )
        self._api = ApiServer(settings, api)
        await self._api.start()
        self._fanout = Fanout(
            settings,
            self.channels,
            self._publish,
            self.metrics,
            ScheduleWriter(self._producer),
            outcomes=self._ledger.cache,
            endpoints=self.endpoints,
            lookup=self._view.items.get,
            limiter=self.limiter,
            clock=self._clock,
        )
        self._scheduler = Scheduler(
            settings,
            f"{self._group_id}.schedule",
            self._fanout.run_scheduled,
            self.metrics,
            digest_size=self._digest_size,
            accept=self._scope,
            clock=self._clock,
        )
        await self._scheduler.start()
        self._consumer = kafka.make_consumer(
            settings,
            "alerter",
            ALERTS.name,
            group_id=self._group_id,
            max_poll_interval_ms=_max_poll_interval_ms(settings),
        )
        await self._consumer.start()
        self.dead_letters.start(self._ledger.start_offsets)
        self._task = asyncio.create_task(self._run(), name="alerter-consume")
        self._gauges = asyncio.create_task(self._refresh_gauges(), name="alerter-gauges")
        log.info(
            "alerter consuming",
            extra={
                "group_id": self._group_id,
                "metrics_port": self.metrics_port,
                "api_port": self.api_port,
                "subscriptions": len(self._view.items),
                "max_attempts": self._fanout.max_attempts,
            },
        )

    async def wait(self) -> None:
        if self._task is None:
            raise RuntimeError("alerter not started")
        await asyncio.shield(self._task)

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._api is not None:
            await self._api.stop()  # its shutdown hook ends the event streams
        if self._stream is not None:
            await close_component("alert stream", self._stream.stop())
        self._stopping.set()
        await kafka.cancel_follower(self._gauges, "alerter gauges")
        if self.dead_letters is not None:
            await self.dead_letters.stop()
        if self._task is not None:
            await self._drain(self._task)
        if self._scheduler is not None:
            drain = self._settings.shutdown_deadline_seconds * _SCHEDULE_SHARE
            await close_component("schedule", self._scheduler.stop(drain))
        if self._consumer is not None:
            await close_component("consumer", self._consumer.stop())
        if self._ledger is not None:
            await close_component("ledger", self._ledger.stop())
        if self._producer is not None:
            await close_component("producer", self._producer.stop())
        if self._articles is not None:
            await close_component("article lookup", self._articles.stop())
        for view in (self._view, self._endpoint_view, self._feeds_view):
            if view is not None:
                await close_component("view", view.stop())
        for channel in self.channels.values():
            await close_component(f"{channel.name} channel", channel.close())
        if self._health is not None:
            await self._health.stop()

    async def _drain(self, task: asyncio.Task[None]) -> None:
        deadline = self._settings.shutdown_deadline_seconds
        drain_seconds = deadline * _DRAIN_SHARE
        done, _ = await asyncio.wait({task}, timeout=drain_seconds)
        if not done:
            log.warning(
                "drain deadline passed; unfinished deliveries are cancelled and not committed",
                extra={"in_flight": len(self._inflight), "deadline_seconds": drain_seconds},
            )
            for handle in list(self._inflight):
                handle.cancel()
            done, _ = await asyncio.wait({task}, timeout=deadline * _CANCEL_GRACE_SHARE)
        if not done:
            task.cancel()
        results = await asyncio.gather(task, return_exceptions=True)
        if isinstance(results[0], BaseException) and not isinstance(results[0], asyncio.CancelledError):
            log.error("consume loop had failed", extra={"error": repr(results[0])})

    def _subscriptions_changed(self, _key: str, _value: Subscription | None) -> None:
        if self._view is not None:
            self.metrics.subscriptions.set(len(self._view.items))
        if self._store is not None:
            self._store.changed()
        if self._targets is not None:
            self._targets.changed()

    def _delivered_recently(self, subscription_id: str, delivered_at: float) -> None:
        """A delivery of the last hour found in the ledger at start-up: count it in the rate limit."""
        sub = self._view.items.get(subscription_id) if self._view is not None else None
        if sub is not None and sub.rate_limit_per_hour > 0 and self._in_scope(subscription_id):
            self.limiter.record(subscription_id, sub.rate_limit_per_hour, delivered_at)

    def _in_scope(self, subscription_id: str) -> bool:
        return self._scope is None or self._scope(subscription_id)

    def _digest_size(self, subscription_id: str) -> int:
        sub = self._view.items.get(subscription_id) if self._view is not None else None
        return sub.digest.every_alerts if sub is not None else 0

    async def _disable_subscription(self, sub: Subscription, reason: str) -> None:
        """Write ``sub`` back disabled with ``reason``; tell its owner (module docstring)."""
        current = self._view.items.get(sub.subscription_id) if self._view is not None else None
        disabled = Subscription()
        disabled.CopyFrom(current if current is not None else sub)
        disabled.enabled = False
        disabled.disabled_reason = reason
        disabled.updated_at.CopyFrom(timestamp())
        await (await self._publish(SUBSCRIPTIONS, sub.subscription_id, disabled, ()))
        self.metrics.endpoints_disabled.inc()
        await notify_owner(self.channels, self._settings, disabled, reason)

    async def _refresh_gauges(self) -> None:
        while True:
            if self._view is not None and self.endpoints is not None:
                mine = (s for s in self._view.items.values() if self._in_scope(s.subscription_id))
                for state, count in count_states(mine, self.endpoints).items():
                    self.metrics.endpoints.labels(state=state).set(count)
            await self._measure_lag()
            await asyncio.sleep(GAUGE_INTERVAL_SECONDS)

    async def _measure_lag(self) -> None:
        """Set the consumer-lag gauge: high-water mark minus position, summed over assigned partitions."""
        consumer = self._consumer
        if consumer is None:
            return
        lag = 0
        try:
            for tp in consumer.assignment():
                high = consumer.highwater(tp)
                if high is not None:
                    lag += max(0, high - await consumer.position(tp))
        except (AssertionError, KafkaError) as exc:  # a rebalance is on: measure next time
            log.debug("consumer lag not measured", extra={"error": repr(exc)})
            return
        self.metrics.consumer_lag.set(lag)

    async def _publish(
        self, topic: TopicSpec, key: str, message: Message | None, headers: Sequence[tuple[str, bytes]]
    ) -> Awaitable[Any]:
        assert self._producer is not None
        return await kafka.publish(self._producer, topic, key, message, headers)

    async def _run(self) -> None:
        """Read while earlier records are delivered (at most MAX_IN_FLIGHT_RECORDS in the window); commit
        the settled prefix of each partition every COMMIT_INTERVAL_SECONDS and when stopping."""
        assert self._consumer is not None
        window = OffsetWindow()
        last_commit = time.monotonic()
        try:
            while not self._stopping.is_set():
                if len(window) >= MAX_IN_FLIGHT_RECORDS:
                    await window.wait_any(_POLL_TIMEOUT_MS / 1000)
                else:
                    batch = await self._consumer.getmany(
                        timeout_ms=_POLL_TIMEOUT_MS, max_records=BATCH_MAX_RECORDS
                    )
                    if self._stopping.is_set():
                        break  # not started: read again after the restart
                    for tp, records in batch.items():
                        for record in records:
                            task = asyncio.create_task(self._handle(record))
                            if window.add(tp, record.offset, task):
                                self._inflight.add(task)
                                task.add_done_callback(self._inflight.discard)
                            else:
                                task.cancel()
                fatal = window.fatal()
                if fatal is not None:
                    raise fatal
                if time.monotonic() - last_commit >= COMMIT_INTERVAL_SECONDS:
                    await self._commit(window.committable())
                    last_commit = time.monotonic()
            while window.running:  # stopping: stop() cancels what outlives its drain deadline
                await window.wait_any(_POLL_TIMEOUT_MS / 1000)
        finally:
            await self._commit(window.committable())

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        assert self._consumer is not None
        assigned = self._consumer.assignment()
        offsets = {tp: offset for tp, offset in offsets.items() if tp in assigned}
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except KafkaError as exc:
            self.metrics.commit_failures.inc()
            log.warning("offset commit refused; records will be read again", extra={"error": repr(exc)})

    async def _handle(self, record: ConsumerRecord[bytes, bytes]) -> bool:
        """True once the record's outcome is durable; False when shutdown cut it short."""
        assert self._fanout is not None and self._view is not None
        self.metrics.alerts_consumed.inc()
        try:
            alert = contracts.decode(Alert, record.value, record.headers)
            if not alert.alert_id:
                raise InvalidMessageError("alert_id is empty")
        except InvalidMessageError as exc:
            await self._dead_letter_raw(record, str(exc))
            return True
        assert self._targets is not None
        targets = self._targets.targets(alert)
        return await self._fanout.deliver(alert, targets)

    async def _dead_letter_raw(self, record: ConsumerRecord[bytes, bytes], reason: str) -> None:
        assert self._producer is not None
        source = f"{record.topic}/{record.partition}/{record.offset}"
        log.warning(
            "invalid alert sent to the dead-letter topic",
            extra={"source": source, "reason": "invalid_message", "error": reason},
        )
        self.metrics.dlq_messages.labels(reason="invalid_message").inc()
        headers = [
            *[(k, v) for k, v in (record.headers or ()) if k not in (DLQ_REASON_HEADER, DLQ_ERROR_HEADER)],
            (DLQ_REASON_HEADER, b"invalid_message"),
            (DLQ_ERROR_HEADER, reason[:500].encode("utf-8", "replace")),
            (DLQ_SOURCE_HEADER, source.encode()),
        ]
        ack = await self._producer.send(ALERTS_DLQ.name, value=record.value, key=record.key, headers=headers)
        await ack


def _max_poll_interval_ms(settings: Settings) -> int:
    """Long enough for one batch: each alert makes one attempt here (retries wait on the schedule)."""
    worst = 2 * max(settings.webhook_timeout_seconds, settings.smtp_timeout_seconds)
    return int(max(300.0, worst + 60.0) * 1000)

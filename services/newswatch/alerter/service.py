"""The alerter service: ``newswatch.alerts.v1`` → matching subscriptions → channels.

Start order (intake last): broker reachable, topics exist, health/metrics endpoint, producer, a followed
:class:`~newswatch.kafka.CompactedView` of ``newswatch.subscriptions.v1``, the HTTP API on
``api_host:api_port`` (:mod:`~newswatch.alerter.api`; it reads that view and writes through the producer),
then the consumer (group ``newswatch-alerter``, manual commits) and the consume loop.

Consume loop, one batch at a time: every record is handled concurrently — decoded (a record that does not
decode goes, as received, to ``newswatch.alerts.dlq.v1`` with a ``newswatch-dlq-reason`` header),
matched against the current subscriptions and fanned out (:class:`~newswatch.alerter.fanout.Fanout`).
When every record of the batch is settled and its audit/DLQ messages are acknowledged, the producer is
flushed and, per partition, the offset after the last settled record of the unbroken settled prefix is
committed. Delivery is therefore at least once: an alert whose outcome is not durable is never
committed. A broker error while producing ends the loop; :meth:`AlerterService.wait` then raises.

Stop order: the HTTP API first (requests in flight get a few seconds), stop intake, cut retry waits
short, let in-flight deliveries finish within a share of ``shutdown_deadline_seconds`` (the rest are
cancelled and not committed), commit, then close the consumer, flush and close the producer, the view,
the channels and the endpoint. ``stop()`` is idempotent and safe after a failed ``start()``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from google.protobuf.message import Message
from prometheus_client import CollectorRegistry

from newswatch import contracts, kafka
from newswatch.alerter.api import ApiServer, SubscriptionsApi
from newswatch.alerter.channels import Channel, ConsoleChannel, WebhookChannel
from newswatch.alerter.fanout import DLQ_ERROR_HEADER, DLQ_REASON_HEADER, Fanout
from newswatch.alerter.metrics import AlerterMetrics
from newswatch.alerter.store import KafkaSubscriptionStore
from newswatch.alerter.subscriptions import matches
from newswatch.errors import InvalidMessageError
from newswatch.observability import HealthServer
from newswatch.settings import Settings
from newswatch.topics import ALERTS, ALERTS_DLQ, SUBSCRIPTIONS, TopicSpec
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.subscription_pb2 import Subscription

__all__ = ["DLQ_SOURCE_HEADER", "GROUP_ID", "AlerterService"]

log = logging.getLogger(__name__)

GROUP_ID = "newswatch-alerter"
DLQ_SOURCE_HEADER = "newswatch-dlq-source"
BATCH_MAX_RECORDS = 100
_POLL_TIMEOUT_MS = 500
# Shares of the shutdown deadline: draining in-flight deliveries, then the grace given to cancelled ones to
# unwind and commit; the remaining quarter is for flush and close.
_DRAIN_SHARE = 0.6
_CANCEL_GRACE_SHARE = 0.15


class AlerterService:
    """Implements :class:`newswatch.lifecycle.Service`. ``channels`` defaults to webhook + console."""

    name = "alerter"

    def __init__(
        self,
        settings: Settings,
        registry: CollectorRegistry | None = None,
        *,
        group_id: str = GROUP_ID,
        channels: Sequence[Channel] | None = None,
    ) -> None:
        self._settings = settings
        self._registry = registry if registry is not None else CollectorRegistry()
        self.metrics = AlerterMetrics(self._registry)
        self._group_id = group_id
        self._channels: list[Channel] = (
            list(channels) if channels is not None else [WebhookChannel(settings), ConsoleChannel()]
        )
        self._health: HealthServer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._view: kafka.CompactedView[Subscription] | None = None
        self._store: KafkaSubscriptionStore | None = None
        self._api: ApiServer | None = None
        self._fanout: Fanout | None = None
        self._task: asyncio.Task[None] | None = None
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
        return next((c for c in self._channels if isinstance(c, ConsoleChannel)), None)

    def ready(self) -> bool:
        return self._task is not None and not self._task.done() and not self._stopping.is_set()

    async def start(self) -> None:
        settings = self._settings
        await kafka.wait_for_broker(settings)
        await kafka.ensure_topics(settings)
        self._health = HealthServer(
            self._registry, settings.metrics_host, settings.alerter_metrics_port, ready=self.ready
        )
        await self._health.start()
        self._producer = kafka.make_producer(settings, "alerter")
        await self._producer.start()
        self._view = kafka.CompactedView(
            settings, SUBSCRIPTIONS, Subscription, role="alerter", on_change=self._subscriptions_changed
        )
        await self._view.start()
        self._view.follow()
        self._store = KafkaSubscriptionStore(self._view, self._publish)
        api = SubscriptionsApi(
            self._store,
            token=settings.api_token,
            allow_private=settings.allow_private_networks,
            metrics=self.metrics,
        )
        self._api = ApiServer(settings, api)
        await self._api.start()
        self._fanout = Fanout(settings, {c.name: c for c in self._channels}, self._publish, self.metrics)
        self._consumer = kafka.make_consumer(
            settings,
            "alerter",
            ALERTS.name,
            group_id=self._group_id,
            max_poll_interval_ms=_max_poll_interval_ms(settings),
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name="alerter-consume")
        log.info(
            "alerter consuming",
            extra={
                "group_id": self._group_id,
                "metrics_port": self.metrics_port,
                "api_port": self.api_port,
                "subscriptions": len(self._view.items),
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
            await self._api.stop()
        self._stopping.set()
        if self._fanout is not None:
            self._fanout.stop_retrying()
        if self._task is not None:
            await self._drain(self._task)
        if self._consumer is not None:
            await self._close("consumer", self._consumer.stop())
        if self._producer is not None:
            await self._close("producer", self._producer.stop())
        if self._view is not None:
            await self._close("subscriptions view", self._view.stop())
        for channel in self._channels:
            await self._close(f"{channel.name} channel", channel.close())
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

    async def _close(self, what: str, closing: Awaitable[Any]) -> None:
        try:
            await closing
        except (KafkaError, OSError) as exc:
            log.warning("error while closing", extra={"component": what, "error": repr(exc)})

    def _subscriptions_changed(self, _key: str, _value: Subscription | None) -> None:
        if self._view is not None:
            self.metrics.subscriptions.set(len(self._view.items))
        if self._store is not None:
            self._store.changed()

    async def _publish(
        self, topic: TopicSpec, key: str, message: Message | None, headers: Sequence[tuple[str, bytes]]
    ) -> Awaitable[Any]:
        assert self._producer is not None
        return await kafka.publish(self._producer, topic, key, message, headers)

    async def _run(self) -> None:
        assert self._consumer is not None
        while not self._stopping.is_set():
            batch = await self._consumer.getmany(timeout_ms=_POLL_TIMEOUT_MS, max_records=BATCH_MAX_RECORDS)
            if batch and not self._stopping.is_set():
                await self._process(batch)

    async def _process(self, batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        """Handle every record concurrently, then commit the settled prefix of each partition."""
        handles: list[tuple[TopicPartition, int, asyncio.Task[bool]]] = []
        for tp, records in batch.items():
            for record in records:
                task = asyncio.create_task(self._handle(record))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)
                handles.append((tp, record.offset, task))
        await asyncio.wait([task for _, _, task in handles])
        assert self._producer is not None and self._consumer is not None
        fatal: BaseException | None = None
        offsets: dict[TopicPartition, int] = {}
        blocked: set[TopicPartition] = set()
        for tp, offset, task in sorted(handles, key=lambda h: (h[0].partition, h[1])):
            settled = not task.cancelled() and task.exception() is None and task.result()
            if not task.cancelled() and task.exception() is not None:
                fatal = fatal or task.exception()
            if tp in blocked or not settled:
                blocked.add(tp)
                continue
            offsets[tp] = offset + 1
        await self._producer.flush()
        if offsets:
            try:
                await self._consumer.commit(offsets)
            except KafkaError as exc:
                self.metrics.commit_failures.inc()
                log.warning("offset commit refused; records will be read again", extra={"error": repr(exc)})
        if fatal is not None:
            raise fatal

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
        targets = [sub for sub in list(self._view.items.values()) if matches(sub, alert)]
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
    """Long enough for one batch whose slowest alert uses every attempt and every backoff."""
    attempts = settings.delivery_max_attempts
    worst = (
        attempts * settings.webhook_timeout_seconds + (attempts - 1) * settings.delivery_backoff_max_seconds
    )
    return int(max(300.0, worst + 60.0) * 1000)

"""The Faust application ``newswatch-processor`` and :func:`run_worker`, the processor's front door.

The app reads ``newswatch.articles.raw.v1`` with raw (bytes) serializers and hands every message to
:class:`~newswatch.processor.agents.ArticleProcessor`. State lives in two Faust tables with changelogs
(``processor-seen``, ``processor-content``; in-memory store, restored from the changelog at start-up)
whose partitions equal the source topic's. Outputs go through Faust's producer and are awaited.

Beside the app, a sidecar service (started before the app, stopped after it) runs the ``/metrics``,
``/healthz`` and ``/readyz`` endpoint and follows the compacted watch-list topic, hot-swapping the
matcher. ``/readyz`` is 200 once the watch lists are loaded, the agent runs and a rebalance (with
table recovery) has completed.

Logging is left to the caller (:func:`newswatch.observability.setup_logging`): Faust is told not to
replace it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

import faust
import mode
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry

from newswatch.errors import NewswatchError
from newswatch.kafka import CompactedView, ensure_topics, make_producer, wait_for_broker
from newswatch.observability import HealthServer
from newswatch.processor.agents import ArticleProcessor, WatchlistRegistry
from newswatch.processor.dedupe import Deduplicator
from newswatch.processor.metrics import ProcessorMetrics
from newswatch.processor.places import default_gazetteer
from newswatch.processor.watchlist import default_watchlist
from newswatch.settings import Settings
from newswatch.topics import ALERTS, ARTICLES_ENRICHED, ARTICLES_RAW, ARTICLES_RAW_DLQ, WATCHLISTS, TopicSpec
from newswatch.v1.watchlist_pb2 import Watchlist

__all__ = ["APP_ID", "ProcessorRuntime", "build_app", "run_worker", "topic_partitions"]

log = logging.getLogger(__name__)

APP_ID = "newswatch-processor"
AGENT_NAME = "newswatch-processor-articles"


class ProcessorRuntime:
    """Everything the processor holds besides Faust: metrics, watch lists, health endpoint."""

    def __init__(self, settings: Settings, registry: CollectorRegistry | None = None) -> None:
        self.settings = settings
        self.registry = registry or CollectorRegistry()
        self.metrics = ProcessorMetrics(self.registry)
        self.watchlists = WatchlistRegistry(default_watchlist(), self.metrics)
        self.gazetteer = default_gazetteer()
        self.health = HealthServer(
            self.registry, settings.metrics_host, settings.processor_metrics_port, ready=self.is_ready
        )
        self.consuming = False
        self.assigned = False
        self._view: CompactedView[Watchlist] | None = None
        self._loaded = False

    def is_ready(self) -> bool:
        return self._loaded and self.consuming and self.assigned

    async def start(self) -> None:
        """Start the endpoint, then read the watch lists to their end and keep following them."""
        await self.health.start()
        log.info("processor metrics endpoint listening", extra={"port": self.health.port})
        self._view = CompactedView(
            self.settings, WATCHLISTS, Watchlist, role="processor", on_change=self.watchlists.on_change
        )
        await self._view.start()
        self._view.follow()
        self._loaded = True

    async def stop(self) -> None:
        """Idempotent."""
        self._loaded = False
        view, self._view = self._view, None
        if view is not None:
            await view.stop()
        await self.health.stop()


class _Sidecar(mode.Service):
    """Runs a :class:`ProcessorRuntime` inside the Faust worker's lifecycle."""

    def __init__(self, runtime: ProcessorRuntime) -> None:
        super().__init__()
        self._runtime = runtime

    async def on_start(self) -> None:
        await self._runtime.start()

    async def on_stop(self) -> None:
        await self._runtime.stop()


class _FaustOutputs:
    """:class:`~newswatch.processor.agents.Outputs` over the app's producer (sent at once, not attached)."""

    def __init__(self, app: faust.App, specs: Sequence[TopicSpec]) -> None:
        self._topics = {s.name: app.topic(s.name, key_type=bytes, value_type=bytes) for s in specs}

    async def send(
        self, topic: TopicSpec, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
    ) -> Awaitable[Any]:
        fut: Awaitable[Any] = await self._topics[topic.name].send(
            key=key, value=value, headers=headers, force=True
        )
        return fut


def _headers(raw: Any) -> list[tuple[str, bytes]]:
    if not raw:
        return []
    items = raw.items() if isinstance(raw, Mapping) else raw
    return [(str(k), bytes(v) if v is not None else b"") for k, v in items]


class _App(faust.App):
    """Faust's app, keeping buffered records when flow control resumes after a rebalance.

    Faust 0.15.3 resumes the stream partitions and seeks them to their committed offsets while the
    fetcher already runs (it was started to read the changelogs), then clears every stream buffer when
    it resumes flow control. Records fetched between that seek and that resume were dropped: a restarted
    processor lost the articles published while it was down (seen in the end-to-end test). Kept
    instead, they are processed; a record that is also read again is a duplicate, which the seen-table
    drops and whose alert id is the same — at least once, never lost.
    """

    def FlowControlQueue(self, maxsize: int | None = None, *, clear_on_resume: bool = False) -> Any:
        return super().FlowControlQueue(maxsize, clear_on_resume=False)


def build_app(
    settings: Settings,
    runtime: ProcessorRuntime,
    *,
    app_id: str = APP_ID,
    offset_reset: str = "earliest",
    partitions: int | None = None,
) -> faust.App:
    """The Faust app with its tables and the raw-article agent (not started).

    ``app_id`` is also the consumer group and the prefix of the changelog topics. ``offset_reset``
    applies to partitions the group has no committed offset for (earliest | latest). ``partitions``
    is the raw topic's partition count, which the tables must share (default: the setting).
    """
    partitions = partitions or settings.topic_partitions
    app = _App(
        app_id,
        broker=[f"kafka://{hostport}" for hostport in settings.bootstrap_servers],
        broker_client_id=f"{settings.kafka_client_id}-processor",
        store="memory://",
        datadir=str(settings.data_dir / "processor"),
        web_enabled=False,
        topic_partitions=partitions,
        topic_replication_factor=settings.topic_replication_factor,
        key_serializer="raw",
        value_serializer="raw",
        producer_acks=-1,
        consumer_auto_offset_reset=offset_reset,
        # A worker that dies without leaving the group (SIGKILL, lost host) holds its partitions until its
        # session expires: keep that short so a replacement takes over within seconds, not a minute.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        autodiscover=False,
    )
    table_options: dict[str, Any] = {
        "default": None,
        "partitions": partitions,
        # key_type / value_type bytes make the changelog raw on the way in AND on recovery (the schema
        # alone leaves recovery decoding JSON, which fails on every record after a restart).
        "key_type": bytes,
        "value_type": bytes,
        "schema": faust.Schema(
            key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
        ),
    }
    seen = app.Table("processor-seen", help="article_id -> processed at", **table_options)
    content = app.Table("processor-content", help="content fingerprint -> first article_id", **table_options)
    outputs = _FaustOutputs(app, [ARTICLES_ENRICHED, ALERTS, ARTICLES_RAW_DLQ])
    processor = ArticleProcessor(
        runtime.watchlists, runtime.gazetteer, Deduplicator(seen, content), outputs, runtime.metrics
    )
    source = app.topic(ARTICLES_RAW.name, key_type=bytes, value_type=bytes)

    async def articles(stream: Any) -> None:
        runtime.consuming = True
        try:
            async for event in stream.events():
                await processor.process(event.key, event.value, _headers(event.headers))
        finally:
            runtime.consuming = False

    async def rebalanced(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        runtime.assigned = True

    app.agent(source, name=AGENT_NAME)(articles)
    app.on_rebalance_complete.connect(rebalanced)
    return app


async def topic_partitions(settings: Settings, topic: TopicSpec) -> int:
    """The partition count of an existing topic (its tables must match it, whatever the setting says)."""
    producer = make_producer(settings, "processor-probe")
    await producer.start()
    try:
        found = await producer.partitions_for(topic.name)
    finally:
        await producer.stop()
    if len(found) != settings.topic_partitions:
        log.warning(
            "source topic partitions differ from the setting; tables follow the topic",
            extra={"topic": topic.name, "partitions": len(found), "setting": settings.topic_partitions},
        )
    return len(found)


def run_worker(settings: Settings, *, app_id: str | None = None, offset_reset: str = "earliest") -> int:
    """Run the processor until SIGTERM / SIGINT; return the exit code (0 after a clean shutdown).

    Waits for the broker and creates missing topics first (exit code 1 if the broker never answers).
    Blocks the calling thread and owns a fresh event loop; call it from the main thread. ``app_id`` and
    ``offset_reset`` as in :func:`build_app` (tests use a unique group starting at the end).
    """
    app_id = app_id or settings.processor_group_id
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(wait_for_broker(settings))
        loop.run_until_complete(ensure_topics(settings))
        partitions = loop.run_until_complete(topic_partitions(settings, ARTICLES_RAW))
    except (NewswatchError, KafkaError, OSError) as exc:
        log.error("processor cannot start", extra={"error": repr(exc)})
        loop.close()
        return 1
    (settings.data_dir / "processor").mkdir(parents=True, exist_ok=True)
    runtime = ProcessorRuntime(settings)
    app = build_app(settings, runtime, app_id=app_id, offset_reset=offset_reset, partitions=partitions)
    worker = faust.Worker(
        app,
        _Sidecar(runtime),
        loop=loop,
        quiet=True,
        override_logging=False,
        redirect_stdouts=False,
    )
    worker.spinner = None
    log.info("processor starting", extra={"app_id": app_id, "partitions": partitions})
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
        log.info("processor stopped", extra={"exit_code": code})
        return code
    return 0

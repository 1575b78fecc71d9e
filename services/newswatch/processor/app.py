"""The Faust application ``newswatch-processor`` and :func:`run_worker`, the processor's front door.

The app reads ``newswatch.articles.raw.v1`` with raw (bytes) serializers and hands the messages, in
batches of up to ``processor_batch_max_articles`` (``stream.take_events``: whatever arrived within
``processor_batch_max_wait_seconds``), to :class:`~newswatch.processor.agents.ArticleProcessor`, which
waits once per batch for all its outputs; Faust acknowledges the batch's offsets after that. State
lives in two Faust tables whose partitions equal the source topic's, written on the partition of the
message being processed, by the processor's own producer calls (one record per batch and partition
each; not ``send_changelog``, whose buffer throttles the stream):

- ``processor-seen`` (chunk id → the article ids of one batch and partition; recovered into a bounded
  :class:`~newswatch.processor.seen.SeenLog`, ``processor_seen_max_articles``);
- ``processor-neardup`` (chunk id → the near-duplicate index entries of one batch and partition): its
  changelog is read in full by every worker into a :class:`~newswatch.processor.dupindex.NearDupIndex`
  (:mod:`newswatch.processor.duplog` says why); the table keeps no local copy.

Beside the app, a sidecar service (:mod:`newswatch.processor.runtime`; started before the app, stopped
after it) runs the ``/metrics``, ``/healthz`` and ``/readyz`` endpoint, follows the compacted watch-list
topic (hot-swapping the matcher) and loads, then follows, the near-duplicate changelog. ``/readyz`` is
200 once both are loaded, the agent runs and a rebalance (with table recovery) has completed. Every
:data:`LAG_INTERVAL_SECONDS` the worker sets ``newswatch_processor_consumer_lag_records`` from its
consumer's high-water marks.

Logging is left to the caller (:func:`newswatch.observability.setup_logging`): Faust is told not to
replace it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import faust
from aiokafka.errors import KafkaError

from newswatch.errors import NewswatchError, SettingsError
from newswatch.kafka import ensure_topics, make_producer, wait_for_broker
from newswatch.processor.agents import ArticleProcessor, RawMessage
from newswatch.processor.dedupe import Deduplicator
from newswatch.processor.duplog import TABLE_NAME, changelog_config
from newswatch.processor.enrichpool import EnrichPool
from newswatch.processor.faustapp import ORIGIN_HEADER, FaustOutputs, ProcessorApp
from newswatch.processor.runtime import APP_ID, ProcessorRuntime, Sidecar, consumer_lag, region_table
from newswatch.processor.seen import SEEN_TABLE, SeenLog
from newswatch.settings import Settings
from newswatch.topics import ARTICLES_RAW, TopicSpec

__all__ = [
    "APP_ID",
    "ORIGIN_HEADER",
    "ProcessorRuntime",
    "build_app",
    "consumer_lag",
    "run_worker",
    "topic_partitions",
]

log = logging.getLogger(__name__)

AGENT_NAME = "newswatch-processor-articles"
LAG_INTERVAL_SECONDS = 5.0
#: Producer batch per partition (below the broker's default message.max.bytes, 1 MB).
PRODUCER_MAX_BATCH_BYTES = 512 * 1024


class _SeenTable(faust.Table[bytes, bytes]):
    """The table ``processor-seen``: its changelog (chunks of seen keys, :mod:`newswatch.processor.seen`)
    is recovered into :attr:`sink`, not into the table's own store, which stays empty."""

    sink: SeenLog | None = None

    def apply_changelog_batch(self, batch: Iterable[Any]) -> None:
        sink = self.sink
        if sink is None:
            return
        for event in batch:
            message = event.message
            sink.apply(message.partition, message.key, message.value)


class _LogOnlyTable(faust.Table[bytes, bytes]):
    """A table written for its changelog only: recovery keeps nothing (the index reads the changelog)."""

    def apply_changelog_batch(self, batch: Iterable[Any]) -> None:
        return None


def _changelog(table: faust.Table[bytes, bytes], key: str, value: str, partitions: int) -> TopicSpec:
    name: str = table.changelog_topic.get_topic_name()
    return TopicSpec(name, key, value, compacted=True, partitions=partitions)


def _headers(raw: Any) -> Sequence[tuple[str, bytes]]:
    """A record's headers as pairs: aiokafka's own sequence as it is (a null value stays None, which
    ``contracts.header`` reads as empty), a mapping's items otherwise."""
    if not raw:
        return ()
    if isinstance(raw, list | tuple):
        return raw
    items = raw.items() if isinstance(raw, Mapping) else raw
    return [(str(k), bytes(v) if v is not None else b"") for k, v in items]


def build_app(
    settings: Settings,
    runtime: ProcessorRuntime,
    *,
    app_id: str | None = None,
    offset_reset: str = "earliest",
    partitions: int | None = None,
    pool: EnrichPool | None = None,
) -> faust.App:
    """The Faust app with its tables and the raw-article agent (not started).

    ``app_id`` is also the consumer group and the prefix of the changelog topics (default: the
    runtime's). ``offset_reset`` applies to partitions the group has no committed offset for
    (earliest | latest). ``partitions`` is the raw topic's partition count, which the tables must share
    (default: the runtime's). ``pool``: the enrichment processes beside the worker, started and closed by
    the caller (default: none).
    """
    app_id = app_id or runtime.app_id
    partitions = partitions or runtime.partitions
    app = ProcessorApp(
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
        # A batch's outputs (4 KB enriched articles) fit a few producer requests instead of one request
        # round trip per 16 KB (Faust's default batch size).
        producer_max_batch_size=PRODUCER_MAX_BATCH_BYTES,
        producer_max_request_size=4 * PRODUCER_MAX_BATCH_BYTES,
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
    seen = _SeenTable(
        app,
        name=SEEN_TABLE,
        beacon=app.tables.beacon,
        help="chunk id -> article ids processed (newswatch.processor.seen)",
        **table_options,
    )
    seen.sink = runtime.seen
    neardup = _LogOnlyTable(
        app,
        name=TABLE_NAME,
        beacon=app.tables.beacon,
        help="chunk id -> near-duplicate index entries (newswatch.processor.duprecords)",
        extra_topic_configs=changelog_config(settings.neardup_window_seconds),
        **table_options,
    )
    app.tables.add(seen)
    app.tables.add(neardup)
    dedupe = Deduplicator(
        runtime.seen,
        runtime.index,
        _changelog(seen, "chunk id", "seen chunk", partitions),
        _changelog(neardup, "chunk id", "near-duplicate index entries", partitions),
        own=runtime.own_records,
    )
    outputs = FaustOutputs(app, app_id)
    processor = ArticleProcessor(
        runtime.watchlists, runtime.gazetteer, dedupe, outputs, runtime.metrics, runtime.regions, pool
    )
    source = app.topic(ARTICLES_RAW.name, key_type=bytes, value_type=bytes)
    batch_max = settings.processor_batch_max_articles
    batch_wait = settings.processor_batch_max_wait_seconds

    async def articles(stream: Any) -> None:
        runtime.consuming = True
        try:
            async for events in stream.take_events(batch_max, within=batch_wait):
                await processor.process_batch(
                    [RawMessage(e.key, e.value, _headers(e.headers), e.message.partition) for e in events]
                )
                for e in events:
                    runtime.next_offsets[e.message.tp] = e.message.offset + 1
        finally:
            runtime.consuming = False

    async def rebalanced(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        runtime.next_offsets.clear()
        runtime.assigned = True
        mine = sorted(tp.partition for tp in app.consumer.assignment() if tp.topic == ARTICLES_RAW.name)
        log.info("processor partitions assigned", extra={"topic": ARTICLES_RAW.name, "partitions": mine})

    async def measure_lag() -> None:
        consumer = app.consumer
        try:
            mine = [tp for tp in consumer.assignment() if tp.topic == ARTICLES_RAW.name]
            for tp in mine:
                if tp not in runtime.next_offsets:
                    position = await consumer.position(tp)
                    if position is not None:
                        runtime.next_offsets[tp] = position
            highwaters = {tp: consumer.highwater(tp) for tp in mine}
        except (AssertionError, KafkaError) as exc:  # aiokafka asserts assignment; a rebalance is on
            log.debug("consumer lag not measured", extra={"error": repr(exc)})
            return
        runtime.metrics.consumer_lag.set(consumer_lag(highwaters, runtime.next_offsets))

    app.agent(source, name=AGENT_NAME)(articles)
    app.timer(LAG_INTERVAL_SECONDS, name="newswatch-processor-lag")(measure_lag)
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

    Checks the settings it reads files for first (exit code 2 and an error log naming the setting,
    e.g. ``NEWSWATCH_REGIONS_FILE``), then waits for the broker and creates missing topics (exit code 1
    if the broker never answers).
    Blocks the calling thread and owns a fresh event loop; call it from the main thread. ``app_id`` and
    ``offset_reset`` as in :func:`build_app` (tests use a unique group starting at the end).
    Once the gazetteer, matcher and app are built, every object they hold is frozen out of the cyclic
    garbage collector (``gc.freeze``): they live as long as the worker, and collections that walked
    them again cost about a fifth of the worker's CPU per article (``bench/pipeline.py``).
    With ``processor_enrich_processes`` > 0 the enrichment processes are forked after that, before
    Faust starts its threads, and stopped after the worker has stopped
    (:mod:`newswatch.processor.enrichpool`).
    """
    app_id = app_id or settings.processor_group_id
    try:
        region_table(settings)  # a bad file stops the worker before it waits for anything
    except SettingsError as exc:
        log.error("processor cannot start: bad setting %s", exc, extra={"setting": exc.name})
        return 2
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
    runtime = ProcessorRuntime(settings, app_id=app_id, partitions=partitions)
    pool = None
    if settings.processor_enrich_processes:
        pool = EnrichPool(
            settings.processor_enrich_processes,
            runtime.gazetteer,
            runtime.regions,
            runtime.metrics,
        )
    app = build_app(settings, runtime, offset_reset=offset_reset, pool=pool)
    # The gazetteer, matcher and app are built: move their objects out of the collector's sight
    # (they live as long as the worker; every full collection would walk them again).
    gc.collect()
    gc.freeze()
    try:
        if pool is not None:
            try:
                pool.start()  # forked processes share the frozen objects' pages
            except (OSError, RuntimeError) as exc:
                log.error("processor cannot start its enrichment processes", extra={"error": repr(exc)})
                return 1
        return _run(app, runtime, loop, app_id, partitions)
    finally:
        if pool is not None:
            pool.close()


def _run(
    app: faust.App, runtime: ProcessorRuntime, loop: asyncio.AbstractEventLoop, app_id: str, partitions: int
) -> int:
    """Run the Faust worker of ``app`` with the runtime's sidecar until it stops; its exit code."""
    worker = faust.Worker(
        app,
        Sidecar(runtime),
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

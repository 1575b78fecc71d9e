"""The near-duplicate table's changelog, read by every worker into its :class:`NearDupIndex`.

Why a mirror of the whole changelog rather than the table's own partitions: an article and its
syndicated copy have different ids, so they land on different partitions of
``newswatch.articles.raw.v1`` and possibly on different workers. Each worker writes the entries of the
articles it processes to the changelog of the Faust table ``processor-neardup``: one record per batch
and source partition (a chunk of entries, :mod:`newswatch.processor.duprecords`, keyed by a chunk id,
on that partition, so the changelog is partitioned like the source topic; written with the app's
producer once the batch's outputs are acknowledged), and
:class:`IndexFollower` reads every partition of that changelog into the local index — a global table
kept by hand, since Faust's GlobalTable is documented to loop in recovery with several workers.

Records appear in other workers' indexes after the writer's producer flush plus one fetch (well
under a second): two copies processed by two workers within that delay may both be taken as first
(two clusters, two alerts, never a lost one).

The changelog is created here before Faust starts (same name and configuration as Faust would give
it) and deleted after :func:`changelog_config`'s retention, so it stays bounded too (chunk keys are
unique, so compaction only ever folds the per-article records of earlier versions).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer

from newswatch.errors import InvalidMessageError
from newswatch.kafka import (
    BrokerUnavailableError,
    assign_all_partitions,
    cancel_follower,
    caught_up,
    ensure_topics,
    make_consumer,
)
from newswatch.processor.dupindex import WINDOW_SECONDS, NearDupIndex
from newswatch.processor.duprecords import OwnRecords, decode_record
from newswatch.processor.metrics import ProcessorMetrics
from newswatch.settings import Settings
from newswatch.topics import TopicSpec

__all__ = ["TABLE_NAME", "IndexFollower", "changelog_config", "changelog_spec", "changelog_topic"]

log = logging.getLogger(__name__)

TABLE_NAME = "processor-neardup"
_DAY_SECONDS = 24 * 3600
_PRUNE_EVERY_SECONDS = 60.0


def changelog_topic(app_id: str) -> str:
    """The changelog topic Faust derives for the table in app ``app_id``."""
    return f"{app_id}-{TABLE_NAME}-changelog"


def changelog_config(window_seconds: float = WINDOW_SECONDS) -> dict[str, str]:
    """Deleted a day after the index window (bounded); compacted as Faust's changelogs are."""
    return {
        "cleanup.policy": "compact,delete",
        "retention.ms": str(int((window_seconds + _DAY_SECONDS) * 1000)),
        "segment.ms": str(6 * 3600 * 1000),
    }


def changelog_spec(app_id: str, partitions: int, window_seconds: float = WINDOW_SECONDS) -> TopicSpec:
    """The changelog as a topic to create (``window_seconds``: the index window, see changelog_config)."""
    return TopicSpec(
        changelog_topic(app_id),
        "chunk id",
        "near-duplicate index entries (newswatch.processor.duprecords)",
        compacted=True,
        partitions=partitions,
        extra_config=changelog_config(window_seconds),
    )


class IndexFollower:
    """Applies every record of the changelog to ``index``.

    ``start()`` creates the topic if missing and returns once every partition was read to the end it
    had when ``start`` was called (raises BrokerUnavailableError after ``timeout_seconds``); ``follow()``
    then applies later records in a background task until ``stop()`` (idempotent). Records that do not
    parse are logged, counted and skipped; records in ``own`` (written by this process) are skipped.
    """

    def __init__(
        self,
        settings: Settings,
        spec: TopicSpec,
        index: NearDupIndex,
        metrics: ProcessorMetrics,
        clock: Callable[[], float] = time.time,
        own: OwnRecords | None = None,
    ) -> None:
        self._settings = settings
        self._own = own
        self._spec = spec
        self._index = index
        self._metrics = metrics
        self._clock = clock
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self._last_prune = 0.0

    async def start(self, timeout_seconds: float = 120.0) -> None:
        await ensure_topics(self._settings, [self._spec])
        self._consumer = consumer = make_consumer(
            self._settings,
            f"processor-neardup-{uuid.uuid4().hex[:8]}",
            group_id=None,
            isolation_level="read_uncommitted",
        )
        await consumer.start()
        deadline = time.monotonic() + timeout_seconds
        tps = await assign_all_partitions(consumer, self._spec, timeout_seconds)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records = 0
        while not await caught_up(consumer, ends):
            if time.monotonic() > deadline:
                raise BrokerUnavailableError(f"timed out reading {self._spec.name}")
            records += self._apply(await consumer.getmany(timeout_ms=500))
        self._prune()
        log.info(
            "near-duplicate index loaded",
            extra={"topic": self._spec.name, "records": records, "articles": len(self._index)},
        )

    def follow(self) -> None:
        if self._task is None and self._consumer is not None:
            self._task = asyncio.create_task(self._run(self._consumer), name=f"follow-{self._spec.name}")

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        await cancel_follower(self._task, "near-duplicate follower")
        if self._consumer is not None:
            await self._consumer.stop()

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            self._apply(await consumer.getmany(timeout_ms=1000))
            if self._clock() - self._last_prune >= _PRUNE_EVERY_SECONDS:
                self._prune()

    def _apply(self, batch: dict[Any, list[Any]]) -> int:
        now = self._clock()
        applied = 0
        for records in batch.values():
            for record in records:
                applied += 1
                self.apply(record.key, record.value, now)
        return applied

    def apply(self, key: bytes | None, value: bytes | None, now: float) -> None:
        """Apply one changelog record (public for tests): a chunk of entries, an earlier version's
        single entry, or a tombstone (which removes the article an earlier version's key names)."""
        if not key:
            self._invalid("record without key", key)
            return
        if self._own is not None and self._own.take(key):
            return  # written by this process: indexed already
        if value is None:
            self._index.remove(key.decode("utf-8", "replace"))
            return
        try:
            entries = decode_record(key, value)
        except InvalidMessageError as exc:
            self._invalid(str(exc), key)
            return
        add = self._index.add
        for entry in entries:
            add(entry, now)

    def _invalid(self, reason: str, key: bytes | None) -> None:
        self._metrics.neardup_invalid_records.inc()
        shown = (key or b"")[:200].decode("utf-8", "replace")
        log.warning(
            "near-duplicate record skipped",
            extra={"topic": self._spec.name, "key": shown, "reason": reason},
        )

    def _prune(self) -> None:
        now = self._clock()
        self._last_prune = now
        self._index.prune(now)

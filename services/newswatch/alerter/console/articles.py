"""An alert's article text, found on ``newswatch.articles.enriched.v1`` (key = article_id).

An :class:`~newswatch.v1.alert_pb2.Alert` carries the title, the matches with offsets and snippets, but
not the article body. The processor writes the enriched article (with the body) just before the alert,
keyed by the same ``article_id``, so :class:`ArticleLookup` finds it without an index:

1. the partition is the one every producer picks for that key (murmur2, as
   :func:`~newswatch.kafka.key_partition` and the Java clients);
2. the offset is the first record of that partition written at or after the alert's ``created_at``
   minus :data:`LOOKBACK_SECONDS` (``offsets_for_times``), or the partition's last :data:`MAX_RECORDS`
   records when the alert has no ``created_at``;
3. at most :data:`MAX_RECORDS` records are read from there, up to the partition's end as it was when the
   lookup began, within :data:`TIMEOUT_SECONDS` (waiting for a concurrent lookup included); the first
   record with the key wins.

One group-less consumer serves every lookup, one at a time (a lock: lookups are rare, a person opening
an alert). The last :data:`CACHE_SIZE` articles found are kept. Every lookup is counted in
``newswatch_alerter_console_article_lookups_total{outcome}``; a miss, a timeout or a broker error returns
None (the console then shows the alert's snippets), never raises.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from newswatch import contracts, kafka
from newswatch.alerter.metrics import AlerterMetrics
from newswatch.errors import InvalidMessageError
from newswatch.settings import Settings
from newswatch.topics import ARTICLES_ENRICHED
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.enriched_pb2 import EnrichedArticle

__all__ = [
    "CACHE_SIZE",
    "LOOKBACK_SECONDS",
    "MAX_RECORDS",
    "TIMEOUT_SECONDS",
    "ArticleLookup",
    "ArticleSource",
    "partition_for",
]

log = logging.getLogger(__name__)

MAX_RECORDS = 2000
"""Records read at most per lookup."""
TIMEOUT_SECONDS = 5.0
"""A lookup gives up after this long (its wait for the lock included)."""
LOOKBACK_SECONDS = 120.0
"""Start reading this long before the alert's ``created_at`` (clock skew between processor hosts)."""
CACHE_SIZE = 64
"""Articles found recently, kept in memory."""
_FETCH_MS = 500


class ArticleSource(Protocol):
    """Where the console gets an alert's article (a fake in unit tests)."""

    async def find(self, alert: Alert) -> EnrichedArticle | None:
        """The enriched article of ``alert``, or None when not found in time. Never raises."""
        ...


def partition_for(key: bytes, partitions: list[int]) -> int:
    """The partition a producer using the default partitioner writes ``key`` to."""
    return kafka.key_partition(key, sorted(partitions))


class ArticleLookup:
    """:class:`ArticleSource` on the real topic (module docstring). ``start()`` before, ``stop()`` after
    (idempotent)."""

    def __init__(
        self,
        settings: Settings,
        metrics: AlerterMetrics,
        *,
        max_records: int = MAX_RECORDS,
        timeout_seconds: float = TIMEOUT_SECONDS,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._max_records = max_records
        self._timeout = timeout_seconds
        self._lock = asyncio.Lock()
        self._cache: OrderedDict[str, EnrichedArticle] = OrderedDict()
        self._consumer: AIOKafkaConsumer | None = None
        self._partitions: list[int] = []
        self._stopped = False

    async def start(self) -> None:
        consumer = kafka.make_consumer(self._settings, "alerter-articles", group_id=None)
        self._consumer = consumer
        await consumer.start()
        tps = await kafka.assign_all_partitions(consumer, ARTICLES_ENRICHED)
        self._partitions = [tp.partition for tp in tps]

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._consumer is not None:
            async with self._lock:  # a lookup in progress ends first (it is bounded in time)
                await self._consumer.stop()

    async def find(self, alert: Alert) -> EnrichedArticle | None:
        cached = self._cache.get(alert.article_id)
        if cached is not None:
            self._cache.move_to_end(alert.article_id)
            self._count("cached")
            return cached
        if self._consumer is None or self._stopped or not alert.article_id:
            self._count("error")
            return None
        try:
            async with asyncio.timeout(self._timeout), self._lock:
                found = await self._scan(self._consumer, alert)
        except TimeoutError:
            log.info(
                "article lookup timed out",
                extra={"article_id": alert.article_id, "timeout_seconds": self._timeout},
            )
            self._count("timeout")
            return None
        except KafkaError as exc:
            log.warning("article lookup failed", extra={"article_id": alert.article_id, "error": repr(exc)})
            self._count("error")
            return None
        if found is None:
            self._count("not_found")
            return None
        self._count("found")
        self._cache[alert.article_id] = found
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return found

    def _count(self, outcome: str) -> None:
        self._metrics.console_article_lookups.labels(outcome=outcome).inc()

    async def _scan(self, consumer: AIOKafkaConsumer, alert: Alert) -> EnrichedArticle | None:
        key = alert.article_id.encode("utf-8")
        tp = TopicPartition(ARTICLES_ENRICHED.name, partition_for(key, self._partitions))
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        created = contracts.to_datetime(alert.created_at)
        if created is None:
            begin = (await consumer.beginning_offsets([tp]))[tp]
            start = max(begin, end - self._max_records)
        else:
            since_ms = int((created.timestamp() - LOOKBACK_SECONDS) * 1000)
            found = (await consumer.offsets_for_times({tp: max(since_ms, 0)}))[tp]
            if found is None:
                return None  # nothing written since then
            start = found.offset
        consumer.seek(tp, start)
        read = 0
        while read < self._max_records and await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=_FETCH_MS, max_records=200)
            for record in batch.get(tp, ()):
                read += 1
                if record.key != key or record.value is None:
                    continue
                try:
                    return contracts.decode(EnrichedArticle, record.value, record.headers)
                except InvalidMessageError:
                    continue
        return None

"""What the pollers remember about each feed between checks, kept on ``newswatch.poller.state.v1``.

Per feed (:class:`FeedMemory`): the conditional-GET validators and SHA-256 of the last body fully handled,
and the entries already published — 16-byte BLAKE2b digests of ``(article_id, content_sha256)``
(:func:`entry_digest`), oldest first. An entry whose digest is remembered is not published again; an
entry whose content changed has a new digest and is.

Bounded: a feed remembers at most ``max(SEEN_FLOOR, SEEN_PER_BODY * entries in its last body)`` digests,
never more than :data:`SEEN_MAX` (the parser's entry cap), least recently shown first out — the entries of
the last body are the newest — so the whole window a feed shows is always remembered and a record stays
far below Kafka's 1 MB message limit (10,000 × 16 bytes). In memory a feed costs its digests as one
``bytes`` object.

Durable (:class:`PollStateStore`): after a check that published entries or took a new body, the feed's
:class:`~newswatch.v1.poll_state_pb2.PollState` is written to the compacted internal topic, keyed by
``feed_id``; a removed feed gets a tombstone. Before the first check of a feed, the store reads the
state partition holding it (:meth:`PollStateStore.ensure_loaded`, once per partition, concurrent callers
share one read), so a restarted poller — or the poller that takes a feed over after a rebalance — neither
re-parses an unchanged body nor re-publishes what was published. A memory already held is never replaced
by an older record from the topic. Write or read failures are logged and counted; the cost is at most a
re-publish, which the processor de-duplicates by ``article_id``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from newswatch import contracts, kafka
from newswatch.errors import InvalidMessageError
from newswatch.poller.assignment import partition_for
from newswatch.poller.fetcher import Validators
from newswatch.poller.metrics import PollerMetrics
from newswatch.settings import Settings
from newswatch.topics import POLLER_STATE
from newswatch.v1.article_pb2 import Article
from newswatch.v1.poll_state_pb2 import PollState

__all__ = [
    "DIGEST_BYTES",
    "SEEN_FLOOR",
    "SEEN_MAX",
    "FeedMemory",
    "KafkaStateStorage",
    "PollStateStore",
    "StateStorage",
    "entry_digest",
]

log = logging.getLogger(__name__)

DIGEST_BYTES = 16
SEEN_FLOOR = 256
SEEN_PER_BODY = 2
SEEN_MAX = 10_000
LOAD_TIMEOUT_SECONDS = 30.0
WRITE_TIMEOUT_SECONDS = 10.0


def entry_digest(article: Article) -> bytes:
    """The digest remembered for a published article: its id and the hash of the content published."""
    key = f"{article.article_id}\x00{article.content_sha256}".encode("utf-8", "surrogatepass")
    return hashlib.blake2b(key, digest_size=DIGEST_BYTES).digest()


def _split(seen: bytes) -> list[bytes]:
    return [seen[i : i + DIGEST_BYTES] for i in range(0, len(seen) - len(seen) % DIGEST_BYTES, DIGEST_BYTES)]


@dataclass(slots=True)
class FeedMemory:
    """One feed's state; ``seen`` is the concatenated digests, oldest first."""

    validators: Validators | None = None
    body_sha256: str = ""
    seen: bytes = b""

    def to_proto(self, feed_id: str) -> PollState:
        validators = self.validators or Validators()
        return PollState(
            feed_id=feed_id,
            etag=validators.etag or "",
            last_modified=validators.last_modified or "",
            body_sha256=self.body_sha256,
            seen=self.seen,
            updated_at=contracts.timestamp(),
        )

    @classmethod
    def from_proto(cls, state: PollState) -> FeedMemory:
        validators = None
        if state.etag or state.last_modified:
            validators = Validators(state.etag or None, state.last_modified or None)
        seen = state.seen[-SEEN_MAX * DIGEST_BYTES :]
        return cls(validators, state.body_sha256, seen[len(seen) % DIGEST_BYTES :])


class StateStorage:
    """Where :class:`PollStateStore` keeps records; the default keeps nothing (tests, ``check-feed``)."""

    async def write(self, feed_id: str, state: PollState | None) -> None:
        return None

    async def read_partition(self, partition: int) -> dict[str, PollState]:
        """The latest record of every feed in ``partition`` of the state topic."""
        return {}

    async def partition_count(self) -> int:
        return 1


class PollStateStore:
    """Every feed's :class:`FeedMemory` on this poller, loaded from and saved to ``storage``."""

    def __init__(self, metrics: PollerMetrics, storage: StateStorage | None = None) -> None:
        self._metrics = metrics
        self._storage = storage or StateStorage()
        self._memory: dict[str, FeedMemory] = {}
        self._loads: dict[int, asyncio.Task[None]] = {}
        self._partitions: int | None = None

    def get(self, feed_id: str) -> FeedMemory | None:
        return self._memory.get(feed_id)

    def fresh(
        self, feed_id: str, articles: Sequence[Article], digests: Sequence[bytes] | None = None
    ) -> list[Article]:
        """The articles not published before (in order). ``digests``: their :func:`entry_digest` values
        when the caller has them (it passes the same to :meth:`record`), else computed here."""
        memory = self._memory.get(feed_id)
        if memory is None or not memory.seen:
            return list(articles)
        seen = set(_split(memory.seen))
        if digests is None:
            digests = [entry_digest(a) for a in articles]
        return [a for a, d in zip(articles, digests, strict=True) if d not in seen]

    def record(
        self,
        feed_id: str,
        entries: Sequence[Article],
        published: Iterable[Article],
        *,
        body: tuple[Validators, str] | None = None,
        digests: Sequence[bytes] | None = None,
    ) -> None:
        """After handling a body whose articles are ``entries``: remember ``published`` (those Kafka
        acknowledged) and, when given, the body's validators and hash; then prune. The body's remembered
        entries move to the newest end, so pruning drops what left the feed, never what it still shows.
        ``digests``: the entries' :func:`entry_digest` values, as given to :meth:`fresh` (else computed)."""
        memory = self._memory.setdefault(feed_id, FeedMemory())
        if body is not None:
            memory.validators, memory.body_sha256 = body
        if digests is None:
            digests = [entry_digest(a) for a in entries]
        # Published articles are normally entries themselves: their digests are looked up, not recomputed.
        by_entry = {id(a): d for a, d in zip(entries, digests, strict=True)}
        old = _split(memory.seen)
        known = set(old) | {by_entry.get(id(a)) or entry_digest(a) for a in published}
        current = [d for d in dict.fromkeys(digests) if d in known]
        in_body = set(current)
        kept = [d for d in old if d not in in_body] + current
        limit = min(SEEN_MAX, max(SEEN_FLOOR, SEEN_PER_BODY * len(entries)))
        memory.seen = b"".join(kept[-limit:])

    def forget(self, feed_id: str) -> None:
        """Drop a feed this poller no longer checks; its partition is read again if the feed comes back."""
        self._memory.pop(feed_id, None)
        if self._partitions is not None:
            self._loads.pop(partition_for(feed_id, self._partitions), None)

    async def remove(self, feed_id: str) -> None:
        """A feed left the catalogue: forget it here and on the topic (tombstone)."""
        self.forget(feed_id)
        await self._write(feed_id, None)

    async def save(self, feed_id: str) -> None:
        memory = self._memory.get(feed_id)
        if memory is not None:
            await self._write(feed_id, memory.to_proto(feed_id))

    async def _write(self, feed_id: str, state: PollState | None) -> None:
        try:
            await asyncio.wait_for(self._storage.write(feed_id, state), WRITE_TIMEOUT_SECONDS)
        except (Exception, TimeoutError) as exc:  # noqa: BLE001 - any failure costs a re-publish only
            self._metrics.state_writes.labels(outcome="failed").inc()
            log.warning("poll state not written", extra={"feed_id": feed_id, "error": repr(exc)})
        else:
            self._metrics.state_writes.labels(outcome="ok").inc()

    async def ensure_loaded(self, feed_id: str) -> None:
        """Read the state partition holding ``feed_id`` unless it was read already; never raises."""
        if self._partitions is None:
            try:
                self._partitions = await self._storage.partition_count()
            except Exception as exc:  # noqa: BLE001 - without state the feed is checked from scratch
                log.warning("poll state topic not described", extra={"error": repr(exc)})
                return
        partition = partition_for(feed_id, self._partitions)
        task = self._loads.get(partition)
        if task is None:
            task = self._loads[partition] = asyncio.create_task(self._load(partition))
        await asyncio.shield(task)

    async def _load(self, partition: int) -> None:
        started = time.monotonic()
        try:
            records = await asyncio.wait_for(self._storage.read_partition(partition), LOAD_TIMEOUT_SECONDS)
        except (Exception, TimeoutError) as exc:  # noqa: BLE001 - the feeds are checked from scratch
            log.warning("poll state not read", extra={"partition": partition, "error": repr(exc)})
            return
        loaded = 0
        for feed_id, state in records.items():
            if feed_id not in self._memory:
                self._memory[feed_id] = FeedMemory.from_proto(state)
                loaded += 1
        log.info(
            "poll state read",
            extra={
                "partition": partition,
                "feeds": loaded,
                "duration_seconds": round(time.monotonic() - started, 3),
            },
        )


class KafkaStateStorage(StateStorage):
    """:class:`StateStorage` on ``newswatch.poller.state.v1`` through the poller's producer."""

    def __init__(self, settings: Settings, producer: AIOKafkaProducer) -> None:
        self._settings = settings
        self._producer = producer

    async def write(self, feed_id: str, state: PollState | None) -> None:
        delivery: Awaitable[object] = await kafka.publish(self._producer, POLLER_STATE, feed_id, state)
        await delivery

    async def partition_count(self) -> int:
        consumer = kafka.make_consumer(self._settings, "poller-state", group_id=None)
        await consumer.start()
        try:
            return len(await kafka.assign_all_partitions(consumer, POLLER_STATE, LOAD_TIMEOUT_SECONDS))
        finally:
            await consumer.stop()

    async def read_partition(self, partition: int) -> dict[str, PollState]:
        consumer = kafka.make_consumer(self._settings, "poller-state", group_id=None)
        await consumer.start()
        try:
            return await _read(consumer, TopicPartition(POLLER_STATE.name, partition))
        finally:
            await consumer.stop()


async def _read(consumer: AIOKafkaConsumer, tp: TopicPartition) -> dict[str, PollState]:
    """Latest value per key of one state partition, from its beginning to its current end."""
    consumer.assign([tp])
    ends = await consumer.end_offsets([tp])
    if not ends[tp]:
        return {}
    await consumer.seek_to_beginning(tp)
    found: dict[str, PollState] = {}
    while not await kafka.caught_up(consumer, ends):
        batch = await consumer.getmany(timeout_ms=500)
        for records in batch.values():
            for record in records:
                key = record.key.decode("utf-8", "replace") if record.key else ""
                if not key:
                    continue
                if record.value is None:
                    found.pop(key, None)
                    continue
                try:
                    found[key] = contracts.decode(PollState, record.value, record.headers)
                except InvalidMessageError as exc:
                    log.warning("poll state record skipped", extra={"feed_id": key, "error": str(exc)})
    return found

"""Kafka clients built one way: producer and consumer factories, topic creation, compacted views.

Producers are idempotent with ``acks=all``. Consumers never auto-commit: each service commits once the
outcome of a message is durable. :func:`ensure_topics` creates missing topics and is safe to run from
every service at start-up.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.partitioner import DefaultPartitioner
from google.protobuf.message import Message
from newswatch_native import murmur2

from newswatch import contracts
from newswatch.errors import InvalidMessageError, NewswatchError
from newswatch.settings import Settings
from newswatch.topics import ALL_TOPICS, TopicSpec

__all__ = [
    "PARTITIONER_CACHE_SIZE",
    "BrokerUnavailableError",
    "CachedPartitioner",
    "CompactedView",
    "assign_all_partitions",
    "cancel_follower",
    "caught_up",
    "ensure_topics",
    "key_partition",
    "make_consumer",
    "make_producer",
    "publish",
    "read_compacted",
    "seek_to_tail",
    "wait_for_broker",
]

log = logging.getLogger(__name__)
M = TypeVar("M", bound=Message)


class BrokerUnavailableError(NewswatchError):
    """No Kafka broker answered at the configured bootstrap address."""

    retriable = True


PARTITIONER_CACHE_SIZE = 8192


def key_partition(key: bytes, partitions: Sequence[int]) -> int:
    """The partition the default partitioner gives ``key`` among ``partitions`` (all of the topic's, in
    the order the cluster metadata lists them): ``murmur2`` of the key as the Java clients, compiled
    (``newswatch_native.murmur2``, equal to aiokafka's pure-Python one)."""
    return partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]


class CachedPartitioner:
    """aiokafka's default partitioner — murmur2 of the key, as the Java clients, so a key lands where
    every other client puts it; a random available partition for no key — with the hashes of the last
    :data:`PARTITIONER_CACHE_SIZE` keys kept (services produce several records per key: one alert,
    several deliveries)."""

    def __init__(self, size: int = PARTITIONER_CACHE_SIZE) -> None:
        self._size = size
        self._hashes: dict[bytes, int] = {}

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        if key is None:
            return int(DefaultPartitioner()(key, all_partitions, available))
        hashed = self._hashes.get(key)
        if hashed is None:
            hashed = murmur2(key) & 0x7FFFFFFF
            if len(self._hashes) >= self._size:
                del self._hashes[next(iter(self._hashes))]  # the oldest key
            self._hashes[key] = hashed
        return all_partitions[hashed % len(all_partitions)]


def make_producer(settings: Settings, role: str, **overrides: Any) -> AIOKafkaProducer:
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": f"{settings.kafka_client_id}-{role}",
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "compression_type": None,
        "max_request_size": 4 * 1024 * 1024,
        "partitioner": CachedPartitioner(),
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


def make_consumer(
    settings: Settings, role: str, *topics: str, group_id: str | None, **overrides: Any
) -> AIOKafkaConsumer:
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": f"{settings.kafka_client_id}-{role}",
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
        "max_poll_records": 500,
    }
    options.update(overrides)
    return AIOKafkaConsumer(*topics, **options)


async def publish(
    producer: AIOKafkaProducer,
    topic: TopicSpec,
    key: str,
    message: Message | None,
    extra_headers: Iterable[tuple[str, bytes]] = (),
) -> Awaitable[Any]:
    """Queue ``message`` (None = tombstone) on ``topic``; returns the delivery future to await."""
    if message is None:
        value: bytes | None = None
        headers = list(extra_headers)
    else:
        value, headers = contracts.encode(message, extra_headers)
    fut: Awaitable[Any] = await producer.send(topic.name, value=value, key=key.encode(), headers=headers)
    return fut


async def wait_for_broker(settings: Settings, timeout_seconds: float = 30.0) -> None:
    """Return once a broker answers a metadata request; raise BrokerUnavailableError after the timeout."""
    deadline = time.monotonic() + timeout_seconds
    last: Exception | None = None
    while time.monotonic() < deadline:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=settings.bootstrap_servers,
            client_id=f"{settings.kafka_client_id}-probe",
            request_timeout_ms=5000,
        )
        try:
            await admin.start()
            await admin.list_topics()
            return
        except (KafkaError, OSError) as exc:
            last = exc
            await asyncio.sleep(0.5)
        finally:
            await admin.close()
    raise BrokerUnavailableError(
        f"no Kafka broker answered at {settings.kafka_bootstrap} within {timeout_seconds:g}s: {last!r}"
    )


async def ensure_topics(settings: Settings, specs: Iterable[TopicSpec] = ALL_TOPICS) -> list[str]:
    """Create the topics that do not exist yet; return the names created. Idempotent."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers, client_id=f"{settings.kafka_client_id}-admin"
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        created: list[str] = []
        for spec in missing:
            new = NewTopic(
                spec.name,
                num_partitions=spec.partitions or settings.topic_partitions,
                replication_factor=settings.topic_replication_factor,
                topic_configs=spec.config(),
            )
            try:
                await admin.create_topics([new])
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass  # another service created it first
        if created:
            log.info("topics created", extra={"topics": created})
        return created
    finally:
        await admin.close()


async def assign_all_partitions(
    consumer: AIOKafkaConsumer, topic: TopicSpec, timeout_seconds: float = 30.0
) -> list[TopicPartition]:
    """Assign every partition of ``topic`` to a group-less consumer; return them, sorted.

    A consumer knows a topic's partitions only after a metadata refresh that names it, so this asks
    for one until the topic shows up (BrokerUnavailableError after the timeout: not created?).
    """
    deadline = time.monotonic() + timeout_seconds
    partitions = consumer.partitions_for_topic(topic.name)
    while not partitions:
        if time.monotonic() > deadline:
            raise BrokerUnavailableError(f"topic {topic.name} has no partitions (not created?)")
        await consumer._client.force_metadata_update()  # aiokafka has no public call for this
        partitions = consumer.partitions_for_topic(topic.name)
        if not partitions:
            await asyncio.sleep(0.2)
    tps = [TopicPartition(topic.name, p) for p in sorted(partitions)]
    consumer.assign(tps)
    return tps


async def caught_up(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    """True once the consumer's position reached ``ends`` on every partition."""
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True


async def seek_to_tail(
    consumer: AIOKafkaConsumer, tps: Iterable[TopicPartition], per_partition: int
) -> dict[TopicPartition, int]:
    """Seek each of ``tps`` to its end offset minus ``per_partition`` (never before the first retained
    offset; ``per_partition <= 0`` = the end). Returns the end offsets seen, to read up to with
    :func:`caught_up`."""
    tps = list(tps)
    ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
    begins: dict[TopicPartition, int] = await consumer.beginning_offsets(tps)
    for tp in tps:
        consumer.seek(tp, max(begins[tp], ends[tp] - max(per_partition, 0)))
    return ends


async def read_compacted(
    settings: Settings, topic: TopicSpec, message_type: type[M], timeout_seconds: float = 30.0
) -> dict[str, M]:
    """Read a compacted topic from the beginning to its current end: the latest value per key."""
    view = CompactedView(settings, topic, message_type, role="reader")
    await view.start(timeout_seconds)
    try:
        return dict(view.items)
    finally:
        await view.stop()


class CompactedView(Generic[M]):
    """An in-memory copy of a compacted topic (latest value per key), kept up to date.

    ``start()`` returns once every partition has been read to the end offset it had when ``start`` was
    called. ``follow()`` then applies later changes until ``stop()``. Tombstones remove keys; messages that
    do not decode are logged, counted in ``invalid`` and skipped. Not thread-safe; one event loop.
    """

    def __init__(
        self,
        settings: Settings,
        topic: TopicSpec,
        message_type: type[M],
        role: str,
        on_change: Callable[[str, M | None], None] | None = None,
    ) -> None:
        self.items: dict[str, M] = {}
        self.invalid = 0
        self._topic = topic
        self._type = message_type
        self._on_change = on_change
        self._consumer = make_consumer(
            settings,
            f"{role}-view-{uuid.uuid4().hex[:8]}",
            group_id=None,
            isolation_level="read_uncommitted",
        )
        self._task: asyncio.Task[None] | None = None
        self._started = False
        self._stopped = False

    async def start(self, timeout_seconds: float = 30.0) -> None:
        await self._consumer.start()
        self._started = True
        deadline = time.monotonic() + timeout_seconds
        tps = await assign_all_partitions(self._consumer, self._topic, timeout_seconds)
        await self._consumer.seek_to_beginning(*tps)
        ends = await self._consumer.end_offsets(tps)
        while not await caught_up(self._consumer, ends):
            if time.monotonic() > deadline:
                raise BrokerUnavailableError(f"timed out reading {self._topic.name}")
            batch = await self._consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    self._apply(record)

    def _apply(self, record: Any) -> None:
        key = record.key.decode("utf-8", "replace") if record.key else ""
        if not key:
            self.invalid += 1
            return
        if record.value is None:
            self.items.pop(key, None)
            if self._on_change:
                self._on_change(key, None)
            return
        try:
            message = contracts.decode(self._type, record.value, record.headers)
        except InvalidMessageError as exc:
            self.invalid += 1
            log.warning(
                "skipping invalid message",
                extra={"topic": self._topic.name, "offset": record.offset, "reason": str(exc)},
            )
            return
        self.items[key] = message
        if self._on_change:
            self._on_change(key, message)

    def follow(self) -> None:
        """Apply later changes in a background task until ``stop()``."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"follow-{self._topic.name}")

    async def _run(self) -> None:
        while True:
            batch = await self._consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    self._apply(record)

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        await cancel_follower(self._task, "compacted view")
        if self._started:
            await self._consumer.stop()


async def cancel_follower(task: asyncio.Task[None] | None, what: str) -> None:
    """Cancel a task that follows a topic and wait for it; a Kafka error it ended with is logged."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    except KafkaError as exc:
        log.warning("%s stopped with error", what, extra={"error": repr(exc)})

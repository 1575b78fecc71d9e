"""Fakes for the poller's seams (Fetcher, Publisher, the aiokafka producer's send)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from newswatch.errors import FetchError
from newswatch.poller.assignment import partition_for
from newswatch.poller.fetcher import ACCEPT, FetchResult, Validators
from newswatch.poller.publisher import PublishReport
from newswatch.poller.state import StateStorage
from newswatch.v1.article_pb2 import Article
from newswatch.v1.poll_state_pb2 import PollState


class FakeFetcher:
    """Returns scripted results (or raises scripted errors) in order; records the validators and the
    Accept header it got."""

    def __init__(self, *script: FetchResult | FetchError) -> None:
        self.script = list(script)
        self.calls: list[tuple[str, Validators | None]] = []
        self.accepts: list[str] = []
        self.closed = False

    async def fetch(
        self, url: str, validators: Validators | None = None, *, accept: str = ACCEPT
    ) -> FetchResult:
        self.calls.append((url, validators))
        self.accepts.append(accept)
        item = self.script.pop(0)
        if isinstance(item, FetchError):
            raise item
        return item

    async def close(self) -> None:
        self.closed = True


def ok(body: bytes, etag: str | None = None, url: str = "https://f.example/feed") -> FetchResult:
    return FetchResult(url, url, 200, body, False, Validators(etag, None), "application/rss+xml", len(body))


def not_modified(url: str = "https://f.example/feed") -> FetchResult:
    return FetchResult(url, url, 304, b"", True, Validators(), None, 0)


class FakePublisher:
    """Acknowledges every article, except that the next ``fail_times`` calls acknowledge none."""

    def __init__(self, fail_times: int = 0) -> None:
        self.batches: list[tuple[str, list[Article]]] = []
        self.fail_times = fail_times

    async def publish(self, feed_id: str, articles: Sequence[Article]) -> PublishReport:
        if self.fail_times:
            self.fail_times -= 1
            return PublishReport([], failed=len(articles))
        self.batches.append((feed_id, list(articles)))
        return PublishReport(list(articles))


class MemoryStateStorage(StateStorage):
    """Poll-state records in a dict, as a topic with ``partitions`` partitions would hold them."""

    def __init__(self, partitions: int = 3) -> None:
        self.records: dict[str, PollState] = {}
        self.partitions = partitions
        self.reads: list[int] = []
        self.fail_writes = False

    async def write(self, feed_id: str, state: PollState | None) -> None:
        if self.fail_writes:
            raise RuntimeError("broker unavailable")
        if state is None:
            self.records.pop(feed_id, None)
        else:
            self.records[feed_id] = state

    async def partition_count(self) -> int:
        return self.partitions

    async def read_partition(self, partition: int) -> dict[str, PollState]:
        self.reads.append(partition)
        return {k: v for k, v in self.records.items() if partition_for(k, self.partitions) == partition}


class FakeProducer:
    """Enough of AIOKafkaProducer for kafka.publish: send() returns a delivery future."""

    def __init__(self, fail_keys: frozenset[bytes] = frozenset()) -> None:
        self.sent: list[tuple[str, bytes, bytes | None, list[tuple[str, bytes]]]] = []
        self.fail_keys = fail_keys

    async def send(self, topic: str, value: bytes | None, key: bytes, headers: list[tuple[str, bytes]]):
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        if key in self.fail_keys:
            future.set_exception(RuntimeError("not acknowledged"))
        else:
            self.sent.append((topic, key, value, headers))
            future.set_result(object())
        return future

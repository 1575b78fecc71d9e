"""Fakes for the poller's seams (Fetcher, Publisher, the aiokafka producer's send)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from newswatch.errors import FetchError
from newswatch.poller.fetcher import FetchResult, Validators
from newswatch.poller.publisher import PublishError
from newswatch.v1.article_pb2 import Article


class FakeFetcher:
    """Returns scripted results (or raises scripted errors) in order; records the validators it got."""

    def __init__(self, *script: FetchResult | FetchError) -> None:
        self.script = list(script)
        self.calls: list[tuple[str, Validators | None]] = []
        self.closed = False

    async def fetch(self, url: str, validators: Validators | None = None) -> FetchResult:
        self.calls.append((url, validators))
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
    def __init__(self, fail_times: int = 0) -> None:
        self.batches: list[tuple[str, list[Article]]] = []
        self.fail_times = fail_times
        self.forgotten: list[str] = []

    async def publish(self, feed_id: str, articles: Sequence[Article]) -> int:
        if self.fail_times:
            self.fail_times -= 1
            raise PublishError("broker unavailable", retriable=True)
        self.batches.append((feed_id, list(articles)))
        return len(articles)

    def forget(self, feed_id: str) -> None:
        self.forgotten.append(feed_id)


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

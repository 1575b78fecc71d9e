"""What the processing step reads and writes, on the wire: a raw message as consumed
(:class:`RawMessage`) and its decoding (:func:`_decode`), the records to write (:class:`Outgoing`:
an encoded message, :func:`_encoded`, or a dead letter with the DLQ headers, :func:`_dead_letter`),
and the :class:`Outputs` protocol that writes them. Pure apart from ``Outputs`` implementations.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from newswatch import contracts
from newswatch.errors import InvalidMessageError
from newswatch.replay import REPLAY_HEADER
from newswatch.topics import ARTICLES_RAW_DLQ, TopicSpec
from newswatch.v1.article_pb2 import Article

__all__ = ["DLQ_ERROR_HEADER", "DLQ_REASON_HEADER", "Outgoing", "Outputs", "RawMessage"]

DLQ_REASON_HEADER = "newswatch-dlq-reason"
DLQ_ERROR_HEADER = "newswatch-dlq-error"
_MAX_ERROR_BYTES = 1000


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One record to write. ``partition`` None = by key (the producer's partitioner)."""

    topic: TopicSpec
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = ()
    partition: int | None = None


class Outputs(Protocol):
    """Where the processor writes. ``publish`` queues records (in order per partition) and returns one
    awaitable that completes once every one of them is acknowledged, raising the first failure; it may
    wait while the producer's buffer is full (backpressure)."""

    async def publish(self, records: Sequence[Outgoing]) -> Awaitable[Any]: ...


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One record of ``newswatch.articles.raw.v1`` as consumed (``partition`` is its source partition)."""

    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]
    partition: int = 0


@dataclass(frozen=True, slots=True)
class _Decoded:
    """A message as decoded: its article and seen key, or the reason it is invalid (``error``)."""

    message: RawMessage
    started: float
    article: Article | None = None
    seen_key: str = ""
    error: str = ""


def _decode(message: RawMessage, started: float) -> _Decoded:
    """The message's article and seen key, or why it goes to the DLQ."""
    value, headers = message.value, message.headers
    try:
        article = contracts.decode(Article, value, headers)
        if not article.article_id:
            raise InvalidMessageError("article_id is empty")
    except InvalidMessageError as exc:
        return _Decoded(message, started, error=str(exc))
    # A replayed article (`newswatch replay`) is examined again once per replay id; alert ids stay
    # derived from (cluster, watch list), so subscribers are not told twice about the same alert.
    replay = contracts.header(headers, REPLAY_HEADER)
    seen_key = article.article_id if replay is None else f"{article.article_id}@replay:{replay}"
    return _Decoded(message, started, article, seen_key)


def _dead_letter(message: RawMessage, reason: str, error: str) -> Outgoing:
    """The message as received, for the DLQ: its headers with ``reason`` and ``error`` (cut to
    ``_MAX_ERROR_BYTES``) in place of any earlier ones."""
    kept = [(k, v) for k, v in message.headers if k not in (DLQ_REASON_HEADER, DLQ_ERROR_HEADER)]
    kept.append((DLQ_REASON_HEADER, reason.encode()))
    kept.append((DLQ_ERROR_HEADER, error.encode("utf-8", "replace")[:_MAX_ERROR_BYTES]))
    return Outgoing(ARTICLES_RAW_DLQ, message.key, message.value, kept)


def _encoded(topic: TopicSpec, key: bytes, message: Any) -> Outgoing:
    value, headers = contracts.encode(message)
    return Outgoing(topic, key, value, headers)

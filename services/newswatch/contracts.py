"""Encoding and decoding of Kafka message values: protobuf bytes plus a ``content-type`` header.

Header: ``content-type: application/x-protobuf; messageType=newswatch.v1.Article``. Decoding checks
the header names the expected type and raises :class:`~newswatch.errors.InvalidMessageError` (not
retriable) when it does not, or when the bytes do not parse.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp

from newswatch.errors import InvalidMessageError

__all__ = [
    "CONTENT_TYPE_HEADER",
    "Headers",
    "content_type_for",
    "decode",
    "encode",
    "header",
    "timestamp",
    "to_datetime",
]

CONTENT_TYPE_HEADER = "content-type"
Headers = Sequence[tuple[str, bytes]]
M = TypeVar("M", bound=Message)


def content_type_for(message_type: type[Message] | Message) -> str:
    name = message_type.DESCRIPTOR.full_name
    return f"application/x-protobuf; messageType={name}"


def encode(
    message: Message, extra: Iterable[tuple[str, bytes]] = ()
) -> tuple[bytes, list[tuple[str, bytes]]]:
    """Serialise ``message``; return (value, headers) with the content-type header first."""
    headers = [(CONTENT_TYPE_HEADER, content_type_for(message).encode()), *extra]
    return message.SerializeToString(deterministic=True), headers


def header(headers: Headers | None, name: str) -> str | None:
    """The first header called ``name`` (case-insensitive), decoded as UTF-8."""
    for key, value in headers or ():
        if key.lower() == name:
            return value.decode("utf-8", "replace") if value is not None else ""
    return None


def decode(message_type: type[M], value: bytes | None, headers: Headers | None) -> M:
    """Parse ``value`` as ``message_type``, checking the content-type header first."""
    expected = content_type_for(message_type)
    got = header(headers, CONTENT_TYPE_HEADER)
    if got is None:
        raise InvalidMessageError(f"missing {CONTENT_TYPE_HEADER} header, expected {expected}")
    if got.replace(" ", "") != expected.replace(" ", ""):
        raise InvalidMessageError(f"content-type is {got!r}, expected {expected!r}")
    if value is None:
        raise InvalidMessageError("empty value")
    message = message_type()
    try:
        message.ParseFromString(value)
    except DecodeError as exc:
        raise InvalidMessageError(
            f"value is not a valid {message_type.DESCRIPTOR.full_name}: {exc}"
        ) from None
    return message


def timestamp(when: datetime | None = None) -> Timestamp:
    """A protobuf Timestamp for ``when`` (default: now, UTC, to the nanosecond)."""
    if when is None:  # a third of the cost of converting a datetime (several per processed article)
        now = time.time_ns()
        return Timestamp(seconds=now // 1_000_000_000, nanos=now % 1_000_000_000)
    ts = Timestamp()
    ts.FromDatetime(when.astimezone(UTC))
    return ts


def to_datetime(ts: Timestamp) -> datetime | None:
    """A timezone-aware datetime, or None for an unset Timestamp."""
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    return ts.ToDatetime(tzinfo=UTC)

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newswatch import contracts
from newswatch.errors import InvalidMessageError
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.article_pb2 import Article


def test_roundtrip_carries_the_type_header() -> None:
    article = Article(article_id="a1", title="Palmyre", published_at=contracts.timestamp())
    value, headers = contracts.encode(article)
    assert headers[0] == ("content-type", b"application/x-protobuf; messageType=newswatch.v1.Article")
    assert contracts.decode(Article, value, headers) == article


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ([], "missing content-type"),
        ([("content-type", b"application/json")], "expected"),
        ([("content-type", b"application/x-protobuf; messageType=newswatch.v1.Alert")], "expected"),
    ],
)
def test_wrong_headers_are_invalid(headers: list[tuple[str, bytes]], fragment: str) -> None:
    value, _ = contracts.encode(Article(article_id="x"))
    with pytest.raises(InvalidMessageError, match=fragment):
        contracts.decode(Article, value, headers)


def test_garbage_bytes_are_invalid_not_a_crash() -> None:
    _, headers = contracts.encode(Alert())
    with pytest.raises(InvalidMessageError):
        contracts.decode(Alert, b"\xff\xff\xff\xff", headers)


@given(st.binary(max_size=512))
def test_decode_never_raises_anything_else(data: bytes) -> None:
    _, headers = contracts.encode(Article())
    with contextlib.suppress(InvalidMessageError):
        contracts.decode(Article, data, headers)


def test_timestamps() -> None:
    when = datetime(2016, 4, 3, 12, 0, tzinfo=UTC)
    assert contracts.to_datetime(contracts.timestamp(when)) == when
    assert contracts.to_datetime(Article().published_at) is None
    before = datetime.now(UTC)
    now = contracts.to_datetime(contracts.timestamp())
    assert now is not None and before <= now <= datetime.now(UTC)
    assert 0 <= contracts.timestamp().nanos < 1_000_000_000

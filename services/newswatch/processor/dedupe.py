"""De-duplication: articles already processed, and exact copies of an article under another id.

:class:`Deduplicator` works over two byte-keyed stores — Faust tables (with changelogs) in the worker,
plain dicts in tests:

- ``seen``: article_id → processed-at timestamp. An article whose id is in it produces nothing.
- ``content``: content fingerprint → article_id of the first article with that text. A later article
  with the same fingerprint gets ``duplicate_of`` = that id (it is still enriched and may alert; the
  alert carries ``duplicate_cluster_id`` so subscribers can fold copies together).

Both tables are written while processing the article, so their changelog records land on the source
partition: the seen table is exact (keyed like the source topic); the content table is best-effort
across partitions owned by different workers. Near-duplicate detection belongs behind the same API.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Protocol

from newswatch.v1.article_pb2 import Article

__all__ = ["ByteStore", "Deduplicator", "fingerprint"]


class ByteStore(Protocol):
    """The part of a mapping (dict, Faust Table) the de-duplicator uses."""

    def get(self, key: bytes, /) -> bytes | None: ...

    def __setitem__(self, key: bytes, value: bytes, /) -> None: ...


def fingerprint(article: Article) -> str:
    """The article's ``content_sha256``, else a sha256 of its title, summary and content; "" if empty."""
    if article.content_sha256:
        return article.content_sha256.lower()
    if not (article.title or article.summary or article.content):
        return ""
    text = "\x00".join((article.title.strip(), article.summary.strip(), article.content.strip()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Deduplicator:
    """Decisions over the two stores; call :meth:`mark` only once the article's outputs are durable."""

    def __init__(self, seen: ByteStore, content: ByteStore) -> None:
        self._seen = seen
        self._content = content

    def seen(self, article_id: str) -> bool:
        return self._seen.get(article_id.encode("utf-8")) is not None

    def duplicate_of(self, article: Article) -> str:
        """The id of an earlier article with the same text, or ""."""
        fp = fingerprint(article)
        if not fp:
            return ""
        first = self._content.get(fp.encode("ascii"))
        if first is None:
            return ""
        first_id = first.decode("utf-8", "replace")
        return "" if first_id == article.article_id else first_id

    def mark(self, article: Article, now: datetime | None = None, seen_key: str | None = None) -> None:
        """Record the article (under ``seen_key``, default its id) as processed, and as its
        fingerprint's first article if it is."""
        stamp = (now or datetime.now(UTC)).isoformat().encode("ascii")
        self._seen[(seen_key or article.article_id).encode("utf-8")] = stamp
        fp = fingerprint(article)
        if fp and self._content.get(fp.encode("ascii")) is None:
            self._content[fp.encode("ascii")] = article.article_id.encode("utf-8")

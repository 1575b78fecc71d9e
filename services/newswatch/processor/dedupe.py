"""De-duplication: articles already processed, and copies of an earlier article (exact or near).

:class:`Deduplicator` answers two questions for :class:`~newswatch.processor.agents.ArticleProcessor`:

- **seen** — was this article_id (or replay key) processed before? A bounded
  :class:`~newswatch.processor.seen.SeenLog` (the Faust table ``processor-seen``'s content, partitioned
  like the source topic, so exact within its bound).
- **which cluster** — is the article a copy of an earlier one? :meth:`assess` looks the article up in
  the :class:`~newswatch.processor.dupindex.NearDupIndex` (shared by all workers, see
  :mod:`newswatch.processor.duplog`): by MinHash signature when the text is long enough
  (:mod:`newswatch.processor.neardup`), else by exact content fingerprint. The answer is the cluster
  id (the first article's id; the article's own id when it is the first), ``duplicate_of`` (empty when
  first) and the watch lists other members of the cluster already alerted for.

Then, in this order: :meth:`remember` puts the article in the local index at once (so that a copy
later in the same batch finds it), the caller publishes its outputs and waits for them, and
:meth:`commit` records the batch's articles as seen and returns the changelog records that make it
durable (per source partition one seen chunk and one chunk of near-duplicate entries,
:mod:`newswatch.processor.duprecords`), which the caller writes. A crash before they are written
means the articles are consumed again; an article's own entry, if it got that far, only keeps its
cluster stable and never suppresses its own alerts. Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from newswatch.processor.dupindex import Entry, NearDupIndex
from newswatch.processor.duprecords import OwnRecords, encode_chunks
from newswatch.processor.neardup import article_text, signature
from newswatch.processor.seen import ChunkIds, SeenLog
from newswatch.topics import TopicSpec
from newswatch.v1.article_pb2 import Article

__all__ = ["Assessment", "Deduplicator", "Done", "Record", "fingerprint"]


@dataclass(frozen=True, slots=True)
class Record:
    """A changelog record to write on a given partition (``value`` None = tombstone)."""

    topic: TopicSpec
    partition: int
    key: bytes
    value: bytes | None


@dataclass(frozen=True, slots=True)
class Done:
    """An article whose outputs were acknowledged: its index entry, source partition and seen key."""

    entry: Entry
    partition: int
    seen_key: str


def fingerprint(article: Article) -> str:
    """The article's ``content_sha256``, else a sha256 of its title, summary and content; "" if empty."""
    if article.content_sha256:
        return article.content_sha256.lower()
    if not (article.title or article.summary or article.content):
        return ""
    text = "\x00".join((article.title.strip(), article.summary.strip(), article.content.strip()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Assessment:
    """What the index says about one article (see :meth:`Deduplicator.assess`)."""

    article_id: str
    cluster_id: str  # the first article's id; article_id when this one is the first
    match: str  # "" (first of its kind) | self (seen before under this id) | exact | similar
    similarity: float
    already_alerted: frozenset[str]  # watch lists other members of the cluster alerted for
    fingerprint: bytes
    signature: bytes

    @property
    def duplicate_of(self) -> str:
        """The EnrichedArticle field: the cluster's first article, empty when this is it."""
        return "" if self.cluster_id == self.article_id else self.cluster_id


class Deduplicator:
    """Decisions over the seen store and the near-duplicate index; see the module docstring."""

    def __init__(
        self,
        seen: SeenLog,
        index: NearDupIndex,
        seen_topic: TopicSpec,
        index_topic: TopicSpec,
        clock: Callable[[], float] = time.time,
        own: OwnRecords | None = None,
    ) -> None:
        """``seen_topic`` / ``index_topic``: the changelogs of the seen set and of the index; ``own``:
        where the keys of the index records returned by :meth:`commit` are noted (the follower of the
        index changelog then skips them)."""
        self._own = own
        self._seen = seen
        self._index = index
        self._seen_topic = seen_topic
        self._index_topic = index_topic
        self._clock = clock
        self._chunk_ids = ChunkIds()

    def seen(self, key: str) -> bool:
        return key in self._seen

    def assess(self, article: Article, sig: bytes | None = None) -> Assessment:
        """The article's cluster and the watch lists already alerted for in it (pure lookup).
        ``sig``: its near-duplicate signature if computed already (``b""``: too short for one)."""
        digest = _digest(fingerprint(article))
        if sig is None:
            sig = signature(article_text(article)) or b""
        found = self._index.find(article.article_id, digest, sig, self._clock())
        cluster = found.cluster_id if found is not None else article.article_id
        return Assessment(
            article_id=article.article_id,
            cluster_id=cluster,
            match=found.kind if found is not None else "",
            similarity=found.similarity if found is not None else 0.0,
            already_alerted=self._index.alerted(cluster, exclude=article.article_id),
            fingerprint=digest,
            signature=sig,
        )

    def remember(self, assessment: Assessment, alerted: Iterable[str]) -> Entry:
        """Index the article locally now (its alerts for ``alerted`` are about to be published) and
        return the entry to :meth:`commit` (a copy: the index's own may change meanwhile)."""
        now = self._clock()
        known = self._index.get(assessment.article_id)
        entry = Entry(
            article_id=assessment.article_id,
            first_seen=min(now, known.first_seen) if known is not None else now,
            fingerprint=assessment.fingerprint,
            signature=assessment.signature,
            cluster_id=assessment.duplicate_of,
            alerted=frozenset(alerted),
        )
        if entry.fingerprint or entry.signature:
            self._index.add(replace(entry), now)
        return entry

    def commit(self, done: Sequence[Done]) -> list[Record]:
        """Record acknowledged articles as seen; return the changelog records to write, per source
        partition: one seen chunk (and tombstones of forgotten ones), then one index chunk holding the
        entries of its articles that have a fingerprint or a signature (more if it would be too big)."""
        by_partition: dict[int, list[Done]] = {}
        for item in done:
            by_partition.setdefault(item.partition, []).append(item)
        records: list[Record] = []
        for partition, items in by_partition.items():
            seen = self._seen.add(partition, [item.seen_key for item in items])
            records += [Record(self._seen_topic, partition, key, value) for key, value in seen]
            indexed = [item.entry for item in items if item.entry.fingerprint or item.entry.signature]
            for value in encode_chunks(indexed):
                key = self._chunk_ids.next()
                if self._own is not None:
                    self._own.add(key)
                records.append(Record(self._index_topic, partition, key, value))
        return records


def _digest(fp: str) -> bytes:
    """16 bytes identifying a fingerprint (its first bytes when it is a hex digest); b"" for none."""
    if not fp:
        return b""
    try:
        raw = bytes.fromhex(fp)
    except ValueError:
        raw = b""
    return raw[:16] if len(raw) >= 16 else hashlib.sha256(fp.encode("utf-8")).digest()[:16]

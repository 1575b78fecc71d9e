"""The near-duplicate index: every recent article's signature, cluster and alerted watch lists, in memory.

One :class:`Entry` per article, stored in records of the Faust table ``processor-neardup`` (its
changelog is the durable copy, see :mod:`newswatch.processor.duplog`; record format in
:mod:`newswatch.processor.duprecords`) and mirrored here by every worker, whichever partition the
article came from. An entry is reachable by:

- its LSH band keys (:func:`newswatch.processor.neardup.band_keys`), at most :data:`MAX_BUCKET_ENTRIES`
  entries per key — the oldest ones, which are the ones a cluster should point to;
- its content fingerprint, for texts too short for a signature (exact copies only).

A cluster is named after its first article (``cluster_id`` = that article's id; an entry's own
``cluster_id`` is empty when it is the first). :meth:`NearDupIndex.alerted` tells which watch lists some
other member of a cluster already alerted for.

Bounded: entries first seen more than :data:`WINDOW_SECONDS` ago are dropped, and beyond
:data:`MAX_ENTRIES` the oldest go first (about 1.2 KB of memory per entry, so ~120 MB at the cap).
Not thread-safe; one event loop.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from newswatch.processor.neardup import SIMILARITY_THRESHOLD, band_keys, similarity

__all__ = [
    "MAX_BUCKET_ENTRIES",
    "MAX_ENTRIES",
    "WINDOW_SECONDS",
    "Entry",
    "Match",
    "NearDupIndex",
]

#: Articles are compared with those first seen within this window (syndication happens within days).
WINDOW_SECONDS = 7 * 24 * 3600.0
#: Hard bound on indexed articles, whatever the window holds (the oldest are evicted first).
MAX_ENTRIES = 100_000
#: Entries kept per LSH bucket. Crowded buckets come from text many articles share; keeping the oldest
#: keeps the clusters' first articles reachable.
MAX_BUCKET_ENTRIES = 8


@dataclass(slots=True, eq=False)
class Entry:
    """One indexed article. ``cluster_id`` is empty for the first article of its cluster."""

    article_id: str
    first_seen: float
    fingerprint: bytes = b""  # 16 bytes, or empty
    signature: bytes = b""  # SIGNATURE_BYTES, or empty (text too short)
    cluster_id: str = ""
    alerted: frozenset[str] = field(default_factory=frozenset)

    @property
    def cluster(self) -> str:
        """The id of the cluster this article belongs to (its own id when it is the first)."""
        return self.cluster_id or self.article_id


@dataclass(frozen=True, slots=True)
class Match:
    """An earlier article the looked-up one is a copy of (``kind`` exact | similar), or itself (self)."""

    cluster_id: str
    article_id: str
    similarity: float
    kind: str


class NearDupIndex:
    """See the module docstring. ``now`` arguments are Unix seconds."""

    def __init__(
        self,
        window_seconds: float = WINDOW_SECONDS,
        max_entries: int = MAX_ENTRIES,
        on_evict: Callable[[str], None] | None = None,
    ) -> None:
        """``on_evict(reason)`` is called per evicted entry, reason expired | capacity."""
        self.window_seconds = window_seconds
        self.max_entries = max_entries
        self._on_evict = on_evict
        self._by_id: dict[str, Entry] = {}
        self._buckets: dict[int, Entry | list[Entry]] = {}
        self._by_fingerprint: dict[bytes, Entry] = {}
        self._members: dict[str, list[Entry]] = {}  # cluster id -> entries of duplicates
        self._order: deque[Entry] = deque()  # insertion order, for eviction

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._by_id

    def get(self, article_id: str) -> Entry | None:
        return self._by_id.get(article_id)

    def find(self, article_id: str, fingerprint: bytes, signature: bytes, now: float) -> Match | None:
        """The cluster an article belongs to: its own entry's if indexed (decisions stay stable when it
        is processed again), else that of an exact copy, else that of the most similar entry at or above
        SIMILARITY_THRESHOLD (ties: the earliest); None when it is the first of its kind."""
        own = self._by_id.get(article_id)
        if own is not None:
            return Match(own.cluster, article_id, 1.0, "self")
        oldest = now - self.window_seconds
        if fingerprint:
            copy = self._by_fingerprint.get(fingerprint)
            if copy is not None and copy.first_seen >= oldest:
                return Match(copy.cluster, copy.article_id, 1.0, "exact")
        if not signature:
            return None
        best: Entry | None = None
        best_score = SIMILARITY_THRESHOLD
        checked: set[str] = set()
        for key in band_keys(signature):
            bucket = self._buckets.get(key)
            if bucket is None:
                continue
            for entry in bucket if isinstance(bucket, list) else (bucket,):
                if entry.article_id in checked or entry.first_seen < oldest:
                    continue
                checked.add(entry.article_id)
                score = similarity(signature, entry.signature)
                if score > best_score or (
                    score == best_score and (best is None or entry.first_seen < best.first_seen)
                ):
                    best, best_score = entry, score
        if best is None:
            return None
        return Match(best.cluster, best.article_id, best_score, "similar")

    def alerted(self, cluster_id: str, exclude: str) -> frozenset[str]:
        """Watch lists alerted for by members of the cluster other than ``exclude``."""
        found: set[str] = set()
        root = self._by_id.get(cluster_id)
        if root is not None and root.article_id != exclude:
            found |= root.alerted
        for member in self._members.get(cluster_id, ()):
            if member.article_id != exclude:
                found |= member.alerted
        return frozenset(found)

    def add(self, entry: Entry, now: float) -> None:
        """Index ``entry``, replacing the article's previous one (keeping the earlier first_seen)."""
        old = self._by_id.get(entry.article_id)
        if old is not None:
            if old.signature == entry.signature and old.fingerprint == entry.fingerprint:
                self._set_cluster(old, entry.cluster_id)
                old.alerted = entry.alerted
                old.first_seen = min(old.first_seen, entry.first_seen)
                return
            entry.first_seen = min(old.first_seen, entry.first_seen)
            self.remove(entry.article_id)
        if entry.first_seen < now - self.window_seconds:
            return
        self._by_id[entry.article_id] = entry
        self._order.append(entry)
        if entry.signature:
            for key in band_keys(entry.signature):
                self._bucket_add(key, entry)
        elif entry.fingerprint:
            self._by_fingerprint.setdefault(entry.fingerprint, entry)
        if entry.cluster_id:
            self._members.setdefault(entry.cluster_id, []).append(entry)
        if len(self._by_id) > self.max_entries:
            self.prune(now)

    def remove(self, article_id: str) -> None:
        """Forget one article (a tombstone in the changelog)."""
        entry = self._by_id.pop(article_id, None)
        if entry is None:
            return
        if entry.signature:
            for key in band_keys(entry.signature):
                self._bucket_remove(key, entry)
        elif self._by_fingerprint.get(entry.fingerprint) is entry:
            del self._by_fingerprint[entry.fingerprint]
        self._set_cluster(entry, "")

    def prune(self, now: float) -> int:
        """Evict expired entries and those beyond MAX_ENTRIES, oldest first; return how many went."""
        oldest = now - self.window_seconds
        evicted = 0
        while self._order:
            head = self._order[0]
            if self._by_id.get(head.article_id) is not head:
                self._order.popleft()  # replaced or removed since
                continue
            if head.first_seen < oldest:
                reason = "expired"
            elif len(self._by_id) > self.max_entries:
                reason = "capacity"
            else:
                break
            self._order.popleft()
            self.remove(head.article_id)
            evicted += 1
            if self._on_evict is not None:
                self._on_evict(reason)
        return evicted

    def _set_cluster(self, entry: Entry, cluster_id: str) -> None:
        if entry.cluster_id == cluster_id:
            return
        if entry.cluster_id:
            members = self._members.get(entry.cluster_id, [])
            if entry in members:
                members.remove(entry)
            if not members:
                self._members.pop(entry.cluster_id, None)
        entry.cluster_id = cluster_id
        if cluster_id:
            self._members.setdefault(cluster_id, []).append(entry)

    def _bucket_add(self, key: int, entry: Entry) -> None:
        bucket = self._buckets.get(key)
        if bucket is None:
            self._buckets[key] = entry  # most buckets hold one entry: no list for them
        elif isinstance(bucket, list):
            if len(bucket) < MAX_BUCKET_ENTRIES:
                bucket.append(entry)
        else:
            self._buckets[key] = [bucket, entry]

    def _bucket_remove(self, key: int, entry: Entry) -> None:
        bucket = self._buckets.get(key)
        if bucket is entry:
            del self._buckets[key]
        elif isinstance(bucket, list) and entry in bucket:
            bucket.remove(entry)
            if len(bucket) == 1:
                self._buckets[key] = bucket[0]

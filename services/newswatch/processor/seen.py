"""Article ids already processed: a bounded in-memory set, made durable as one record per batch.

The processor drops a raw article whose id (or replay key) it processed before. :class:`SeenLog`
holds those keys as 8-byte digests (BLAKE2b; a new key is taken for a seen one with probability
n / 2**64, 3e-14 with n = 500,000 keys held) grouped in *chunks*: the keys of one source partition
recorded by one batch. A chunk is one record of the Faust table ``processor-seen``'s changelog, on that
partition:

- key: the chunk id, 8 bytes big-endian, a nanosecond stamp that grows strictly within a process
  (unique across workers in practice; a clash only means one chunk replaces the other in compaction);
- value: ``B version (1) | d written at (Unix seconds) | n × 8-byte digest``;
- a tombstone (value None) removes the chunk; a record left by earlier versions (key = article id,
  value = an ISO timestamp) counts as a chunk of that one article.

Bounded: each partition keeps at most ``ceil(max_articles / partitions)`` keys (so a worker holding
every partition keeps at most ``max_articles``); beyond that its oldest chunks are forgotten and a
tombstone for each is handed back with the partition's next chunk (or, for chunks forgotten while
recovering, with the partition's next chunk written here), so compaction keeps the changelog as
bounded as the memory: about 92 bytes per key, 46 MB at 500,000. A key re-published while its chunk
is still held is dropped, after a restart too (Faust recovers the changelog of a partition into
:meth:`SeenLog.apply`).

Not thread-safe; one event loop.
"""

from __future__ import annotations

import hashlib
import math
import struct
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

from newswatch.errors import InvalidMessageError

__all__ = ["MAX_PENDING_TOMBSTONES", "SEEN_TABLE", "ChunkIds", "SeenLog", "digest", "encode_chunk"]

#: The Faust table whose changelog holds the chunks.
SEEN_TABLE = "processor-seen"

_VERSION = 1
_HEAD = struct.Struct("<Bd")
_ID = struct.Struct(">Q")
_DIGEST_BYTES = 8
#: Tombstones of forgotten chunks kept per partition until its next write (a standby never writes).
MAX_PENDING_TOMBSTONES = 10_000

Record = tuple[bytes, bytes | None]


class ChunkIds:
    """Chunk ids: 8 bytes big-endian, a nanosecond stamp that grows strictly within a process (and past
    every id :meth:`observe` was shown, e.g. those read back from a changelog)."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> bytes:
        self._last = max(self._last + 1, time.time_ns())
        return _ID.pack(self._last)

    def observe(self, chunk_id: bytes) -> None:
        if len(chunk_id) == _ID.size:
            self._last = max(self._last, _ID.unpack(chunk_id)[0])


def digest(key: str) -> bytes:
    """The 8 bytes that stand for ``key`` in the set and in the changelog."""
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=_DIGEST_BYTES).digest()


def encode_chunk(digests: Iterable[bytes], written_at: float) -> bytes:
    return _HEAD.pack(_VERSION, written_at) + b"".join(digests)


def _decode_chunk(key: bytes, value: bytes) -> list[bytes]:
    """The digests of a chunk record; raises InvalidMessageError (not retriable) for anything else."""
    if value[:1] == bytes([_VERSION]):
        body = value[_HEAD.size :]
        if len(value) < _HEAD.size or len(body) % _DIGEST_BYTES:
            raise InvalidMessageError("seen chunk has the wrong length")
        return [body[at : at + _DIGEST_BYTES] for at in range(0, len(body), _DIGEST_BYTES)]
    if value[:1].isdigit() and key:  # an earlier version's record: article id -> ISO timestamp
        return [digest(key.decode("utf-8", "replace"))]
    raise InvalidMessageError("not a seen chunk")


class SeenLog:
    """See the module docstring. ``on_invalid(reason)`` is called for a changelog record skipped."""

    def __init__(
        self,
        max_articles: int,
        partitions: int,
        clock: Callable[[], float] = time.time,
        on_invalid: Callable[[str], None] | None = None,
    ) -> None:
        self.max_articles = max_articles
        self.partitions = partitions
        self.per_partition = max(1, math.ceil(max_articles / max(1, partitions)))
        self._clock = clock
        self._on_invalid = on_invalid
        self._digests: dict[bytes, int] = {}  # digest -> chunks holding it
        self._chunks: dict[int, OrderedDict[bytes, list[bytes]]] = {}
        self._counts: dict[int, int] = {}
        self._pending: dict[int, OrderedDict[bytes, None]] = {}  # chunk ids to tombstone
        self._ids = ChunkIds()

    def __len__(self) -> int:
        return len(self._digests)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and digest(key) in self._digests

    def add(self, partition: int, keys: Iterable[str]) -> list[Record]:
        """Remember ``keys`` (processed from ``partition``); return the changelog records to write on
        that partition: the new chunk, then tombstones of the chunks forgotten to stay in bound."""
        digests = [digest(k) for k in keys]
        if not digests:
            return []
        chunk_id = self._ids.next()
        self._insert(partition, chunk_id, digests)
        pending = self._pending.pop(partition, None)
        records: list[Record] = [(chunk_id, encode_chunk(digests, self._clock()))]
        if pending:
            records += [(old, None) for old in pending]
        return records

    def apply(self, partition: int, key: bytes | None, value: bytes | None) -> None:
        """Apply one changelog record (recovery, standby): a chunk, or a tombstone removing one."""
        if not key:
            self._invalid("record without key")
            return
        if value is None:
            self._forget(partition, key)
            pending = self._pending.get(partition)
            if pending is not None:
                pending.pop(key, None)
            return
        chunks = self._chunks.get(partition)
        if chunks is not None and key in chunks:
            return  # read again (partition assigned anew)
        try:
            digests = _decode_chunk(key, value)
        except InvalidMessageError as exc:
            self._invalid(str(exc))
            return
        if value[:1] == bytes([_VERSION]):  # stay ahead of the ids read
            self._ids.observe(key)
        self._insert(partition, key, digests)

    def _insert(self, partition: int, chunk_id: bytes, digests: list[bytes]) -> None:
        chunks = self._chunks.setdefault(partition, OrderedDict())
        chunks[chunk_id] = digests
        held = self._digests
        for d in digests:
            held[d] = held.get(d, 0) + 1
        count = self._counts.get(partition, 0) + len(digests)
        self._counts[partition] = count
        while count > self.per_partition and len(chunks) > 1:
            oldest, _ = next(iter(chunks.items()))
            self._forget(partition, oldest)
            pending = self._pending.setdefault(partition, OrderedDict())
            pending[oldest] = None
            if len(pending) > MAX_PENDING_TOMBSTONES:
                pending.popitem(last=False)
            count = self._counts[partition]

    def _forget(self, partition: int, chunk_id: bytes) -> None:
        chunks = self._chunks.get(partition)
        digests = chunks.pop(chunk_id, None) if chunks is not None else None
        if digests is None:
            return
        held = self._digests
        for d in digests:
            n = held.pop(d, 0) - 1
            if n > 0:
                held[d] = n
        self._counts[partition] -= len(digests)

    def _invalid(self, reason: str) -> None:
        if self._on_invalid is not None:
            self._on_invalid(reason)

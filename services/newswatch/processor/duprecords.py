"""The near-duplicate changelog's record format: index entries, written in chunks of one batch.

A worker writes, per batch and source partition, one record holding the
:class:`~newswatch.processor.dupindex.Entry` of every article of that batch and partition (more than one
when they exceed :data:`MAX_CHUNK_BYTES`), keyed by a chunk id (:class:`~newswatch.processor.seen.ChunkIds`:
8 bytes, unique per worker in practice). Records are read back by
:class:`~newswatch.processor.duplog.IndexFollower` with :func:`decode_record`, which also reads the
per-article records of earlier versions (key = article_id). Values, little-endian::

    chunk (version 2):  B 2 | I count | count × (I length | article_id UTF-8 | I length | entry)
    entry (version 1):  B 1 | d first_seen (Unix seconds) | 16s fingerprint (zeros = none)
                        | H signature length (0 or SIGNATURE_BYTES) | signature
                        | H length | cluster_id UTF-8 | B count | count × (H length | watchlist_id UTF-8)

A chunk's key never names an article: a tombstone of one removes nothing (chunks leave the changelog by
retention, a day after the index window; see :func:`~newswatch.processor.duplog.changelog_config`).
Pure functions; decoding raises InvalidMessageError (not retriable) for anything else.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from newswatch.errors import InvalidMessageError
from newswatch.processor.dupindex import Entry
from newswatch.processor.neardup import SIGNATURE_BYTES

__all__ = [
    "CHUNK_VERSION",
    "MAX_CHUNK_BYTES",
    "OWN_RECORDS_MAX",
    "OwnRecords",
    "decode_entry",
    "decode_record",
    "encode_chunks",
    "encode_entry",
]

#: First byte of a chunk value (an entry value starts with 1).
CHUNK_VERSION = 2
#: A chunk's value stays below this (the broker's default message.max.bytes is 1 MiB); an entry is
#: about 200 bytes, so a batch of 1,000 articles on one partition makes one chunk.
MAX_CHUNK_BYTES = 512 * 1024

_ENTRY_VERSION = 1
_HEAD = struct.Struct("<Bd16sH")
_LEN = struct.Struct("<H")
_COUNT = struct.Struct("<B")
_BIG = struct.Struct("<I")
_CHUNK_HEAD = struct.Struct("<BI")
_MAX_TEXT_BYTES = 0xFFFF
_MAX_ALERTED = 0xFF
_NO_FINGERPRINT = bytes(16)


def encode_entry(entry: Entry) -> bytes:
    """One entry's bytes (the value of a version-1 record); watch-list ids sorted."""
    cluster = entry.cluster_id.encode("utf-8")[:_MAX_TEXT_BYTES]
    alerted = sorted(w.encode("utf-8")[:_MAX_TEXT_BYTES] for w in entry.alerted)[:_MAX_ALERTED]
    parts = [
        _HEAD.pack(
            _ENTRY_VERSION, entry.first_seen, entry.fingerprint or _NO_FINGERPRINT, len(entry.signature)
        ),
        entry.signature,
        _LEN.pack(len(cluster)),
        cluster,
        _COUNT.pack(len(alerted)),
    ]
    for watchlist in alerted:
        parts += [_LEN.pack(len(watchlist)), watchlist]
    return b"".join(parts)


def encode_chunks(entries: Sequence[Entry], max_bytes: int = MAX_CHUNK_BYTES) -> list[bytes]:
    """The chunk values holding ``entries`` in order: one, or more when they exceed ``max_bytes``
    (an entry larger than that alone still gets a chunk of its own); none for no entries."""
    chunks: list[bytes] = []
    parts: list[bytes] = []
    size = _CHUNK_HEAD.size
    for entry in entries:
        article_id = entry.article_id.encode("utf-8")
        body = encode_entry(entry)
        piece = b"".join((_BIG.pack(len(article_id)), article_id, _BIG.pack(len(body)), body))
        if parts and size + len(piece) > max_bytes:
            chunks.append(_CHUNK_HEAD.pack(CHUNK_VERSION, len(parts)) + b"".join(parts))
            parts, size = [], _CHUNK_HEAD.size
        parts.append(piece)
        size += len(piece)
    if parts:
        chunks.append(_CHUNK_HEAD.pack(CHUNK_VERSION, len(parts)) + b"".join(parts))
    return chunks


def decode_record(key: bytes, value: bytes) -> list[Entry]:
    """The entries of one changelog record: a chunk's, or the single entry of an earlier version's
    record (whose key is the article id)."""
    if value[:1] == bytes([CHUNK_VERSION]):
        return _decode_chunk(value)
    try:
        article_id = key.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidMessageError("near-duplicate record key is not UTF-8") from None
    return [decode_entry(article_id, value)]


def _decode_chunk(value: bytes) -> list[Entry]:
    try:
        _, count = _CHUNK_HEAD.unpack_from(value, 0)
        at = _CHUNK_HEAD.size
        entries: list[Entry] = []
        for _ in range(count):
            raw_id, at = _sized(value, at)
            body, at = _sized(value, at)
            entries.append(decode_entry(raw_id.decode("utf-8"), body))
    except (struct.error, UnicodeDecodeError) as exc:
        raise InvalidMessageError(f"malformed near-duplicate chunk: {exc}") from None
    if at != len(value):
        raise InvalidMessageError("near-duplicate chunk has the wrong length")
    return entries


def _sized(value: bytes, at: int, prefix: struct.Struct = _BIG) -> tuple[bytes, int]:
    """The bytes at ``at`` after their length (``prefix``), and the offset after them."""
    (length,) = prefix.unpack_from(value, at)
    at += prefix.size
    raw = value[at : at + length]
    if len(raw) != length:
        raise InvalidMessageError("near-duplicate record is truncated")
    return raw, at + length


def decode_entry(article_id: str, value: bytes) -> Entry:
    """Parse one entry's bytes; raises InvalidMessageError (not retriable) when they are not one."""
    try:
        version, first_seen, fingerprint, sig_len = _HEAD.unpack_from(value, 0)
        if version != _ENTRY_VERSION or sig_len not in (0, SIGNATURE_BYTES):
            raise InvalidMessageError(f"unknown near-duplicate record version {version} / length {sig_len}")
        at = _HEAD.size
        signature = bytes(value[at : at + sig_len])
        at += sig_len
        cluster, at = _text(value, at)
        (count,) = _COUNT.unpack_from(value, at)
        at += _COUNT.size
        alerted = []
        for _ in range(count):
            watchlist, at = _text(value, at)
            alerted.append(watchlist)
        if at != len(value) or len(signature) != sig_len:
            raise InvalidMessageError("near-duplicate record has the wrong length")
    except (struct.error, UnicodeDecodeError) as exc:
        raise InvalidMessageError(f"malformed near-duplicate record: {exc}") from None
    return Entry(
        article_id,
        first_seen,
        b"" if fingerprint == _NO_FINGERPRINT else fingerprint,
        signature,
        cluster,
        frozenset(alerted),
    )


def _text(value: bytes, at: int) -> tuple[str, int]:
    raw, at = _sized(value, at, _LEN)
    return raw.decode("utf-8"), at


#: Keys of this process's own changelog records remembered until read back (a few batches' worth).
OWN_RECORDS_MAX = 10_000


class OwnRecords:
    """Keys of the changelog records this process wrote and has not read back yet: their entries are in
    the local index already (``Deduplicator.remember``), so the follower skips them instead of decoding
    and adding them again. Bounded (:data:`OWN_RECORDS_MAX`; the oldest key is forgotten first, and its
    record is then applied as any other: the same entries, no harm). Chunk keys are unique per process."""

    def __init__(self, max_keys: int = OWN_RECORDS_MAX) -> None:
        self._max = max_keys
        self._keys: dict[bytes, None] = {}

    def add(self, key: bytes) -> None:
        if len(self._keys) >= self._max:
            del self._keys[next(iter(self._keys))]
        self._keys[key] = None

    def take(self, key: bytes) -> bool:
        """Whether ``key`` is one of ours not read back yet (it is then forgotten)."""
        return self._keys.pop(key, False) is None

    def __len__(self) -> int:
        return len(self._keys)

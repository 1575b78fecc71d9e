"""SeenLog: the bounded set of processed article ids and its changelog chunks (no Kafka)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newswatch.processor.seen import SeenLog, digest, encode_chunk

Changelog = list[tuple[int, bytes, bytes | None]]  # (partition, key, value) in write order


def write(log: SeenLog, changelog: Changelog, partition: int, keys: list[str]) -> None:
    changelog += [(partition, key, value) for key, value in log.add(partition, keys)]


def compacted(changelog: Changelog) -> Changelog:
    """What compaction leaves: the last value of each key, tombstones dropped, in write order."""
    last: dict[tuple[int, bytes], tuple[int, bytes | None]] = {}
    for at, (partition, key, value) in enumerate(changelog):
        last[partition, key] = (at, value)
    kept = sorted((at, p, k, v) for (p, k), (at, v) in last.items() if v is not None)
    return [(p, k, v) for _, p, k, v in kept]


def restored(changelog: Changelog, max_articles: int, partitions: int) -> SeenLog:
    log = SeenLog(max_articles, partitions)
    for partition, key, value in changelog:
        log.apply(partition, key, value)
    return log


def test_added_keys_are_seen_and_written_as_one_chunk_per_call() -> None:
    log = SeenLog(1000, 2)
    ((chunk_id, value),) = log.add(1, ["a1", "a2"])
    assert "a1" in log and "a2" in log and "a3" not in log and len(log) == 2
    assert len(chunk_id) == 8 and value == encode_chunk([digest("a1"), digest("a2")], _written_at(value))
    assert log.add(1, []) == []


def test_each_partition_keeps_its_share_and_forgets_its_oldest_chunks() -> None:
    log = SeenLog(6, 2)  # three keys per partition
    changelog: Changelog = []
    for n in range(5):
        write(log, changelog, 0, [f"p0-{n}"])
    write(log, changelog, 1, ["p1-0", "p1-1"])
    assert [f"p0-{n}" in log for n in range(5)] == [False, False, True, True, True]
    assert "p1-0" in log and "p1-1" in log and len(log) == 5
    # A forgotten chunk's tombstone goes out with the chunk that pushed it out, on its partition.
    assert [(p, v is None) for p, _, v in changelog] == [
        (0, False), (0, False), (0, False), (0, False), (0, True), (0, False), (0, True), (1, False)
    ]  # fmt: skip


def test_chunks_forgotten_while_recovering_are_tombstoned_by_the_next_write() -> None:
    changelog: Changelog = []
    big = SeenLog(1000, 1)
    for n in range(5):
        write(big, changelog, 0, [f"k{n}"])
    small = restored(changelog, 2, 1)  # the bound was lowered: three chunks are forgotten
    assert [f"k{n}" in small for n in range(5)] == [False, False, False, True, True]
    records = small.add(0, ["k5"])
    # The new chunk, then tombstones: the three forgotten while recovering, and k3's, pushed out now.
    assert [value is None for _, value in records] == [False, True, True, True, True]
    assert {key for key, value in records if value is None} == {key for _, key, _ in changelog[:4]}
    assert "k4" in small and "k5" in small


def test_a_restart_from_the_compacted_changelog_still_drops_recent_keys() -> None:
    log = SeenLog(6, 2)
    changelog: Changelog = []
    for n in range(20):
        write(log, changelog, n % 2, [f"a{n}", f"b{n}"])
    after = restored(compacted(changelog), 6, 2)
    assert {f"a{n}" for n in range(20) if f"a{n}" in after} == {"a18", "a19"}
    assert "b19" in after and "a1" not in after and len(after) == len(log) == 4
    assert len(compacted(changelog)) <= 2 * 2 + 2  # live chunks, and at most one awaiting its tombstone


def test_records_read_again_tombstones_and_earlier_formats() -> None:
    invalid: list[str] = []
    log = SeenLog(1000, 1, on_invalid=invalid.append)
    ((chunk_id, value),) = SeenLog(1000, 1).add(0, ["x"])
    log.apply(0, chunk_id, value)
    log.apply(0, chunk_id, value)  # the partition assigned again
    assert "x" in log and len(log) == 1
    log.apply(0, b"legacy-id", b"2026-11-25T10:00:00+00:00")
    assert "legacy-id" in log
    log.apply(0, b"junk", b"\x07\x00")
    log.apply(0, None, value)
    log.apply(0, b"short", bytes([1]) + b"\x00" * 11)
    assert len(invalid) == 3
    log.apply(0, chunk_id, None)
    assert "x" not in log and "legacy-id" in log


def test_new_chunk_ids_follow_the_ids_read() -> None:
    ahead = (2**62).to_bytes(8, "big")
    log = SeenLog(1000, 1)
    log.apply(0, ahead, encode_chunk([digest("old")], 0.0))
    ((chunk_id, _),) = log.add(0, ["new"])
    assert chunk_id > ahead


@given(
    st.lists(st.tuples(st.integers(0, 2), st.lists(st.text(max_size=6), min_size=1, max_size=5)), max_size=40)
)
def test_bounded_and_the_latest_chunk_is_always_kept(batches: list[tuple[int, list[str]]]) -> None:
    log = SeenLog(12, 3)  # four keys per partition
    changelog: Changelog = []
    for partition, keys in batches:
        write(log, changelog, partition, keys)
        assert all(k in log for k in keys)
    assert len(log) <= 3 * (4 + 5 - 1)
    after = restored(compacted(changelog), 12, 3)
    if batches:
        assert all(k in after for k in batches[-1][1])


@pytest.mark.parametrize("partitions", [1, 6, 1000])
def test_per_partition_share(partitions: int) -> None:
    assert SeenLog(500_000, partitions).per_partition * partitions >= 500_000


def _written_at(value: bytes) -> float:
    import struct

    return float(struct.unpack_from("<d", value, 1)[0])

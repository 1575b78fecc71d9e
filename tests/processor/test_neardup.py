"""Near-duplicate signatures (properties), the in-memory index, its record format and the log follower."""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from newswatch.errors import InvalidMessageError
from newswatch.processor.dedupe import Deduplicator, Done
from newswatch.processor.dupindex import MAX_BUCKET_ENTRIES, Entry, NearDupIndex
from newswatch.processor.duplog import IndexFollower, changelog_config, changelog_spec
from newswatch.processor.duprecords import (
    CHUNK_VERSION,
    OwnRecords,
    decode_entry,
    decode_record,
    encode_chunks,
    encode_entry,
)
from newswatch.processor.metrics import ProcessorMetrics
from newswatch.processor.neardup import (
    BANDS,
    MIN_SHINGLES,
    ROWS,
    SIGNATURE_BYTES,
    SIMILARITY_THRESHOLD,
    article_text,
    band_keys,
    shingles,
    signature,
    similarity,
)
from newswatch.processor.seen import SeenLog
from newswatch.settings import load_settings
from newswatch.topics import TopicSpec
from newswatch.v1.article_pb2 import Article

VOCABULARY = [f"w{n}" for n in range(5000)]
OTHER_VOCABULARY = [f"x{n}" for n in range(5000)]
NOW = 1_700_000_000.0


def text_of(seed: int, words: int, vocabulary: list[str] = VOCABULARY) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(vocabulary) for _ in range(words)]


def sig(words: list[str]) -> bytes:
    out = signature(" ".join(words))
    assert out is not None
    return out


# --- signatures ---------------------------------------------------------------------------------------


@given(st.integers(0, 10**6), st.integers(MIN_SHINGLES + 5, 800))
def test_identical_texts_have_the_same_signature(seed: int, words: int) -> None:
    text = text_of(seed, words)
    assert sig(text) == sig(list(text)) and len(sig(text)) == SIGNATURE_BYTES
    assert similarity(sig(text), sig(text)) == 1.0


@given(st.integers(0, 10**6), st.integers(200, 800), st.data())
def test_small_edits_stay_near(seed: int, words: int, data: st.DataObject) -> None:
    """Up to 1% of the words replaced, deleted or inserted: well above the threshold."""
    text = text_of(seed, words)
    edited = list(text)
    rng = random.Random(seed + 1)
    for _ in range(data.draw(st.integers(1, words // 100))):
        at = rng.randrange(len(edited))
        op = rng.choice(("replace", "delete", "insert"))
        if op == "replace":
            edited[at] = rng.choice(OTHER_VOCABULARY)
        elif op == "delete":
            del edited[at]
        else:
            edited.insert(at, rng.choice(OTHER_VOCABULARY))
    assert similarity(sig(text), sig(edited)) >= SIMILARITY_THRESHOLD + 0.1
    assert set(band_keys(sig(text))) & set(band_keys(sig(edited)))  # found as candidates


@given(st.integers(0, 10**6), st.integers(MIN_SHINGLES + 5, 800), st.integers(MIN_SHINGLES + 5, 800))
def test_unrelated_texts_are_far(seed: int, a: int, b: int) -> None:
    assert similarity(sig(text_of(seed, a)), sig(text_of(seed, b, OTHER_VOCABULARY))) <= 0.1


def test_estimate_tracks_the_true_jaccard_similarity() -> None:
    """Over many pairs with shared prefixes of varying length: no bias, error within 4 standard errors."""
    errors = []
    for seed in range(200):
        shared = text_of(seed, random.Random(seed).randint(50, 400))
        a = shared + text_of(seed + 1000, 150)
        b = shared + text_of(seed + 2000, 150, OTHER_VOCABULARY)
        sa, sb = shingles(" ".join(a)), shingles(" ".join(b))
        errors.append(similarity(sig(a), sig(b)) - len(sa & sb) / len(sa | sb))
    assert abs(sum(errors) / len(errors)) < 0.02
    assert max(abs(e) for e in errors) < 4 * 0.0625


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Les troupes syriennes entrent à Palmyre", "LES TROUPES SYRIENNES ENTRENT A PALMYRE"),
        ("It's the army’s advance — again", "it's the army's advance - again"),
        ("al-Qaryatayn, in Homs.", "al Qaryatayn in Homs"),
    ],
)  # fmt: skip
def test_case_accents_apostrophes_and_punctuation_do_not_count(a: str, b: str) -> None:
    assert shingles(a) == shingles(b) and shingles(a)


@given(st.text(max_size=3000))
@settings(max_examples=200)
def test_signature_never_raises(text: str) -> None:
    out = signature(text)
    assert out is None or len(out) == SIGNATURE_BYTES


def test_short_texts_get_no_signature() -> None:
    assert signature(" ".join(text_of(1, MIN_SHINGLES - 5))) is None
    assert signature("") is None


def test_article_text_leaves_the_footer_out() -> None:
    body = " ".join(text_of(3, 300))
    footer = "\n\nCopyright © Mondialisation.ca, 2016\n\n" + " ".join(text_of(4, 200))
    plain = Article(title="t", content=body)
    with_footer = Article(title="t", content=body + footer)
    assert similarity(sig([article_text(plain)]), sig([article_text(with_footer)])) == 1.0
    assert article_text(Article(title="t", summary="only a summary")) == "t\nonly a summary"


def test_band_keys_are_distinct_per_band() -> None:
    keys = band_keys(bytes(SIGNATURE_BYTES))  # all bins equal: only the band number tells them apart
    assert len(set(keys)) == BANDS


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=SIGNATURE_BYTES + 8))
def test_band_keys_are_the_bands_read_as_little_endian_integers(sig_bytes: bytes) -> None:
    width = 2 * ROWS  # bytes per band
    expected = [
        int.from_bytes(sig_bytes[b * width : (b + 1) * width], "little") | b << 8 * width
        for b in range(BANDS)
    ]
    assert band_keys(sig_bytes) == expected


# --- the index --------------------------------------------------------------------------------------


def entry(article_id: str, words: list[str], first_seen: float = NOW, **fields: object) -> Entry:
    return Entry(article_id, first_seen, signature=sig(words), **fields)  # type: ignore[arg-type]


def test_index_finds_the_most_similar_and_names_its_cluster() -> None:
    index = NearDupIndex()
    base = text_of(1, 400)
    index.add(entry("a", base), NOW)
    index.add(entry("b", base[:390] + text_of(2, 10, OTHER_VOCABULARY), cluster_id="a"), NOW)
    index.add(entry("unrelated", text_of(3, 400)), NOW)
    found = index.find("c", b"", sig([*base[:395], "extra"]), NOW)
    assert found is not None and (found.cluster_id, found.kind) == ("a", "similar")
    assert found.similarity >= SIMILARITY_THRESHOLD
    assert index.find("d", b"", sig(text_of(4, 400)), NOW) is None


def test_an_indexed_article_keeps_its_cluster() -> None:
    index = NearDupIndex()
    index.add(entry("b", text_of(1, 400), cluster_id="a"), NOW)
    found = index.find("b", b"", sig(text_of(9, 400)), NOW)
    assert found is not None and (found.cluster_id, found.kind) == ("a", "self")


def test_exact_fingerprint_finds_short_texts() -> None:
    index = NearDupIndex()
    index.add(Entry("a", NOW, fingerprint=b"f" * 16), NOW)
    found = index.find("b", b"f" * 16, b"", NOW)
    assert found is not None and (found.cluster_id, found.kind) == ("a", "exact")
    assert index.find("c", b"g" * 16, b"", NOW) is None


def test_alerted_watch_lists_of_a_cluster_exclude_the_asking_article() -> None:
    index = NearDupIndex()
    index.add(entry("a", text_of(1, 100), alerted=frozenset({"default"})), NOW)
    index.add(entry("b", text_of(2, 100), cluster_id="a", alerted=frozenset({"extra"})), NOW)
    assert index.alerted("a", exclude="c") == {"default", "extra"}
    assert index.alerted("a", exclude="a") == {"extra"}
    assert index.alerted("a", exclude="b") == {"default"}
    index.remove("b")
    assert index.alerted("a", exclude="c") == {"default"}


def test_window_and_capacity_bound_the_index() -> None:
    evicted: list[str] = []
    index = NearDupIndex(window_seconds=100, max_entries=3, on_evict=evicted.append)
    index.add(entry("old", text_of(1, 100), first_seen=NOW - 50), NOW - 50)
    for n in range(4):
        index.add(entry(f"new{n}", text_of(10 + n, 100)), NOW)
    assert len(index) == 3 and "old" not in index and "new0" not in index
    assert evicted == ["capacity", "capacity"]
    assert index.prune(NOW + 101) == 3 and evicted[2:] == ["expired"] * 3
    # Expired entries are neither added nor found.
    index.add(entry("stale", text_of(20, 100), first_seen=NOW - 200), NOW)
    assert "stale" not in index
    assert index.find("x", b"", sig(text_of(20, 100)), NOW) is None


def test_expired_entries_are_ignored_before_they_are_pruned() -> None:
    index = NearDupIndex(window_seconds=100)
    words = text_of(1, 200)
    index.add(entry("a", words), NOW)
    assert index.find("b", b"", sig(words), NOW + 99) is not None
    assert index.find("b", b"", sig(words), NOW + 101) is None


def test_buckets_are_bounded_and_keep_the_oldest() -> None:
    index = NearDupIndex()
    words = text_of(1, 200)
    for n in range(MAX_BUCKET_ENTRIES + 3):
        index.add(entry(f"copy{n}", words, first_seen=NOW + n), NOW + n)
    found = index.find("x", b"", sig(words), NOW + 20)
    assert found is not None and found.article_id == "copy0"
    for n in range(MAX_BUCKET_ENTRIES):
        index.remove(f"copy{n}")
    assert index.find("x", b"", sig(words), NOW + 20) is None  # the later ones were never bucketed
    assert len(index) == 3


def test_replacing_an_entry_keeps_its_first_seen_and_reindexes_a_new_text() -> None:
    index = NearDupIndex()
    index.add(entry("a", text_of(1, 200), first_seen=NOW), NOW)
    index.add(entry("a", text_of(2, 200), first_seen=NOW + 5, alerted=frozenset({"x"})), NOW + 5)
    assert index.find("b", b"", sig(text_of(1, 200)), NOW + 5) is None
    found = index.find("b", b"", sig(text_of(2, 200)), NOW + 5)
    assert found is not None and found.article_id == "a"
    current = index.get("a")
    assert current is not None and current.first_seen == NOW and current.alerted == {"x"}


# --- record format ----------------------------------------------------------------------------------

ids = st.text(min_size=1, max_size=80)


@given(
    ids,
    st.floats(0, 4e9),
    st.sampled_from([b"", b"\x01" * 16]),
    st.booleans(),
    st.text(max_size=80),
    st.frozensets(ids, max_size=5),
)
def test_records_round_trip(
    article_id: str, first_seen: float, fp: bytes, with_sig: bool, cluster: str, alerted: frozenset[str]
) -> None:
    original = Entry(article_id, first_seen, fp, bytes(range(128)) if with_sig else b"", cluster, alerted)
    decoded = decode_entry(article_id, encode_entry(original))
    assert (decoded.first_seen, decoded.fingerprint) == (first_seen, fp)
    assert decoded.signature == original.signature
    assert (decoded.cluster_id, decoded.alerted) == (cluster, alerted)


@given(st.binary(max_size=400))
def test_garbage_records_raise_invalid_message(value: bytes) -> None:
    try:
        decode_entry("a", value)
    except InvalidMessageError as exc:
        assert exc.retriable is False


@pytest.mark.parametrize(
    "value",
    [
        b"",
        struct.pack("<Bd16sH", 2, NOW, bytes(16), 0) + b"\x00\x00\x00",  # unknown version
        struct.pack("<Bd16sH", 1, NOW, bytes(16), 7) + b"\x00" * 10,  # odd signature length
        encode_entry(Entry("a", NOW, b"", b"", "", frozenset())) + b"\x00",  # trailing bytes
        encode_entry(Entry("a", NOW, b"", b"", "cluster", frozenset()))[:-3],  # truncated
    ],
)
def test_malformed_records_are_refused(value: bytes) -> None:
    with pytest.raises(InvalidMessageError):
        decode_entry("a", value)


@given(st.lists(ids, min_size=1, max_size=30, unique=True), st.integers(100, 4000))
def test_chunks_round_trip_in_order_and_stay_under_their_size(article_ids: list[str], max_bytes: int) -> None:
    entries = [Entry(a, NOW + n, b"\x02" * 16, bytes(range(128)), "c" if n else "", frozenset({"w"}))
               for n, a in enumerate(article_ids)]  # fmt: skip
    chunks = encode_chunks(entries, max_bytes)
    decoded = [e for chunk in chunks for e in decode_record(b"\x00" * 8, chunk)]
    assert [(e.article_id, e.first_seen, e.cluster_id, e.alerted) for e in decoded] == [
        (e.article_id, e.first_seen, e.cluster_id, e.alerted) for e in entries
    ]
    assert all(c[:1] == bytes([CHUNK_VERSION]) for c in chunks)
    # Only a chunk of a single entry may exceed the bound.
    assert all(len(c) <= max_bytes or len(decode_record(b"k", c)) == 1 for c in chunks)


def test_no_entries_make_no_chunk() -> None:
    assert encode_chunks([]) == []


def test_records_of_earlier_versions_are_read_by_their_article_key() -> None:
    (found,) = decode_record(b"a", encode_entry(Entry("ignored", NOW, b"", b"", "c", frozenset())))
    assert (found.article_id, found.cluster_id) == ("a", "c")
    with pytest.raises(InvalidMessageError):
        decode_record(b"\xff\xfe", encode_entry(Entry("x", NOW)))


@given(st.binary(max_size=400))
def test_garbage_chunks_raise_invalid_message(tail: bytes) -> None:
    try:
        decode_record(b"k", bytes([CHUNK_VERSION]) + tail)
    except InvalidMessageError as exc:
        assert exc.retriable is False


@pytest.mark.parametrize("cut", [1, 5, 20])
def test_truncated_chunks_are_refused(cut: int) -> None:
    (chunk,) = encode_chunks([Entry("a", NOW, b"", b"", "", frozenset()), Entry("b", NOW)])
    with pytest.raises(InvalidMessageError):
        decode_record(b"k", chunk[:-cut])
    with pytest.raises(InvalidMessageError):
        decode_record(b"k", chunk + b"\x00")


# --- the follower (no broker: records applied directly) ---------------------------------------------


async def test_follower_applies_records_tombstones_and_counts_bad_ones() -> None:
    registry = CollectorRegistry()
    metrics = ProcessorMetrics(registry)
    index = NearDupIndex()
    metrics.neardup_index_articles.set_function(index.__len__)
    follower = IndexFollower(
        load_settings(environ={}), changelog_spec("app", 3), index, metrics, clock=lambda: NOW
    )
    follower.apply(b"a", encode_entry(entry("a", text_of(1, 100))), NOW)  # an earlier version's record
    follower.apply(b"b", encode_entry(entry("b", text_of(2, 100))), NOW)
    (chunk,) = encode_chunks([entry("d", text_of(3, 100)), entry("e", text_of(4, 100))])
    follower.apply(b"\x00" * 8, chunk, NOW)
    follower.apply(b"c", b"\xff not a record", NOW)
    follower.apply(None, b"", NOW)
    follower.apply(b"b", None, NOW)
    follower.apply(b"\x00" * 8, None, NOW)  # a chunk's tombstone names no article
    assert all(a in index for a in "ade") and "b" not in index and "c" not in index
    assert registry.get_sample_value("newswatch_processor_neardup_invalid_records_total") == 2
    assert registry.get_sample_value("newswatch_processor_neardup_index_articles") == 3
    await follower.stop()


async def test_follower_skips_the_records_this_process_wrote_once() -> None:
    own = OwnRecords()
    index = NearDupIndex()
    follower = IndexFollower(
        load_settings(environ={}),
        changelog_spec("app", 3),
        index,
        ProcessorMetrics(CollectorRegistry()),
        clock=lambda: NOW,
        own=own,
    )
    (chunk,) = encode_chunks([entry("mine", text_of(5, 100))])
    own.add(b"k1")
    follower.apply(b"k1", chunk, NOW)  # ours: indexed already when written, not applied again
    assert "mine" not in index and len(own) == 0
    follower.apply(b"k1", chunk, NOW)  # read again (another consumer position): applied
    follower.apply(b"k2", encode_chunks([entry("theirs", text_of(6, 100))])[0], NOW)
    assert "mine" in index and "theirs" in index
    await follower.stop()


def test_own_records_are_bounded_and_forget_the_oldest_first() -> None:
    own = OwnRecords(max_keys=3)
    for n in range(5):
        own.add(bytes([n]))
    assert len(own) == 3
    assert not own.take(b"\x00") and not own.take(b"\x01")
    assert own.take(b"\x04") and not own.take(b"\x04")


SEEN_SPEC = TopicSpec("test-seen-changelog", "chunk id", "seen chunk", compacted=True)
INDEX_SPEC = TopicSpec("test-neardup-changelog", "chunk id", "index entries", compacted=True)


def test_commit_notes_the_keys_of_its_index_records() -> None:
    own = OwnRecords()
    index = NearDupIndex()
    dedupe = Deduplicator(SeenLog(1000, 3), index, SEEN_SPEC, INDEX_SPEC, clock=lambda: NOW, own=own)
    assessment = dedupe.assess(Article(article_id="a1", title="t", content=" ".join(text_of(7, 120))))
    done = Done(dedupe.remember(assessment, []), 0, "a1")
    records = dedupe.commit([done])
    index_keys = [r.key for r in records if r.topic == INDEX_SPEC]
    assert len(index_keys) == 1 and all(r.key not in own._keys for r in records if r.topic == SEEN_SPEC)
    assert own.take(index_keys[0])


def test_changelog_is_compacted_and_deleted_after_the_window() -> None:
    config = changelog_spec("app", 3).config()
    assert config["cleanup.policy"] == "compact,delete" == changelog_config()["cleanup.policy"]
    assert int(config["retention.ms"]) > 7 * 24 * 3600 * 1000

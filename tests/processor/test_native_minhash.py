"""The compiled near-duplicate signatures against an independent Python implementation of the scheme
documented in ``newswatch.processor.neardup`` (the one it replaced): equal hashes, equal signatures."""

from __future__ import annotations

import string
import struct
from bisect import bisect_left
from zlib import crc32

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from newswatch_native import equal_bins, minhash_signature, shingle_hashes

from newswatch.processor import neardup
from newswatch.processor.normalize import fold

_TO_SPACES = bytes.maketrans(string.punctuation.encode(), b" " * len(string.punctuation))


def reference_hashes(text: str) -> list[int]:
    words = fold(text).text.encode("utf-8", "surrogatepass").translate(_TO_SPACES).split()
    out = []
    for i in range(len(words) - neardup.SHINGLE_WORDS + 1):
        crc = 0
        for word in words[i : i + neardup.SHINGLE_WORDS]:
            crc = crc32(word, crc)
        out.append(crc >> 2)
    return out


def reference_signature(text: str) -> bytes | None:
    ordered = sorted(reference_hashes(text))
    if len(ordered) < neardup.MIN_SHINGLES:
        return None
    values, start = [], 0
    for b in range(1, neardup.BINS + 1):
        stop = bisect_left(ordered, b << 24, start)
        values.append(ordered[start] if start < stop else -1)
        start = stop
    filled = list(values)
    for b, value in enumerate(values):
        if value == -1:
            d = next(d for d in range(1, neardup.BINS) if values[(b + d) % neardup.BINS] != -1)
            filled[b] = values[(b + d) % neardup.BINS] + 0x9E37 * d
    return struct.pack(f"<{neardup.BINS}H", *(v & 0xFFFF for v in filled))


WORDS = st.sampled_from(
    ["the", "Syrian", "army", "Palmyre", "Hīt", "ISIS", "l'État", "naïve", "STRASSE", "Straße", "œuvre",
     "al-Qaeda", "2015", "Москва", "القاهرة", "Ἀθῆναι", "e\u0301te\u0301", "—", "...", "(AFP)", "x_y"]
)  # fmt: skip
SEPARATORS = st.sampled_from(
    [" ", "  ", "\n", "\t", "\x0b", "\x0c", "\r\n", "\x1c", "\u00a0", "\u2009", "-", ", "]
)


@st.composite
def texts(draw: st.DrawFn) -> str:
    words = draw(st.lists(WORDS, min_size=0, max_size=160))
    return "".join(w + draw(SEPARATORS) for w in words)


@settings(max_examples=300, deadline=None)
@given(texts())
def test_hashes_and_signatures_equal_the_reference(text: str) -> None:
    assert neardup.shingles(text) == set(reference_hashes(text))
    assert neardup.signature(text) == reference_signature(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=600))
def test_any_text_gives_the_reference_hashes(text: str) -> None:
    assert neardup.shingles(text) == set(reference_hashes(text))


def test_a_long_article_has_a_signature_with_every_bin_filled_or_borrowed() -> None:
    text = " ".join(f"word{i} of story {i % 7}" for i in range(400))
    sig = neardup.signature(text)
    assert sig is not None and len(sig) == neardup.SIGNATURE_BYTES
    assert sig == reference_signature(text)


def test_short_texts_have_no_signature() -> None:
    assert neardup.signature("too few words to sign") is None
    assert reference_signature("too few words to sign") is None


@pytest.mark.parametrize(
    ("shingle_words", "hash_bits", "bin_bits"), [(0, 30, 6), (3, 0, 6), (3, 33, 6), (3, 30, 0), (3, 8, 9)]
)
def test_bad_parameters_raise_value_error(shingle_words: int, hash_bits: int, bin_bits: int) -> None:
    with pytest.raises(ValueError):
        minhash_signature(b"a b c d", shingle_words, hash_bits, bin_bits, 1, 1)
    if bin_bits == 6:
        with pytest.raises(ValueError):
            shingle_hashes(b"a b c d", shingle_words, hash_bits)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_equal_bins_counts_the_equal_two_byte_bins(data: st.DataObject) -> None:
    n = data.draw(st.integers(0, 80))
    a = data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))  # few values: many equal bins
    b = data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    left, right = struct.pack(f"<{n}H", *a), struct.pack(f"<{n}H", *b)
    assert equal_bins(left, right) == sum(x == y for x, y in zip(a, b, strict=True))
    assert equal_bins(left, right + b"\0\0") == 0  # lengths differ
    assert equal_bins(left + b"\0", right + b"\0") == 0  # odd length


def test_similarity_of_signatures_is_the_share_of_equal_bins() -> None:
    first = neardup.signature("the quick brown fox jumps over the lazy dog " * 20)
    assert first is not None
    other = bytearray(first)
    other[0:2] = bytes([other[0] ^ 1, other[1]])  # one bin differs
    assert neardup.similarity(first, bytes(other)) == (neardup.BINS - 1) / neardup.BINS
    assert neardup.similarity(first, first[:-2]) == 0.0

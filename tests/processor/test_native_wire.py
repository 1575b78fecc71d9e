"""The ``matches`` and ``places`` entries of ``enrich`` as native wire bytes (``EntryWriter``) against
their definition, one ``add`` per entry: equal messages and equal bytes, or None where ``add`` fails."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from newswatch_native import EntryWriter

from newswatch.processor import enrich as enrich_module
from newswatch.processor.enrich import enrich
from newswatch.processor.entries import add_entries, encode_entries, entry_writer
from newswatch.processor.keywords import SNIPPET_CHARS, Match, RegexMatcher, build_matcher, snippet
from newswatch.processor.places import PlaceMatch, default_gazetteer
from newswatch.processor.watchlist import default_watchlist
from newswatch.v1.article_pb2 import Article
from newswatch.v1.enriched_pb2 import EnrichedArticle

from .entry_adds import add_match, add_place

WRITER = entry_writer()
NOW = datetime(2016, 4, 5, 12, 0, tzinfo=UTC)
BENCH = Path(__file__).resolve().parents[2] / "bench" / "enrich.py"

# Text with astral and combining characters, spaces that snippets collapse, empties, and now and then
# a lone surrogate (drawn apart: hypothesis leaves them out of a union with a UTF-8 alphabet).
_CHARS = st.one_of(st.characters(codec="utf-8"), st.sampled_from(" \t\n\xa0\u2028\x1caé字😀\u0301"))


@st.composite
def _texts(draw: st.DrawFn, max_size: int, odds: int) -> str:
    """A text, one in ``odds`` with a lone surrogate."""
    text = draw(st.text(alphabet=_CHARS, max_size=max_size))
    if draw(st.integers(1, odds)) == 1:
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.characters(categories=["Cs"])) + text[at:]
    return text


_TEXT = _texts(12, 40) | st.just("")
_OFFSET = st.sampled_from([0, 1, 127, 128, 2**32 - 1]) | st.integers(0, 2**32 - 1)
_FIELD = st.sampled_from([0, 1, 2, 3, 127, 128, -1])


def _added(build: Callable[[EnrichedArticle], None]) -> EnrichedArticle | None:
    """The message ``build`` fills with ``add``; None when ``add`` refuses an item."""
    out = EnrichedArticle()
    try:
        build(out)
    except (UnicodeEncodeError, ValueError):
        return None
    return out


def _merged(blob: bytes) -> EnrichedArticle:
    out = EnrichedArticle()
    out.MergeFromString(blob)
    return out


def _encodable(*texts: str) -> bool:
    return all(not any(0xD800 <= ord(c) <= 0xDFFF for c in text) for text in texts)


_PLACE = st.builds(
    lambda name, matched, gid, cc, kind, start, end: PlaceMatch(name, matched, gid, cc, kind, start, end),
    _TEXT,
    _TEXT,
    _TEXT,
    _TEXT,
    _TEXT,
    _OFFSET,
    _OFFSET,
)


@given(st.lists(_PLACE, max_size=6), _FIELD)
def test_places_equal_their_adds(places: list[PlaceMatch], field: int) -> None:
    def build(out: EnrichedArticle) -> None:
        for p in places:
            add_place(out, p, field)

    expected = _added(build)
    got = WRITER.places(places, field)
    if expected is None:
        assert got is None
        return
    assert got is not None
    assert got == expected.SerializeToString()  # the very bytes upb writes
    assert _merged(got) == expected


@st.composite
def _text_and_matches(draw: st.DrawFn) -> tuple[str, list[Match]]:
    text = draw(_texts(200, 6))
    point = st.integers(0, len(text))
    found = []
    for a, b in draw(st.lists(st.tuples(point, point), max_size=5)):
        ids = draw(st.tuples(_TEXT, _TEXT, _TEXT, _TEXT))
        found.append(Match(*ids, 1.0, min(a, b), max(a, b), text))
    return text, found


@given(_text_and_matches(), st.sampled_from([1, 2, 3, 0]), st.integers(0, 120))
def test_matches_equal_their_adds(case: tuple[str, list[Match]], field: int, width: int) -> None:
    text, found = case

    def build(out: EnrichedArticle) -> None:
        for m in found:
            # The Python definition of the snippet.
            add_match(out, m, field, text[m.start : m.end], snippet(text, m.start, m.end, width))

    expected = _added(build)
    got = WRITER.matches(text, field, found, width)
    if not _encodable(text) and found:
        assert got is None  # the caller's add path decides (it raises: the text cannot be written)
        return
    if expected is None:
        assert got is None
        return
    assert got is not None
    assert got == expected.SerializeToString()
    assert _merged(got) == expected


@pytest.mark.parametrize(
    ("name", "found"),
    [
        ("start after end", [Match("w", "t", "T", "k", 1.0, 3, 2, "abcd")]),
        ("end past the text", [Match("w", "t", "T", "k", 1.0, 0, 5, "abcd")]),
        ("negative start", [Match("w", "t", "T", "k", 1.0, -1, 2, "abcd")]),
        ("not a str", [Match("w", None, "T", "k", 1.0, 0, 2, "abcd")]),  # type: ignore[arg-type]
        ("not an int", [Match("w", "t", "T", "k", 1.0, 0.0, 2, "abcd")]),  # type: ignore[arg-type]
        ("not a tuple", ["wtTk"]),
        ("too short", [("w", "t")]),
    ],
)
def test_matches_it_cannot_write_are_left_to_add(name: str, found: list[Match]) -> None:
    assert WRITER.matches("abcd", 1, found, SNIPPET_CHARS) is None, name


@pytest.mark.parametrize(
    ("name", "place"),
    [
        ("negative offset", PlaceMatch("Hīt", "Hit", "95788", "IQ", "town", -1, 3)),
        ("offset past uint32", PlaceMatch("Hīt", "Hit", "95788", "IQ", "town", 0, 2**32)),
        ("lone surrogate", PlaceMatch("H\udc00t", "Hit", "95788", "IQ", "town", 0, 3)),
        ("not a str", PlaceMatch("Hīt", "Hit", 95788, "IQ", "town", 0, 3)),  # type: ignore[arg-type]
        ("too short", ("Hīt", "Hit", "95788")),
    ],
)
def test_places_it_cannot_write_are_left_to_add(name: str, place: PlaceMatch) -> None:
    ok = PlaceMatch("Hīt", "Hit", "95788", "IQ", "town", 0, 3)
    assert WRITER.places([ok], 1) is not None
    assert WRITER.places([ok, place], 1) is None, name


def test_an_empty_list_is_no_bytes_and_a_default_entry_is_written_empty() -> None:
    assert WRITER.places([], 1) == b"" and WRITER.matches("\ud800", 1, [], 80) == b""
    (entry,) = [PlaceMatch("", "", "", "", "", 0, 0)]
    expected = EnrichedArticle()
    expected.places.add()
    assert WRITER.places([entry], 0) == expected.SerializeToString() != b""


@pytest.mark.parametrize(
    "numbers",
    [
        (0, [1, 2, 3, 4, 5, 6, 7]),
        (2**29, [1, 2, 3, 4, 5, 6, 7]),
        (3, [1, 2, 3, 4, 5, 6, 6]),
        (3, [1, 2, 3, 4, 5, 6, 0]),
    ],
)
def test_impossible_field_numbers_are_refused(numbers: tuple[int, list[int]]) -> None:
    places_number, place_numbers = numbers
    with pytest.raises(ValueError, match="field numbers"):
        EntryWriter(places_number, place_numbers, range(6), 2, range(1, 10), range(6))


def test_a_text_that_cannot_be_encoded_takes_the_add_path() -> None:
    texts = ["ISIS \ud800", "", ""]
    found = [[Match("w", "t", "T", "k", 1.0, 0, 4, texts[0])], [], []]
    assert encode_entries(texts, found, [[], [], []]) is None
    with pytest.raises(UnicodeEncodeError):  # what ``add`` says of such a text
        add_entries(EnrichedArticle(), texts, found, [[], [], []])


def _bench_corpus() -> list[Article]:
    spec = importlib.util.spec_from_file_location("bench_enrich", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    articles: list[Article] = module.corpus(200)
    return articles


def test_enrich_both_ways_over_the_bench_corpus_and_the_seed(
    seed_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    gazetteer = default_gazetteer()
    matchers = [build_matcher([default_watchlist()]), RegexMatcher([default_watchlist()])]
    articles = [
        *_bench_corpus(),
        Article(article_id="seed", title="Heavy Clashes with ISIS", content=seed_text),
        Article(article_id="s2", summary="ISIS près de Palmyre\u2028et Hīt", content=seed_text[:3000]),
        Article(article_id="empty"),
    ]
    cases = [(a, m) for a in articles for m in matchers[: 1 if a.article_id.startswith("a") else 2]]
    native = [enrich(a, m, gazetteer, now=NOW) for a, m in cases]
    monkeypatch.setattr(enrich_module, "encode_entries", lambda *_: None)
    added = [enrich(a, m, gazetteer, now=NOW) for a, m in cases]
    assert sum(len(e.matches) for e in native) > 1000 and sum(len(e.places) for e in native) > 1000
    for (article, _), got, expected in zip(cases, native, added, strict=True):
        assert got == expected, article.article_id
        assert got.SerializeToString() == expected.SerializeToString(), article.article_id


def test_enrich_takes_the_native_path(seed_text: str) -> None:
    """Well-formed fields are all written natively (``enrich`` falls back only where they cannot be)."""
    gazetteer = default_gazetteer()
    matcher = build_matcher([default_watchlist()])
    texts = ["Heavy Clashes with ISIS in Hīt", "", seed_text]
    places = gazetteer.tag_fields(texts)
    found = [matcher.match(t, p) if t else [] for t, p in zip(texts, places, strict=True)]
    entries = encode_entries(texts, found, places)
    assert entries is not None and entries
    expected = EnrichedArticle()
    add_entries(expected, texts, found, places)
    assert _merged(entries) == expected and len(expected.matches) > 2

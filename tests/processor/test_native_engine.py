"""The compiled engine (``newswatch_native``) against the regular-expression reference on random
watch lists and texts: non-ASCII letters, runs of spaces and hyphens, overlapping keys, case-sensitive
keys, context windows reaching the text edges, resolved places; plus its argument checks."""

from __future__ import annotations

import os
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from newswatch_native import Engine

from newswatch.processor.automaton import build_engine
from newswatch.processor.keywords import AutomatonMatcher, RegexMatcher
from newswatch.v1.watchlist_pb2 import Term, Watchlist

VOCAB = [
    "hit", "Hit", "HIT", "al", "Sham", "al-Sham", "new", "york", "New", "York", "U.S.", "US", "us",
    "H\u012bt", "caf\u00e9", "cafe\u0301", "Stra\u00dfe", "strasse", "\u0153uvre", "OEuvre",
    "\u062a\u062f\u0645\u0631", "\u0394\u03b5\u03bb\u03c4\u03b1", "town", "towns", "Iraq", "iraqi", "x", "ab",
    "Da\u2019esh", "da'esh",
]  # fmt: skip
GLUE = [" ", "  ", "-", " - ", "\n\n", ", ", ". ", "\u00a0", "\u2014", "", "_", "'"]
words = st.sampled_from(VOCAB)
phrases = st.lists(words, min_size=1, max_size=3).map(" ".join)
context_words = st.lists(st.one_of(phrases, words.map(lambda w: w + "*")), max_size=3)


@st.composite
def watchlists(draw: st.DrawFn) -> list[Watchlist]:
    terms = [
        Term(
            term_id=f"t{n}",
            label=f"t{n}",
            weight=1.0,
            aliases=draw(st.lists(phrases, max_size=3)),
            case_sensitive_aliases=draw(st.lists(phrases, max_size=2)),
            context_words=draw(context_words),
            negative_context=draw(context_words),
            context_window_chars=draw(st.integers(0, 40)),
            geonames_id=draw(st.sampled_from(["", "95788"])),
        )
        for n in range(draw(st.integers(1, 6)))
    ]
    return [
        Watchlist(watchlist_id=draw(st.sampled_from(["a", "b"])), threshold=1.0, enabled=True, terms=terms)
    ]


@st.composite
def texts(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.tuples(words, st.sampled_from(GLUE)), max_size=25))
    return "".join(w + g for w, g in parts)


class _Place(NamedTuple):
    start: int
    end: int
    geonames_id: str


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(watchlists(), texts(), st.lists(st.tuples(st.integers(0, 80), st.integers(1, 10)), max_size=3))
def test_random_watch_lists_match_like_the_reference(
    lists: list[Watchlist], text: str, spans: list[tuple[int, int]]
) -> None:
    places = [_Place(start, start + length, "95788") for start, length in spans]
    assert AutomatonMatcher(lists).match(text, places) == RegexMatcher(lists).match(text, places)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(watchlists(), texts(), st.lists(st.tuples(st.integers(0, 80), st.integers(1, 10)), max_size=3))
def test_keys_looked_up_from_word_starts_match_like_the_reference(
    lists: list[Watchlist], text: str, spans: list[tuple[int, int]]
) -> None:
    """The path of large key sets (names hashed from word starts behind a first-word filter, word
    starts found eight bytes at a time) taken with any number of keys."""
    places = [_Place(start, start + length, "95788") for start, length in spans]
    walked = AutomatonMatcher(lists, anchored_above=0)
    assert walked.match(text, places) == RegexMatcher(lists).match(text, places)


@pytest.mark.parametrize(
    "text",
    ["Strasse and Stra\u00dfe", "STRASSE, Stra\u00dfe. strasse Strasse", "Stra\u00dfe Strasse Stra\u00dfe"],
)
def test_names_of_the_same_bytes_in_the_lookup_table_are_all_found(text: str) -> None:
    """A case-sensitive name kept in its letter case ("Strasse") and one checked after folding
    ("Straße" folds to "strasse") share one entry of the table names are looked up in; each term
    still finds its own."""
    lists = [
        Watchlist(
            watchlist_id="w",
            threshold=1.0,
            enabled=True,
            terms=[
                Term(term_id="kept", case_sensitive_aliases=["Strasse"]),
                Term(term_id="folded", case_sensitive_aliases=["Stra\u00dfe"]),
                Term(term_id="both", case_sensitive_aliases=["Strasse", "Stra\u00dfe"]),
            ],
        )
    ]
    expected = RegexMatcher(lists).match(text)
    assert {m.term_id for m in expected} == {"kept", "folded", "both"}
    assert AutomatonMatcher(lists, anchored_above=0).match(text) == expected


@settings(max_examples=150, deadline=None)
@given(watchlists(), st.text(max_size=80))
def test_arbitrary_unicode_never_raises_and_slices_the_text(lists: list[Watchlist], text: str) -> None:
    for m in AutomatonMatcher(lists).match(text):
        assert 0 <= m.start < m.end <= len(text)
        assert text[m.start : m.end] == m.matched_text


def test_a_matcher_is_shared_by_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    matcher = AutomatonMatcher([Watchlist(watchlist_id="w", terms=[Term(term_id="p", aliases=["palmyra"])])])
    text = "Palmyra " * 200
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(matcher.match, [text] * 16))
    assert all(len(r) == 200 for r in results)


@pytest.mark.parametrize(
    "args",
    [
        {"raw_tables": [b"x"] * 4},  # a table of 1 byte
        {"rules": [(5, 0, "", True, 0, False)]},  # a context index out of range
        {"groups": [[3]]},  # a rule index out of range
        {"heads": []},  # a rule without a head
        {"factory": list},  # results must be tuples
        {"factory": os.stat_result},  # a tuple of another C layout
    ],
)
def test_inconsistent_arguments_are_value_errors(args: dict[str, object]) -> None:
    base: dict[str, object] = {
        "factory": tuple,
        "heads": [("w", "t")],
        "raw_tables": [bytes(256)] * 4,
        "folded_tables": [bytes(256)] * 4,
        "folded_patterns": [b" ab "],
        "folded_keys": [(0, [])],
        "cased_patterns": [],
        "cased_keys": [],
        "groups": [[0]],
        "contexts": [],
        "rules": [(-1, 0, "", True, 0, False)],
    }
    Engine(**base)  # type: ignore[arg-type]  # consistent as it is: each case fails for its own reason
    with pytest.raises(ValueError, match=r"range|bytes|tables|number|tuple"):
        Engine(**(base | args))  # type: ignore[arg-type]


def test_an_engine_without_keys_finds_nothing() -> None:
    engine = build_engine(tuple, [], [], [], [])
    assert not engine.needs_cased
    assert AutomatonMatcher([]).match("anything at all") == []


@st.composite
def long_texts(draw: st.DrawFn) -> str:
    """Texts of a few kilobytes (the engine scans long texts in interleaved segments)."""
    parts = draw(st.lists(st.tuples(words, st.sampled_from(GLUE)), min_size=300, max_size=600))
    return "".join(w + g for w, g in parts)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(watchlists(), long_texts())
def test_long_texts_match_like_the_reference(lists: list[Watchlist], text: str) -> None:
    assert AutomatonMatcher(lists).match(text) == RegexMatcher(lists).match(text)


def test_matches_across_segment_borders_are_all_found() -> None:
    matcher = AutomatonMatcher(
        [Watchlist(watchlist_id="w", terms=[Term(term_id="p", aliases=["bilad al sham", "al", "sham"])])]
    )
    for shift in range(12):  # the key straddles every segment border at some shift
        text = "x" * shift + " bilad al sham" * 300
        assert len(matcher.match(text)) == 300
        assert matcher.match(text) == RegexMatcher(matcher.watchlists).match(text)


def test_context_words_across_segment_borders_are_all_found() -> None:
    """Context words are found by the scan that finds the keys: one that straddles a segment border
    still counts, and a negative word there still vetoes."""
    term = Term(
        term_id="p",
        aliases=["sham"],
        context_words=["bilad al"],
        negative_context=["shampoo"],
        context_window_chars=12,
    )
    matcher = AutomatonMatcher([Watchlist(watchlist_id="w", terms=[term])])
    for shift in range(12):  # every context word straddles every segment border at some shift
        text = "x" * shift + " bilad al sham" * 200 + " sham shampoo" * 100
        found = matcher.match(text)
        assert len(found) == 200
        assert found == RegexMatcher(matcher.watchlists).match(text)


SHOUTING = [
    "IS",
    "EU",
    "WHAT",
    "NEXT",
    "is",
    "A",
    "B2",
    "X_Y",
    "(IS)",
    "FOR",
    "Hīt",
    "ÉTAT",
    "x" * 18,
    "2024",
]
SPACES = [
    " ",
    "  ",
    "\t",
    "\x1c",
    "\n",
    "-",
    ", ",
    "\u00a0",
    "",
    "\u2003",
    "\u3000",
    "\u00e9",
    "\u00c9,",
    "\U0001d400",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(SHOUTING), st.sampled_from(SPACES)), max_size=12))
def test_shouted_acronyms_are_judged_like_the_reference(parts: list[tuple[str, str]]) -> None:
    lists = [Watchlist(watchlist_id="w", terms=[Term(term_id="is", case_sensitive_aliases=["IS", "EU"])])]
    text = "".join(w + g for w, g in parts)
    assert AutomatonMatcher(lists).match(text) == RegexMatcher(lists).match(text)

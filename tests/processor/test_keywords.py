"""The matchers: every labelled dev sentence, rule tables, and properties over arbitrary text.

Every test runs against the automaton matcher and the regular-expression reference.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newswatch.processor.keywords import AutomatonMatcher, Matcher, RegexMatcher, build_matcher
from newswatch.processor.watchlist import default_watchlist, parse_watchlists

DEV = Path(__file__).resolve().parents[2].parent / "shared" / "eval" / "keywords-dev.jsonl"
IMPLEMENTATIONS = [AutomatonMatcher, RegexMatcher]
MATCHERS = {cls.__name__: cls([default_watchlist()]) for cls in IMPLEMENTATIONS}


@pytest.fixture(params=list(MATCHERS))
def matcher(request: pytest.FixtureRequest) -> Matcher:
    return MATCHERS[request.param]


def test_build_matcher_is_the_automaton() -> None:
    assert isinstance(build_matcher([default_watchlist()]), AutomatonMatcher)


def _dev_cases() -> list[dict[str, object]]:
    if not DEV.exists():
        pytest.fail(f"labelled sentences missing at {DEV}")
    return [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("case", _dev_cases(), ids=lambda c: str(c["id"]))
def test_dev_sentence(matcher: Matcher, case: dict[str, object]) -> None:
    text = str(case["text"])
    found = sorted({m.term_label for m in matcher.match(text)})
    assert found == sorted(case["terms"])  # type: ignore[type-var]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ISIS militants destroyed the temple of Bel.", {"isis"}),  # ISIS in capitals ignores "temple"
        ("The goddess Isis and her temple in Philae.", set()),
        ("Isis Pharmaceuticals reported earnings in Syria.", set()),
        ("WHAT IS NEXT FOR THE GROUP", set()),  # shouted headline, not the acronym
        ("L'Etat islamique a perdu Raqqa.", {"isis"}),
        ("un état islamique", set()),  # the generic phrase, not the organisation
        ("Da\u2019esh fighters", {"isis"}),  # typographic apostrophe
        ("داعش تسيطر على تدمر", {"isis", "palmyra"}),
        ("Pa\u0301lmyra was shelled", {"palmyra"}),  # accents are folded, even decomposed ones
        ("Palmyras were shelled", set()),  # whole words only
        ("Palmyra, NJ officials met.", set()),
        ("Hit, on the Euphrates, was retaken.", {"hit"}),
        ("Hit by shells, the town of Ramadi burned.", set()),
        ("The box-office hit opened in Baghdad.", set()),
        ("Fighting near the Iraqi town of HIT", set()),  # capitals only count for the written form
    ],
)
def test_rules(matcher: Matcher, text: str, expected: set[str]) -> None:
    assert {m.term_id for m in matcher.match(text)} == expected


def test_match_fields_point_into_the_original_text(matcher: Matcher) -> None:
    text = "Les djihadistes de l'\u00c9tat islamique ont repris Palmyre."
    matches = matcher.match(text)
    assert [(m.term_id, m.matched_text) for m in matches] == [
        ("isis", "\u00c9tat islamique"),
        ("palmyra", "Palmyre"),
    ]
    for m in matches:
        assert text[m.start : m.end] == m.matched_text
        assert m.matched_text in m.snippet
        assert m.watchlist_id == "default"


def test_decomposed_accents_keep_their_letter(matcher: Matcher) -> None:
    text = "The city of Hi\u0304t in western Iraq"
    (m,) = matcher.match(text)
    assert m.matched_text == "Hi\u0304t" and text[m.start : m.end] == m.matched_text


def test_longer_alias_wins_and_nested_matches_collapse(matcher: Matcher) -> None:
    text = "the Islamic State of Iraq and the Levant"
    (m,) = matcher.match(text)
    assert m.matched_text == "Islamic State of Iraq and the Levant"


def test_boilerplate_is_not_matched(matcher: Matcher, seed_text: str) -> None:
    footer = seed_text.index("La source originale")
    assert all(m.start < footer for m in matcher.match(seed_text))
    assert not matcher.match("body\n\n" * 20 + "Copyright \u00a9 Daesh Media 2016")


def test_seed_article_yields_the_three_terms(matcher: Matcher, seed_text: str) -> None:
    assert {m.term_id for m in matcher.match(seed_text)} == {"isis", "palmyra", "hit"}


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_several_watchlists_in_one_pattern(
    implementation: type[AutomatonMatcher] | type[RegexMatcher],
) -> None:
    extra = parse_watchlists(
        {"id": "energy", "terms": [{"id": "oil", "kind": "keyword", "aliases": ["oil field", "pétrole"]}]}
    )
    matcher = implementation([default_watchlist(), *extra])
    found = {(m.watchlist_id, m.term_id) for m in matcher.match("ISIS near the Qayyarah oil field")}
    assert found == {("default", "isis"), ("energy", "oil")}


words = st.sampled_from(
    ["ISIS", "Isis", "IS", "EI", "Hit", "hit", "Palmyra", "Palmyre", "Daesh", "\u00c9tat", "islamique",
     "town", "of", "Anbar", "goddess", "fighters", "New", "Jersey", "-", ",", ".", "\n", "\u00a9", "tadmur"]
)  # fmt: skip
texts = st.one_of(st.text(max_size=300), st.lists(words, max_size=40).map(" ".join))


AUTOMATON = MATCHERS["AutomatonMatcher"]


@settings(max_examples=300, deadline=None)
@given(texts)
def test_never_raises_and_offsets_slice_the_original(text: str) -> None:
    for m in AUTOMATON.match(text):
        assert 0 <= m.start < m.end <= len(text)
        assert text[m.start : m.end] == m.matched_text


@settings(max_examples=200, deadline=None)
@given(texts)
def test_composed_and_decomposed_text_match_alike(text: str) -> None:
    nfc = {m.term_id for m in AUTOMATON.match(unicodedata.normalize("NFC", text))}
    nfd = {m.term_id for m in AUTOMATON.match(unicodedata.normalize("NFD", text))}
    assert nfc == nfd


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["Daesh", "ISIL", "Palmyre", "Tadmur", "Daech"]), st.text(max_size=40))
def test_case_insensitive_aliases_ignore_case(alias: str, noise: str) -> None:
    text = f"{noise} {alias} fighters"
    for variant in (alias.lower(), alias.upper(), alias.title()):
        found = {m.term_id for m in AUTOMATON.match(text.replace(alias, variant))}
        assert found == {m.term_id for m in AUTOMATON.match(text)}

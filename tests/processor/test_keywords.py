"""The matchers: every labelled dev sentence, rule tables, and properties over arbitrary text.

Every test runs against the automaton matcher and the regular-expression reference.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newswatch.processor.keywords import AutomatonMatcher, Match, Matcher, RegexMatcher, build_matcher
from newswatch.processor.places import default_gazetteer
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
        ("Palmyra High School won the state title.", set()),  # an American Palmyra's school
        ("Hit, on the Euphrates, was retaken.", {"hit"}),
        ("Hit by shells, the town of Ramadi burned.", set()),
        ("The box-office hit opened in Baghdad.", set()),
        ("Fighting near the Iraqi town of HIT", set()),  # capitals only count for the written form
        # Title-case headlines: a capitalised common word between capitalised words is the word.
        ("Mortar Rounds Hit Baghdad's Green Zone", set()),
        ("Suicide Bomber Hit Army Checkpoint in Anbar Province", set()),
        ("Airstrikes Hit ISIS Positions in Syria", {"isis"}),
        ("Iraqi troops entered Hit on Thursday", {"hit"}),  # a lower-case neighbour
        ("Fighting in Haditha, Hit and Ramadi", {"hit"}),  # punctuation between the words
        ("Anbar's Hit District was retaken", {"hit"}),  # a place word after it
        ("Families returned to Hit\nAnbar Officials Said", {"hit"}),  # a line break
        ("Police Arrest Isis Suspects in Syria", {"isis"}),  # not a common word: the capital counts
        # A negative phrase naming the term vetoes the hit it overlaps, a capitalised one only at a
        # sentence start.
        ("A convoy was hit by a roadside bomb near the town of Hit.", {"hit"}),
        ("Militants were driven out of Hit by Iraqi forces.", {"hit"}),
        ('"Hit by shells," the town of Ramadi burned.', set()),
        ("Near Ramadi. Hit by shells, the town burned.", set()),
        # "l'EI" needs no context, but is not the entreprise individuelle.
        ("Les membres de l'EI ont exécuté des prisonniers.", {"isis"}),
        ("Le statut de l'EI protège le patrimoine personnel.", set()),
        # A direction from the place is place context.
        ("Fighters regrouped in the desert west of Hit.", {"hit"}),
        ("Les combats ont repris au nord de Hit.", {"hit"}),
        ("The troops reached the centre of Hit.", {"hit"}),
        # So is a preposition just before the name, unless it begins another name.
        ("Fighters had planted mines around Hit before retreating.", {"hit"}),
        ("The battle for Hit lasted nearly a month.", {"hit"}),
        ("The band recorded at Hit Factory studios.", set()),
        ("Fans tuned in to Hit FM all night.", set()),
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

    def of_alias(matches: list[Match]) -> set[tuple[int, str]]:
        # only the alias's own matches: a shouted neighbour may change how an acronym nearby reads
        return {(m.start, m.term_id) for m in matches if m.matched_text.casefold() == alias.casefold()}

    for variant in (alias.lower(), alias.upper(), alias.title()):
        assert of_alias(AUTOMATON.match(text.replace(alias, variant))) == of_alias(AUTOMATON.match(text))


# --- the Hit rule: place context OR a gazetteer resolution to Hīt, Iraq (GeoNames 95788) ------------

HIT_ID = "95788"


class _Place(NamedTuple):
    start: int
    end: int
    geonames_id: str


def _places_at(text: str, word: str, geonames_id: str) -> list[_Place]:
    at = text.index(word)
    return [_Place(at, at + len(word), geonames_id)]


@pytest.mark.parametrize(
    ("text", "resolved_to", "expected"),
    [
        # no context word within the window (nor a preposition just before): the tagger's resolution
        # decides
        (
            "Fighting resumed as Hit braced for Sunday, a spokesman told reporters at a briefing.",
            HIT_ID,
            True,
        ),
        ("Fighting resumed as Hit braced for Sunday, a spokesman told reporters at a briefing.", "", False),
        ("Fighting resumed as Hit braced for Sunday, a spokesman told reporters at a briefing.", "1", False),
        (
            "Les combats ont repris et Hit a tenu dimanche matin, selon un porte-parole militaire.",
            HIT_ID,
            True,
        ),
        ("Des familles ont quitté Hit jeudi, après des mois passés loin de chez elles.", HIT_ID, True),
        ("Des familles ont quitté Hit jeudi, après des mois passés loin de chez elles.", "", False),
        # negative context still vetoes, resolved or not
        ("Hit by a roadside bomb, the convoy stopped for the night.", HIT_ID, False),
        ("Hit hard by the storm, farmers counted their losses for weeks.", HIT_ID, False),
        ("Ce titre est devenu le hit de l'été sur les radios.", HIT_ID, False),  # lower case: no hit at all
        ("The airstrike hit a convoy on the road.", HIT_ID, False),
        # context words alone still suffice
        ("Government troops recaptured Hit, a town on the Euphrates.", "", True),
        ("La ville de Hit, sur l'Euphrate, était encerclée.", "", True),
    ],
)
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_hit_needs_place_context_or_a_resolution_to_hit_iraq(
    implementation: type[AutomatonMatcher] | type[RegexMatcher], text: str, resolved_to: str, expected: bool
) -> None:
    matcher = implementation([default_watchlist()])
    word = "Hit" if "Hit" in text else "hit"
    places = _places_at(text, word, resolved_to) if resolved_to else []
    found = [m for m in matcher.match(text, places) if m.term_id == "hit"]
    assert bool(found) is expected
    assert all(text[m.start : m.end] == "Hit" for m in found)


def test_a_resolution_elsewhere_in_the_text_does_not_count() -> None:
    text = "Fighting resumed as Hit braced for Sunday, a spokesman told reporters at a briefing; Hit is calm."
    elsewhere = [_Place(text.rindex("Hit"), text.rindex("Hit") + 3, HIT_ID)]
    found = [m.start for m in AUTOMATON.match(text, elsewhere) if m.term_id == "hit"]
    assert found == [text.rindex("Hit")]


def test_terms_without_context_words_ignore_places() -> None:
    text = "Palmyra, New Jersey, held a parade."  # negative context: a resolution cannot override it
    assert AUTOMATON.match(text, _places_at(text, "Palmyra", "163808")) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Ramadi lies outside the context window, yet tells the tagger which Hit this is (the tagger
        # reads "across" and "through" as locative; the term's own context does not list them)
        (
            "Fighting spread across Hit on Sunday, a spokesman told reporters at a briefing, as troops "
            "pushed on toward Ramadi.",
            True,
        ),
        (
            "Convoys moved through Hit on Sunday morning, a military spokesman told the agency, as "
            "troops pushed on toward Ramadi.",
            True,
        ),
        ("Hit by a roadside bomb, the convoy stopped while soldiers secured the road near Ramadi.", False),
        ("Hit men working for the cartel were arrested on Sunday, police in Baghdad told reporters.", False),
        ("Hit the road, the commander told his men before the long drive west from Baghdad.", False),
    ],
)
def test_hit_with_the_real_gazetteer(text: str, expected: bool) -> None:
    places = default_gazetteer().tag_places(text)
    assert bool([m for m in AUTOMATON.match(text, places) if m.term_id == "hit"]) is expected
    assert not [m for m in AUTOMATON.match(text) if m.term_id == "hit"]  # the context words alone: no


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize(
    "term",
    [
        {"id": "p", "aliases": ["Palmyre", "PALMYRE", "palmyré"]},  # one key, three times
        {
            "id": "p",
            "case_sensitive_aliases": ["Palmyre"],
            "variants": [{"case_sensitive_aliases": ["Palmyre"]}],
        },
        {"id": "p", "aliases": ["palmyre"], "case_sensitive_aliases": ["Palmyre"]},  # both classes
    ],
)
def test_one_match_per_term_and_span(
    implementation: type[AutomatonMatcher] | type[RegexMatcher], term: dict[str, object]
) -> None:
    matcher = implementation(parse_watchlists({"id": "x", "terms": [term]}))
    assert [(m.term_id, m.start, m.end) for m in matcher.match("à Palmyre, puis Palmyre")] == [
        ("p", 2, 9),
        ("p", 16, 23),
    ]

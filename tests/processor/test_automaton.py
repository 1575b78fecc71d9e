"""The automaton engine: projection, whole words, overlap policy, context windows, and the automaton
matcher against the regular-expression reference on random texts."""

from __future__ import annotations

import random
import re
import unicodedata
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from newswatch.processor.automaton import (
    Probe,
    _direct_bytes,
    _direct_stand_in,
    char_tables,
    prepare,
    sentence_start,
    title_word,
    titled,
)
from newswatch.processor.keywords import AutomatonMatcher, RegexMatcher, own_words, phrase_key
from newswatch.processor.normalize import fold, mask_boilerplate
from newswatch.processor.watchlist import default_watchlist, parse_watchlists
from newswatch.v1.watchlist_pb2 import Term, Watchlist


def _matcher(*aliases: str, sensitive: bool = False, **rule: object) -> AutomatonMatcher:
    """One term per alias (term id and label: the alias), optionally with one shared context rule."""
    field = "case_sensitive_aliases" if sensitive else "aliases"
    terms = [Term(term_id=a, label=a, weight=1.0, **{field: [a]}, **rule) for a in aliases]  # type: ignore[arg-type]
    return AutomatonMatcher([Watchlist(watchlist_id="t", threshold=1.0, enabled=True, terms=terms)])


def _found(matcher: AutomatonMatcher, text: str) -> list[tuple[str, str]]:
    return [(m.term_id, m.matched_text) for m in matcher.match(text)]


@pytest.mark.parametrize(
    ("aliases", "text", "expected"),
    [
        (
            ["palmyra"],
            "Palmyra, Palmyras, (PALMYRA) x-palmyra_",
            [("palmyra", "Palmyra"), ("palmyra", "PALMYRA")],
        ),
        (["new york", "new york city"], "in New York City today", [("new york city", "New York City")]),
        # the longest key occurring as a WHOLE word
        (["new york", "new york city"], "New York Cityscape", [("new york", "New York")]),
        (
            ["new york"],
            "New\n\n  York / New - York / New-York",
            [("new york", "New\n\n  York"), ("new york", "New - York"), ("new york", "New-York")],
        ),
        (["new york"], "new.york, new,york", []),  # only spaces and hyphens join the words of a phrase
        (["u.s."], "the U.S. army, U.S.A., u s", [("u.s.", "U.S.")]),  # punctuation keys are re-checked
        (["da'esh"], "Da\u2019esh and Da esh", [("da'esh", "Da\u2019esh")]),
        (
            ["état islamique"],
            "L'ETAT ISLAMIQUE et l'\u00c9tat islamique",
            [("état islamique", "ETAT ISLAMIQUE"), ("état islamique", "\u00c9tat islamique")],
        ),
        (["cœur"], "le c\u0153ur, le coeur", [("cœur", "c\u0153ur"), ("cœur", "coeur")]),  # folded path
        (["تدمر"], "داعش تسيطر على تدمر.", [("تدمر", "تدمر")]),
        (["ab"], "ab ab", [("ab", "ab"), ("ab", "ab")]),  # adjacent hits share a frame space
    ],
)
def test_whole_words_and_leftmost_longest(
    aliases: list[str], text: str, expected: list[tuple[str, str]]
) -> None:
    assert _found(_matcher(*aliases), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hit, then hit and HIT", ["Hit"]),
        ("The town of H\u012bt", ["H\u012bt"]),  # a wide character folding to one letter: direct path
        ("The town of Hi\u0304t", ["Hi\u0304t"]),  # a combining mark: folded path, span keeps the mark
        ("STRASSE Straße Strasse", ["Straße"]),
    ],
)
def test_case_sensitive_keys(text: str, expected: list[str]) -> None:
    matcher = _matcher("Hit", "Straße", sensitive=True)
    assert [found for _, found in _found(matcher, text)] == expected


def test_case_sensitive_keys_never_match_across_a_sharp_s() -> None:
    # "ß" folds to "ss" case-insensitively but stays "ß" with its case kept: "Strasse" (case-sensitive)
    # is not "Straße", while the case-insensitive key is.
    terms = [
        Term(term_id="cased", case_sensitive_aliases=["Strasse"]),
        Term(term_id="lower", aliases=["strasse"]),
    ]
    matcher = AutomatonMatcher([Watchlist(watchlist_id="t", terms=terms)])
    assert _found(matcher, "Straße Strasse") == [
        ("lower", "Straße"),
        ("cased", "Strasse"),
        ("lower", "Strasse"),
    ]


def test_classes_overlap_but_each_is_leftmost_longest() -> None:
    terms = [
        Term(term_id="lower", aliases=["islamic state"]),
        Term(term_id="cased", case_sensitive_aliases=["Islamic State"]),
        Term(term_id="word", aliases=["state"]),
    ]
    matcher = AutomatonMatcher([Watchlist(watchlist_id="t", terms=terms)])
    assert [(m.term_id, m.start, m.end) for m in matcher.match("the Islamic State group")] == [
        ("cased", 4, 17),
        ("lower", 4, 17),
    ]


def test_projection_offsets_survive_runs_and_folding() -> None:
    text = "a\n\n\nb \u0153uvre  c\u0301d"
    assert prepare(text).folded is not None  # "œ" folds to two characters
    found = [(m.start, m.end) for m in _matcher("b", "œuvre", "ćd").match(text)]
    assert found == [(4, 5), (6, 11), (13, 16)]  # "ćd" keeps its combining accent


def test_stand_in_bytes_are_one_per_character() -> None:
    assert prepare("ab Hīt \u2019").source == b"ab Hit '"  # wide characters folding to one: raw path
    assert prepare("plain", cased=False).cased is None


@pytest.mark.parametrize(
    ("text", "holds"),
    [
        ("Hit is a town", True),
        ("Hit by fire in the town", False),  # the negative phrase overlaps the hit
        ("Hit " + "x" * 60 + " town", False),  # context too far
        ("the towns of Hit", False),  # whole words only
        ("Iraqi Hit", True),  # prefix word
        ("town-hit", True),  # hyphen separates
    ],
)
def test_context_rule_windows(text: str, holds: bool) -> None:
    rule = {"context_words": ["town", "iraq*"], "negative_context": ["hit by"], "context_window_chars": 30}
    sensitive, insensitive = _matcher("Hit", sensitive=True, **rule), _matcher("hit", **rule)
    assert bool(sensitive.match(text) or insensitive.match(text)) is holds


def test_context_word_cut_by_the_window_end_counts_like_the_regex() -> None:
    # The regular expression this replaces searches up to the window end and sees "iraq" in "Iraq|i".
    def found(window: int) -> bool:
        return bool(
            _matcher("Hit", sensitive=True, context_words=["iraq"], context_window_chars=window).match(
                "Hit near Iraqi"
            )
        )

    assert found(len(" near Iraq"))
    assert not found(len(" near Iraqi"))


def test_a_context_word_ending_in_punctuation_cut_by_the_window_end() -> None:
    # "u.s." ends in a non-word character: the window end may not stand in for it (this once raised).
    for window in (5, 6):  # "U.S" is not "u.s." anyway
        assert _matcher("alpha", context_words=["u.s."], context_window_chars=window).match("alpha U.S") == []


# --- the matcher against the reference ------------------------------------------------------------

EXTRA = parse_watchlists(
    [
        {
            "id": "geo",
            "terms": [
                {"id": "ny", "case_sensitive_aliases": ["New York", "NYC"], "aliases": ["new york city"]},
                {
                    "id": "us",
                    "case_sensitive_aliases": ["U.S.", "US"],
                    "aliases": ["united states"],
                    "context_words": ["army", "troops", "president*"],
                    "context_window_chars": 20,
                },
                {
                    "id": "sham",
                    "aliases": ["al-Sham", "bilad al sham"],
                    "negative_context": ["new york*", "N.J"],
                    "context_window_chars": 15,
                },
                {
                    "id": "cafe",
                    "aliases": ["café noir", "cœur", "Straße"],
                    "case_sensitive_aliases": ["Œuvre"],
                },
                {
                    "id": "ar",
                    "aliases": ["تدمر الجديدة"],
                    "context_words": ["داعش", "town"],
                    "context_window_chars": 10,
                },
            ],
        }
    ]
)
LISTS = [default_watchlist(), *EXTRA]
AUTOMATON, REFERENCE = AutomatonMatcher(LISTS), RegexMatcher(LISTS)
WALKED = AutomatonMatcher(LISTS, anchored_above=0)  # names walked from their word starts
WORDS = [
    "ISIS", "Isis", "IS", "EI", "Hit", "hit", "Palmyra", "Palmyre", "Daesh", "\u00c9tat", "islamique",
    "Islamic", "State", "of", "Iraq", "and", "the", "Levant", "town", "Anbar", "goddess", "fighters", "New",
    "York", "City", "new", "york", "NYC", "U.S.", "US", "army", "presidential", "al-Sham", "al", "Sham",
    "bilad", "N.J", "café", "cafe\u0301", "noir", "cœur", "coeur", "Straße", "strasse", "Œuvre", "OEuvre",
    "تدمر", "الجديدة", "داعش", "-", ",", ".", "\n", "  ", "\u00a9", "Copyright", "\u2019", "\u2014", "…",
    "ﬁ", "«", "hit by", "Iraqi",
]  # fmt: skip
words = st.sampled_from(WORDS)
texts = st.one_of(
    st.text(max_size=200),
    st.lists(words, max_size=50).map(" ".join),
    st.lists(words, max_size=50).map("".join),
    st.lists(st.one_of(words, st.characters()), max_size=60).map(" ".join),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
@example("d\u0622\u0639\u0634\x87")  # a C1 control beside a bucketed Arabic letter
@example("new.york New  York")
def test_same_matches_as_the_reference(text: str) -> None:
    expected = REFERENCE.match(text)
    assert AUTOMATON.match(text) == expected
    assert WALKED.match(text) == expected


class _Place(NamedTuple):
    start: int
    end: int
    geonames_id: str


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts, st.lists(st.tuples(st.integers(0, 200), st.integers(1, 12), st.sampled_from(["95788", "1"]))))
def test_same_matches_as_the_reference_with_resolved_places(
    text: str, spans: list[tuple[int, int, str]]
) -> None:
    places = [_Place(start, start + length, gid) for start, length, gid in spans]
    expected = REFERENCE.match(text, places)
    assert AUTOMATON.match(text, places) == expected
    assert WALKED.match(text, places) == expected


@settings(max_examples=300, deadline=None)
@given(texts)
def test_offsets_always_slice_the_matched_text(text: str) -> None:
    for m in AUTOMATON.match(text):
        assert 0 <= m.start < m.end <= len(text)
        assert text[m.start : m.end] == m.matched_text
        assert m.matched_text.strip() == m.matched_text


ACCENTED = {
    "e": "\u00e9\u00e8\u00ea\u0113",
    "a": "\u00e0\u00e2\u0101",
    "i": "\u00ee\u012b",
    "o": "\u00f4\u014d",
}


INSENSITIVE = ["Daesh", "Palmyre", "Tadmur", "ISIL", "bilad al sham", "café noir"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(INSENSITIVE), min_size=1, max_size=4), st.lists(words, max_size=12), st.randoms()
)
def test_folding_invariance_for_case_insensitive_aliases(
    aliases: list[str], noise: list[str], rnd: random.Random
) -> None:
    base = " ".join([*noise, *aliases, "."])

    def vary(alias: str) -> str:
        out = "".join(rnd.choice(ACCENTED.get(c.lower(), c)) if rnd.random() < 0.3 else c for c in alias)
        return "".join(c.upper() if rnd.random() < 0.5 else c.lower() for c in out)

    varied = base
    for alias in aliases:
        varied = varied.replace(alias, vary(alias))
    keys = {phrase_key(fold(a).text) for a in aliases}

    def of_aliases(text: str) -> list[tuple[str, str]]:
        # the aliases' own matches: a shouted neighbour may change how an acronym nearby reads
        found = [(phrase_key(fold(m.matched_text).text), m.term_id) for m in AUTOMATON.match(text)]
        return sorted(f for f in found if f[0] in keys)

    expected = of_aliases(base)
    assert of_aliases(varied) == expected
    assert of_aliases(unicodedata.normalize("NFD", varied)) == expected


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["Daesh", "Palmyra", "Tadmur", "ISIL", "ISIS"]),
    st.text("abcxyz019_\u00e9", min_size=1, max_size=3),
    st.booleans(),
)
def test_an_alias_inside_a_longer_word_never_matches(alias: str, glue: str, before: bool) -> None:
    word = glue + alias if before else alias + glue
    assert AUTOMATON.match(f"the {word} fighters") == []


# --- many case-sensitive names (most walked from capitalised word starts) -------------------------

NAMES = [
    "New", "New York", "New York City", "York", "York City", "City", "Saint Denis", "Saint-Denis", "Denis",
    "O'Brien", "Brien", "Côte d'Ivoire", "N'Djamena", "Djamena", "Ağrı", "Agri Dagi", "Łódź", "Ærø",
    "Αθήνα", "Άγιος Νικόλαος", "Москва", "Straße", "ÉTAT", "État", "10 Downing Street", "9th Army",
    "Downing Street", "de Gaulle", "iPhone", "al-Qaim", "Al Qaim", "تدمر", "U.S.", "US", "UK", "Ab", "A",
    "Z_1", "_Tag", "Ünye", "İzmir", "Ĳssel", "Øresund", "Ångström", "St. Louis", "St Louis", "U.S. Army",
    # words across 8-byte boundaries and keys longer than the table's 16 inline bytes
    "Abcdefg", "Abcdefgh Ijklmnop", "Llanfairpwllgwyngyll", "Llanfairpwllgwyngyll Station",
]  # fmt: skip
NAME_LISTS = parse_watchlists(
    [
        {
            "id": "names",
            "terms": [
                *({"id": f"n{i}", "case_sensitive_aliases": [name]} for i, name in enumerate(NAMES)),
                {"id": "lower", "aliases": ["new york times", "denis", "agri"]},
                {"id": "pair", "case_sensitive_aliases": ["New York", "York City"], "aliases": ["city"]},
            ],
        }
    ]
)
NAMES_AUTOMATON, NAMES_REFERENCE = AutomatonMatcher(NAME_LISTS), RegexMatcher(NAME_LISTS)
NAMES_WALKED = AutomatonMatcher(NAME_LISTS, anchored_above=0)
NAME_WORDS = [
    *NAMES, *(n.lower() for n in NAMES), *(n.upper() for n in NAMES), "pre-York", "l'Ivoire", "d'Agri",
    '"New', "'York", "«Αθήνα»", "-Denis", "x-New", "9th", "10", "Times", "ΑΘΗΝΑ", "MOSCOW", "ẞ", "ß",
    "\u0130", "ǅ", "ﬁ", "Ǆ", "-", "'", '"', "\u2019", ".", ",", "\n", " ", "  ", "Abcdefghi", "Abcdefgh",
    "Llanfairpwllgwyngylly", "Llanfairpwllgwyngyl",
]  # fmt: skip
name_words = st.sampled_from(NAME_WORDS)
name_texts = st.one_of(
    st.lists(name_words, max_size=40).map(" ".join),
    st.lists(name_words, max_size=40).map("".join),
    st.lists(st.one_of(name_words, st.characters()), max_size=40).map(" ".join),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name_texts)
@example("the New York City-York «Αθήνα» l'Ivoire Côte d'Ivoire N'Djamena 10 Downing Street")
@example("ǄAMENA Ærø ÆRØ ærø İzmir izmir Ĳssel IJssel")
def test_case_sensitive_names_match_like_the_reference(text: str) -> None:
    expected = NAMES_REFERENCE.match(text)
    assert NAMES_AUTOMATON.match(text) == expected
    assert NAMES_WALKED.match(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"New York City" and York', ["New York City", "York"]),
        ("l'Ivoire, Côte d'Ivoire, côte d'ivoire", ["Côte d'Ivoire"]),
        ("«Αθήνα» ΑΘΗΝΑ αθήνα", ["Αθήνα"]),
        ("x-New 10 Downing Street", ["New", "10 Downing Street"]),
        ("Ærø, ærø, Łódź and İzmir", ["Ærø", "Łódź", "İzmir"]),
        (
            "Llanfairpwllgwyngylly Llanfairpwllgwyngyll Station Abcdefghi Abcdefg Abcdefgh Ijklmnopq",
            ["Llanfairpwllgwyngyll Station", "Abcdefg"],
        ),
    ],
)
def test_case_sensitive_names_are_found_at_any_word_start(text: str, expected: list[str]) -> None:
    for matcher in (NAMES_AUTOMATON, NAMES_WALKED):
        found = [m.matched_text for m in matcher.match(text) if m.term_id.startswith("n")]
        assert found == expected


def _prepared(matcher: AutomatonMatcher, text: str) -> list[object]:
    """``match`` the long way: boilerplate masked and stand-in bytes prepared in Python."""
    masked = mask_boilerplate(text)
    source, cased, folded = prepare(masked, matcher._engine.needs_cased)
    engine = matcher._engine
    return engine.match(source, cased, folded is not None, masked, text, [], Probe(masked, folded))


one_call_texts = st.one_of(
    texts,
    st.lists(
        st.one_of(words, st.sampled_from(["\n\n", "Copyright 2016 ", "\u00a9 ", "\U0001d400"])), max_size=40
    ).map(" ".join),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(one_call_texts)
@example("Hit town\n\nCopyright 2016 Hit town \u0153uvre")  # a footer hiding the only folded character
@example("ISIS fighters \U0001d400")
def test_the_one_call_path_equals_the_prepared_path(text: str) -> None:
    """``match_text`` masks and prepares in compiled code: the same matches as the Python steps, and
    it declines exactly the texts whose masked form has no raw stand-in bytes (or that leave the BMP)."""
    for matcher in (AUTOMATON, WALKED):
        found = matcher._engine.match_text(text, [], Probe)
        direct = _direct_bytes(mask_boilerplate(text)) is not None
        if max(map(ord, text), default=0) >= 0x10000:
            assert found is None
        else:
            assert (found is not None) == direct
        if found is not None:
            assert found == _prepared(matcher, text)


def test_character_tables_agree_with_python() -> None:
    """The compiled matcher's per-character tables: ``\\s``, ``\\w``, ``\\d`` and case-insensitive letters
    as ``re`` reads them, and the raw stand-in bytes of ``prepare``."""
    stand_in, flags, letter = char_tables()
    every = "".join(map(chr, range(0x10000)))
    for bit, pattern in ((2, r"\s"), (4, r"\w"), (8, r"\d")):
        assert {m.start() for m in re.finditer(pattern, every)} == {
            x for x in range(0x10000) if flags[x] & bit
        }
    for target in "abcdefghijklmnopqrstuvwxyz\u00e9":
        expected = {m.start() for m in re.finditer(target, every, re.IGNORECASE)}
        assert {x for x in range(0x10000) if letter[x] == ord(target)} == expected
    rng = random.Random(7)
    for x in [*range(0x80, 0x300), *rng.sample(range(0x300, 0x10000), 3000)]:
        one = _direct_stand_in(chr(x))
        assert bool(flags[x] & 1) == (one is not None)
        if one is not None:
            assert bytes([stand_in[x]]) == _direct_bytes("a" + chr(x))[1:]


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("Hit", True),
        ("May", True),
        ("Hīt", False),  # not a common word
        ("Isis", False),
        ("HIT", False),  # capitals throughout: the shouted-acronym rule's business
        ("hit", False),
        ("Hit-and-run", False),  # one alphabetic word only
        ("A", False),
    ],
)
def test_title_words(word: str, expected: bool) -> None:
    assert title_word(word) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a title-case run
        ("Mortar Rounds Hit Baghdad's Green Zone", True),
        ("Suicide Bomber Hit Army Checkpoint", True),
        ("Iraqi Forces Retake Hit From Islamic State", True),  # the price: title case hides the town
        ("Rounds Hit, Baghdad Says", False),
        ("Anbar's Hit District", False),
        ("Anbar's Hit Province:", False),
        ("Rounds  Hit From Here", False),  # two spaces: no run
        ("(Rounds) Hit From Here", False),
        ("Rounds\nHit From Here", False),  # a line break: no run
        ("Rounds Hit\nBaghdad", False),
        # the first word of another name
        ("recorded at Hit Factory studios", True),
        ("on Hit FM.", True),
        ("near Hit ISIS fighters", True),  # the price of a missing comma
        ("Rounds Hit \u00c9vreux", True),
        # a lower-case, common or place word after it
        ("Iraqi troops entered Hit on Thursday", False),
        ("Iraqi troops entered Hit Sunday", False),
        ("Fighting in Haditha, Hit and Ramadi", False),
        ("Rounds Hit", False),
    ],
)
def test_title_case_runs(text: str, expected: bool) -> None:
    start = text.index("Hit")
    assert titled(text, start, start + 3) is expected


TITLE_TOKENS = ["Hit", "May", "Rounds", "Baghdad's", "District", "on", "Iraq", "ISIS", "\u00c9vreux",
                "\u00e9t\u00e9", "(Forces)", "Hit,", "7", "Hīt", "From", "Sunday", "FM.", "Factory",
                "Zone:", "Anbar's"]  # fmt: skip
TITLE_GAPS = [" ", "  ", "\n", ", ", "-"]


@settings(max_examples=300, deadline=None)
@example([("Rounds", " "), ("Hit", " "), ("Baghdad's", " "), ("May", " "), ("\u00c9vreux", "-")])
@given(st.lists(st.tuples(st.sampled_from(TITLE_TOKENS), st.sampled_from(TITLE_GAPS)), max_size=10))
def test_title_case_runs_are_judged_like_the_reference(parts: list[tuple[str, str]]) -> None:
    _agrees_with_the_reference(
        [
            Term(term_id="hit", case_sensitive_aliases=["Hit", "Hīt"]),
            Term(term_id="may", case_sensitive_aliases=["May"], aliases=["rounds"]),
        ],
        parts,
    )


def _agrees_with_the_reference(terms: list[Term], parts: list[tuple[str, str]]) -> None:
    """The engine and the reference find the same matches of ``terms`` in the text of ``parts``."""
    lists = [Watchlist(watchlist_id="w", terms=terms)]
    text = "".join(w + g for w, g in parts)
    assert AutomatonMatcher(lists).match(text) == RegexMatcher(lists).match(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hit by shells", True),
        ("  Hit by shells", True),
        ("Ramadi. Hit by shells", True),
        ('Ramadi: "Hit by shells', True),
        ("Ramadi\n(Hit by shells", True),
        ("Ramadi\u2026 Hit", True),
        ("out of Hit by", False),
        ("Ramadi, Hit", False),
        ("Ramadi - Hit", False),
        (" " * 30 + "Hit", False),  # nothing but spaces further back than the reach: undecided, no
    ],
)
def test_sentence_starts(text: str, expected: bool) -> None:
    assert sentence_start(text, text.index("Hit")) is expected


NEGATIVES = ["hit by", "Hit-and-run", "smash hit*", "the charts", "hitman", "islamic", "state of"]


def test_negative_words_naming_the_term_are_told_apart() -> None:
    term = Term(
        term_id="hit",
        case_sensitive_aliases=["Hit"],
        aliases=["Islamic State"],
        negative_context=NEGATIVES,
    )
    others, own = own_words(term)
    assert own == ["hit by", "Hit-and-run", "smash hit*"]
    assert others == ["the charts", "hitman", "islamic", "state of"]  # parts of an alias do not name it


OWN_TOKENS = ["Hit", "hit", "by", "town", "of", "Ramadi", ".", '"', "smash", "Hit,", "(", "Isis"]
OWN_GAPS = [" ", "  ", "\n", ", ", ". "]


@settings(max_examples=300, deadline=None)
@example([("Ramadi", ". "), ("Hit", " "), ("by", " "), ("town", " ")])
@example([("hit", " "), ("by", " "), ("town", " "), ("of", " "), ("Hit", " ")])
@given(st.lists(st.tuples(st.sampled_from(OWN_TOKENS), st.sampled_from(OWN_GAPS)), max_size=12))
def test_negative_words_naming_the_term_are_judged_like_the_reference(parts: list[tuple[str, str]]) -> None:
    _agrees_with_the_reference(
        [
            Term(
                term_id="hit",
                case_sensitive_aliases=["Hit"],
                context_words=["town", "Ramadi"],
                negative_context=["hit by", "smash hit"],
                context_window_chars=30,
            ),
            Term(term_id="isis", aliases=["isis"], negative_context=["smash", "isis town"]),
        ],
        parts,
    )

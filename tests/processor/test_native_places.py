"""The compiled toponym scan against its Python definition (``ReferenceScanner``): the same mentions
and the same places on every evaluation corpus and on generated texts."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import newswatch_native
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newswatch.processor import resolve, sensenative, toponyms
from newswatch.processor.gazetteer import HOW_ABBREV, HOW_ALT, HOW_DEMONYM, NameAutomaton
from newswatch.processor.overrides import default_cues
from newswatch.processor.places import Gazetteer, GazetteerEntry, default_gazetteer, index_from_places
from newswatch.processor.reading import Probe, Reader
from newswatch.processor.textfacts import Article, native_rules
from newswatch.processor.toponyms import ReferenceScanner, ToponymScanner

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
EVAL = SHARED / "eval"
SEED = SHARED / "seeds" / "000_d49beb34632bf2ff.txt"

E = GazetteerEntry
PLACES: list[tuple[GazetteerEntry, list[str | tuple[str, int]]]] = [
    (E("Paris", "1", "FR", "capital", "FR.11", 2_100_000), ["Paris"]),
    (E("Paris", "2", "US", "city", "US.TX", 25_000), ["Paris"]),
    (E("Texas", "3", "US", "admin1", "US.TX", 20_000_000), ["Texas", ("Tex.", HOW_ABBREV)]),
    (E("France", "4", "FR", "country", "", 67_000_000), ["France", ("French", HOW_DEMONYM)]),
    (E("Hīt", "8", "IQ", "city", "IQ.01", 31_901), ["Hīt", "Hit"]),
    (E("Iraq", "9", "IQ", "country", "", 40_000_000), ["Iraq", ("Iraqi", HOW_DEMONYM)]),
    (E("Mobile", "10", "US", "city", "US.AL", 190_000), ["Mobile"]),
    (E("Alabama", "11", "US", "admin1", "US.AL", 4_000_000), ["Alabama", ("Ala.", HOW_ABBREV)]),
    (E("Jackson", "12", "US", "city", "US.MS", 150_000), ["Jackson"]),
    (E("Georgia", "17", "US", "admin1", "US.GA", 9_000_000), ["Georgia", ("Ga.", HOW_ABBREV)]),
    (E("Gainesville", "20", "US", "city", "US.GA", 40_000), ["Gainesville"]),
    (E("New York City", "22", "US", "city", "US.NY", 8_000_000), ["New York City", "New York"]),
    (E("Aleppo", "23", "SY", "city", "SY.09", 2_000_000), ["Aleppo", ("Alep", HOW_ALT), ("حلب", HOW_ALT)]),
    (E("Al Qaryatayn", "24", "SY", "city", "SY.11", 20_000), ["Al-Qaryatayn"]),
    (E("Ḩimş", "27", "SY", "admin1", "SY.11", 1_500_000), ["Ḩimş", ("Homs", HOW_ALT)]),
    (E("Saint-Étienne", "28", "FR", "city", "FR.84", 170_000), ["Saint-Étienne"]),
    (E("Dublin", "41", "IE", "capital", "IE.L", 1_000_000), ["Dublin"]),
    (E("Dublin City", "43", "IE", "admin2", "IE.L", 0), ["Dublin City"]),
    (E("United States", "30", "US", "country", "", 330_000_000), ["United States", "US"]),
]
INDEX = index_from_places(PLACES, {"IQ": frozenset({"SY"})})
SMALL = Gazetteer(INDEX, default_cues(), demonyms=True)
SMALL_REFERENCE = Gazetteer(INDEX, default_cues(), demonyms=True, reference=True)

PIECES = [
    *"PariskTexHītIqGeoagYxédDlLjJ -,.'’_\n\t\u00a0\u0301\u00c9Éæﬁ\ud800ABC1",
    "Paris", "PARIS", "Hit", "HIT", "hit", "Ga.", "Tex.", "Ala.", "US", "Mr.", "President ", " said",
    "Dublin City", "DUBLIN CITY", "Dublin", "NEW YORK CITY", "New York", ", 22, ", " of ", "the town of ",
    "Gainesville, Ga.", "Mobile, Ala.", "d'", "l'", "qu'", "Alep", "ALEP", "al-Qaryatayn", "AL-QARYATAYN",
    "Ḩimş", "Homs", "HOMS", "Saint-Étienne", "SAINT-ÉTIENNE", "حلب", "Iraqi", "IRAQI", "French",
    "REPORT", "IRAQ REPORT", "Texas", "Georgia's ", "Jackson said", "copyright 2024 ", "\n\n",
    *(f"{c}{q}" for c in "dDlLjJqx1_ " for q in "'’"),  # elisions and look-alikes
    "according to ", "ACCORDING TO ", "accordİng to ", ", 45, of ", ", 1234, ", " Elementary", " virus",
    " City Council", " Police", "Hilton", "the city of ", "la ville de ", "Town Of ", " et ", "Texans",
    "Précédemment ", " Ḩimşi", "John ", "\u2028", "\x1c", "“", "«", "—", " The ", "THE ",
    # what the native reader reads itself beyond ASCII: title lines, small words, Unicode digits and
    # spaces, letters that match ASCII ones case-insensitively, words the article writes in lower case
    "Mobile", "mobile", "Mobile. ", "the mobile", "2mobile", "_mobile", "’mobile", "mobiles",
    "\u01c5", "\u24b6", "\u212a", "\u0130", "\u017f", "À ", " à ", "É ", " De ", "Ⓐbc ", "Ǆx ",
    "\u0663", "²", ", \u0664\u0665, ", ", 4\u0665, of ", "\u3000", "\u00a0", "ΣΑΣ ", "\U0001d400",
    "\U0001d7ce", "\U0001f600", "ACCORDİNG TO ", "according\u3000to\u3000", "Xaccording to ",
    "accordinG tO ", "Région De ", "the région of ", "RÉGION OF ", "Le Monde Et La Ville\n",
    "Élan Vital Of Mobile\n",
]  # fmt: skip
TEXTS = st.lists(st.sampled_from(PIECES), max_size=50).map("".join) | st.text(max_size=200)


def _rows(gaz: Gazetteer, texts: list[str]) -> list[list[tuple[object, ...]]]:
    return [[tuple(p) for p in field] for field in gaz.tag_fields(texts)]


@settings(max_examples=500, deadline=None)
@given(TEXTS)
def test_native_scan_is_the_reference_scan(text: str) -> None:
    assert SMALL.scanner.scan(text) == SMALL_REFERENCE.scanner.scan(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(TEXTS, min_size=1, max_size=3))
def test_native_places_are_the_reference_places(texts: list[str]) -> None:
    assert _rows(SMALL, texts) == _rows(SMALL_REFERENCE, texts)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from([*"ABCDEFxyz .,'1\né’\u0130\U0001f600", "IRAQ", "REPORT", "PARIS"]),
                max_size=40).map("".join))  # fmt: skip
def test_native_caps_runs_are_the_expression(text: str) -> None:
    assert newswatch_native.caps_runs_of(text) == [m.span() for m in toponyms._CAPS_RUN.finditer(text)]


KEYS = ["Paris", "Par", "aris", "Hīt", "حلب", "é", "New York", "York"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([*KEYS, " ", "x", "é", "\U0001f600", "\ud800"]), max_size=30).map("".join))
def test_find_reports_every_occurrence_in_code_points(text: str) -> None:
    names = NameAutomaton.from_options({key: [n] for n, key in enumerate(KEYS)})
    expected = {
        (n, at, at + len(key))
        for n, key in enumerate(KEYS)
        for at in range(len(text))
        if text.startswith(key, at)
    }
    found = names.find(text)
    assert len(found) == len(set(found)) and set(found) == expected


def test_place_words_that_ascii_text_may_match_otherwise_are_left_to_python() -> None:
    assert native_rules(["of"], "to", ["'s"], ["Town", "région"]).place_words == {"town"}
    assert native_rules(["of"], "to", ["'s"], ["town", "ſtrasse"]).place_words is None  # "ſ" matches "s"
    assert native_rules(["of"], "to", ["'s"], ["town", "old town"]).place_words is None


def test_a_gazetteer_is_shared_by_threads() -> None:
    text = "Paris, Texas, and Gainesville, Ga. said Jackson. IRAQ REPORT: Hit, d'Alep"
    texts = [f"{' ' * n}{text}" for n in range(200)]
    alone = [_rows(SMALL, [t]) for t in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(lambda t: _rows(SMALL, [t]), texts)) == alone
    assert len(alone[0][0]) >= 4


def test_the_reader_refuses_mentions_outside_their_field() -> None:
    resolver = SMALL.resolver
    assert resolver.native is not None
    number = INDEX.automaton.number("Paris")
    assert number is not None
    probe = Probe(Article(["Paris"]), resolver.reader)
    found = resolver.native.matches(["Paris"], [[(0, 5, "Paris", number, False)]], probe, True)
    assert [[p.geonames_id for p in field] for field in found] == [["1"]]
    with pytest.raises(ValueError, match="mentions must lie in their field"):
        resolver.native.matches(["Paris"], [[(0, 9, "Paris", number, False)]], probe, True)


def test_fields_without_mentions_have_no_places() -> None:
    texts = ["Paris, Texas", "Paris", "Texas"]
    mentions = [SMALL.scanner.scan(texts[0])]  # the other fields are not given
    found = SMALL.resolver.matches(texts, mentions)
    assert found == SMALL_REFERENCE.resolver.matches(texts, mentions)
    assert len(found) == 3 and found[0] and found[1:] == [[], []]


@pytest.mark.parametrize(("cache_keys", "asked_first", "asked_again"), [(8_192, 4, 0), (1, 5, 4)])
def test_the_native_reader_keeps_the_facts_of_keys(
    monkeypatch: pytest.MonkeyPatch, cache_keys: int, asked_first: int, asked_again: int
) -> None:
    """The native reader asks Python the facts of a key once and keeps them, bounded (emptied when
    full: with room for one key, "Paris" is asked again after the three keys between its mentions)."""
    reader = Reader(INDEX, default_cues())
    asked: list[str] = []
    native = reader.keys.native

    def counting(key: str, number: int) -> newswatch_native.PlaceFacts:
        asked.append(key)
        return native(key, number)

    monkeypatch.setattr(reader.keys, "native", counting)
    monkeypatch.setattr(sensenative, "CACHE_KEYS", cache_keys)
    resolver = resolve.Resolver(INDEX, default_cues(), demonyms=True, reader=reader)
    texts = ["Paris, Texas", "Gainesville, Ga. and Paris"]
    mentions = [SMALL.scanner.scan(t) for t in texts]
    first = resolver.matches(texts, mentions)
    assert first == SMALL.tag_fields(texts) and first[0]
    assert set(asked) == {"Ga.", "Gainesville", "Paris", "Texas"} and len(asked) == asked_first
    asked.clear()
    assert resolver.matches(texts, mentions) == first
    assert len(asked) == asked_again


def test_an_empty_index_scans_nothing() -> None:
    names = newswatch_native.PlaceNames([])
    assert len(names) == 0 and names.find("Paris") == [] and names.scan("Paris", "", tuple) == []


def test_a_broken_rule_is_caught() -> None:
    """The comparison can fail: the reference without the elision rule reads "d'Alep" otherwise."""
    text = "la ville d'Alep"

    class NoElision(ReferenceScanner):
        def _hits(self, scanned: str, window: str, lo: int, *, shouted: bool) -> list[toponyms._Hit]:
            return super()._hits(scanned.replace("'", "x"), window, lo, shouted=shouted)

    assert (
        NoElision(INDEX).scan(text) != ToponymScanner(INDEX).scan(text) == ReferenceScanner(INDEX).scan(text)
    )


# -- every evaluation corpus with the full gazetteer ------------------------------------------------


def _corpus() -> list[str]:
    for path in (EVAL / "lgl.xml", EVAL / "GeoVirus.xml", EVAL / "keywords-dev.jsonl", SEED):
        if not path.exists():
            pytest.fail(f"evaluation file missing at {path} (../shared must sit beside the checkout)")
    texts = [
        node.findtext("text") or ""
        for name in ("lgl.xml", "GeoVirus.xml")
        for node in ET.parse(EVAL / name).getroot().iter("article")  # noqa: S314 - trusted local file
    ]
    lines = (EVAL / "keywords-dev.jsonl").read_text(encoding="utf-8").splitlines()
    texts += [str(json.loads(line)["text"]) for line in lines if line.strip()]
    return [*texts, SEED.read_text(encoding="utf-8")]


@pytest.fixture(scope="module")
def full() -> tuple[Gazetteer, Gazetteer]:
    gaz = default_gazetteer()
    return gaz, Gazetteer(gaz.index, gaz.resolver.cues, reference=True)


def test_every_corpus_tags_the_same_places(full: tuple[Gazetteer, Gazetteer]) -> None:
    gaz, reference = full
    texts = _corpus()
    assert len(texts) > 800
    mentions = 0
    for text in texts:
        found = gaz.scanner.scan(text)
        assert found == reference.scanner.scan(text)
        mentions += len(found)
        fields = [text[:80], text]  # a title and the body: resolved together
        for demonyms in (False, True):
            assert _rows(gaz.with_demonyms(demonyms), fields) == _rows(
                reference.with_demonyms(demonyms), fields
            )
    assert mentions > 10_000

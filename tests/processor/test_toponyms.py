"""Toponym recognition and disambiguation, one rule at a time, on a small hand-made gazetteer; the fast
paths (windows, backwards matching, caches) checked against the plain definitions they replace."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newswatch.processor import keyfacts, reading, resolve, textfacts, toponyms
from newswatch.processor.gazetteer import HOW_ABBREV, HOW_ALT, HOW_DEMONYM
from newswatch.processor.normalize import NATIVE_MIN_CHARS, fold, mask_boilerplate
from newswatch.processor.overrides import default_cues
from newswatch.processor.places import Gazetteer, GazetteerEntry, index_from_places
from newswatch.processor.textfacts import Article
from newswatch.processor.toponyms import Mention, ReferenceScanner, ToponymScanner

E = GazetteerEntry
PLACES: list[tuple[GazetteerEntry, list[str | tuple[str, int]]]] = [
    (E("Paris", "1", "FR", "capital", "FR.11", 2_100_000), ["Paris"]),
    (E("Paris", "2", "US", "city", "US.TX", 25_000), ["Paris"]),
    (E("Texas", "3", "US", "admin1", "US.TX", 20_000_000), ["Texas"]),
    (E("France", "4", "FR", "country", "", 67_000_000), ["France"]),
    (E("Springfield", "5", "US", "city", "US.MO", 160_000), ["Springfield"]),
    (E("Springfield", "6", "US", "city", "US.OH", 9_000), ["Springfield"]),
    (E("Ohio", "7", "US", "admin1", "US.OH", 10_000_000), ["Ohio"]),
    (E("Hīt", "8", "IQ", "city", "IQ.01", 31_901), ["Hīt", "Hit"]),
    (E("Iraq", "9", "IQ", "country", "", 40_000_000), ["Iraq", ("Iraqi", HOW_DEMONYM)]),
    (E("Mobile", "10", "US", "city", "US.AL", 190_000), ["Mobile"]),
    (E("Alabama", "11", "US", "admin1", "US.AL", 4_000_000), ["Alabama", ("Ala.", HOW_ABBREV)]),
    (E("Jackson", "12", "US", "city", "US.MS", 150_000), ["Jackson"]),
    (E("Lincoln", "13", "US", "city", "US.NE", 290_000), ["Lincoln"]),
    (E("Obama", "14", "JP", "city", "JP.10", 29_000), ["Obama"]),
    (E("Smalltown", "15", "US", "city", "US.OH", 2_000), ["Smalltown"]),
    (E("Georgia", "16", "GE", "country", "", 3_700_000), ["Georgia", ("Georgian", HOW_DEMONYM)]),
    (E("Georgia", "17", "US", "admin1", "US.GA", 9_000_000), ["Georgia", ("Ga.", HOW_ABBREV)]),
    (E("Atlanta", "18", "US", "city", "US.GA", 500_000), ["Atlanta"]),
    (E("Tbilisi", "19", "GE", "capital", "GE.51", 1_100_000), ["Tbilisi"]),
    (E("Gainesville", "20", "US", "city", "US.GA", 40_000), ["Gainesville"]),
    (E("York", "21", "GB", "city", "GB.ENG", 150_000), ["York"]),
    (E("New York City", "22", "US", "city", "US.NY", 8_000_000), ["New York City"]),
    (E("Aleppo", "23", "SY", "city", "SY.09", 2_000_000), ["Aleppo", ("Alep", HOW_ALT)]),
    (E("Nile", "24", "", "region", "", 100_000), ["Nile"]),
    (E("Cottage", "25", "US", "city", "US.OH", 20_000), ["Cottage"]),
    (E("Homs", "26", "SY", "city", "SY.11", 700_000), ["Homs"]),
    (E("Ḩimş", "27", "SY", "admin1", "SY.11", 1_500_000), ["Ḩimş", ("Homs", HOW_ALT)]),
    (E("Berea", "28", "US", "city", "US.KY", 15_500), ["Berea"]),
    (E("Haleb", "29", "SY", "city", "SY.09", 300_000), ["Haleb", ("Berea", HOW_ALT), ("Halab", HOW_ALT)]),
    (E("United States", "30", "US", "country", "", 330_000_000), ["United States", "US"]),
    (E("London", "31", "GB", "capital", "GB.ENG", 9_000_000), ["London"]),
    (E("London", "32", "US", "city", "US.KY", 8_000), ["London"]),
    (E("Brent", "33", "GB", "city", "GB.ENG", 300_000), ["Brent"]),
    (E("Kentucky", "34", "US", "admin1", "US.KY", 4_500_000), ["Kentucky"]),
    (E("Italy", "35", "IT", "country", "", 60_000_000), ["Italy"]),
    (E("Italy", "36", "US", "city", "US.TX", 2_000), ["Italy"]),
    (E("Palestine", "37", "PS", "country", "", 4_500_000), ["Palestine"]),
    (E("Palestine", "38", "US", "city", "US.TX", 18_000), ["Palestine"]),
    (E("Veria", "39", "GR", "city", "GR.B", 3_000_000), ["Veria", ("Kenton", HOW_ALT)]),
    (E("Kenton", "40", "US", "city", "US.OH", 16_000), ["Kenton"]),
    (E("Dublin", "41", "IE", "capital", "IE.L", 1_000_000), ["Dublin"]),
    (E("Dublin", "42", "US", "city", "US.OH", 45_000), ["Dublin"]),
    (E("Dublin City", "43", "IE", "admin2", "IE.L", 0), ["Dublin City"]),
    (E("Kansas City", "44", "US", "city", "US.MO", 500_000), ["Kansas City"]),
    (E("Kansas", "45", "US", "admin1", "US.KS", 2_900_000), ["Kansas"]),
]
INDEX = index_from_places(PLACES, {"GE": frozenset({"RU"}), "IQ": frozenset({"SY"})})
GAZ = Gazetteer(INDEX, default_cues(), demonyms=True)
GAZ_REFERENCE = Gazetteer(INDEX, default_cues(), demonyms=True, reference=True)  # the Python rules


def reference_tags(text: str) -> list[tuple[str, str]]:
    return [(p.matched_text, p.geonames_id) for p in GAZ_REFERENCE.tag_places(text)]


def tags(text: str) -> list[tuple[str, str]]:
    """The native tags, checked against the Python definition."""
    found = [(p.matched_text, p.geonames_id) for p in GAZ.tag_places(text)]
    assert found == reference_tags(text)
    return found


@pytest.mark.parametrize(
    ("rule", "text", "expected"),
    [
        # recognition: capitalisation, boundaries, longest match, headlines, elision
        ("capitalised", "Paris is lovely in spring.", [("Paris", "1")]),
        ("lower case never", "the paris of the east", []),
        ("word boundary", "Parisian cafés and Texans", []),
        ("longest match", "New York City police said nothing.", [("New York City", "22")]),
        ("headline capitals", "PARIS FLOODS AGAIN", [("PARIS", "1")]),
        ("long capitals word", "ATLANTA - A storm hit", [("ATLANTA", "18")]),
        ("french elision", "la ville d'Alep et d'Homs", [("Alep", "23"), ("Homs", "26")]),
        ("shouted code", "LET US GO NOW", []),
        ("code", "The US economy grew.", [("US", "30")]),
        # common words need evidence
        ("common word", "Mobile phones are cheap.", []),
        ("common word in pair", "Storms in Mobile, Alabama, today.", [("Mobile", "10"), ("Alabama", "11")]),
        ("common word, preposition + state", "Officials in Mobile met as Alabama was calm.",
         [("Mobile", "10"), ("Alabama", "11")]),
        ("common word with place word", "Iraqi troops entered the town of Hit.",
         [("Iraqi", "9"), ("Hit", "8")]),
        ("common word, sentence start", "Hit by fire, Iraqi troops retreated.", [("Iraqi", "9")]),
        ("common word in a title line", "Airstrike Hit Convoy Near Iraq Border", [("Iraq", "9")]),
        ("lower case elsewhere", "Cottage prices rose. The cottage sold in Ohio.", [("Ohio", "7")]),
        ("not lower case elsewhere", "Prices rose in Cottage, Ohio.", [("Cottage", "25"), ("Ohio", "7")]),
        # person versus place
        ("title", "Mr. Jackson arrived late.", []),
        ("title word", "President Lincoln spoke.", []),
        ("speech verb after", "Jackson said the vote was close.", []),
        ("speech verb before", '"It works," said Jackson.', []),
        ("according to", "The plan, according to Lincoln.", []),
        ("age", "Lincoln, 45, was arrested.", []),
        ("first name", "George Lincoln spoke in Paris, Texas.", [("Paris", "2"), ("Texas", "3")]),
        ("given name + surname", "Paris Hilton flew in.", []),
        ("given name + institution", "Paris Police arrested two men in Texas.",
         [("Paris", "2"), ("Texas", "3")]),
        ("one sense per article", "Jackson said he liked Mobile, Ala. Then Jackson left.", [("Mobile", "10"),
                                                                                            ("Ala.", "11")]),
        ("inside another name", "Air France flew to Atlanta.", [("Atlanta", "18")]),
        ("possessive before", "Georgia's Gainesville grew.", [("Georgia", "17"), ("Gainesville", "20")]),
        ("disease name", "A case of West Nile virus was found.", []),
        # disambiguation
        ("population prior", "Springfield voted.", [("Springfield", "5")]),
        ("pair City, State", "Springfield, Ohio, voted.", [("Springfield", "6"), ("Ohio", "7")]),
        ("state elsewhere", "Springfield voted. Ohio counted.", [("Springfield", "6"), ("Ohio", "7")]),
        ("state context", "Paris schools reopened across Texas.", [("Paris", "2"), ("Texas", "3")]),
        ("no context", "Paris schools reopened.", [("Paris", "1")]),
        ("country context", "Tbilisi says Georgia will rebuild.", [("Tbilisi", "19"), ("Georgia", "16")]),
        ("state over country", "Atlanta grew; Georgia voted.", [("Atlanta", "18"), ("Georgia", "17")]),
        ("abbreviation after a city", "Gainesville, Ga., grew.", [("Gainesville", "20"), ("Ga.", "17")]),
        ("abbreviation alone", "Ga. grew.", []),
        ("city over its own state", "Shelling in Homs.", [("Homs", "26")]),
        ("main name over alternate", "Berea voted in Ohio.", [("Berea", "28"), ("Ohio", "7")]),
        # evidence for small and foreign places
        ("small town alone", "Smalltown voted.", []),
        ("small town with its state", "Smalltown voted. Ohio counted.", [("Smalltown", "15"), ("Ohio", "7")]),
        ("foreign town in another country's story", "Obama met voters in Ohio and Texas.", [("Ohio", "7"),
                                                                                       ("Texas", "3")]),
        ("foreign town alone", "Visitors flock to Obama.", [("Obama", "14")]),
        ("alternate name needs context", "Halab is far.", []),
        ("alternate name with context", "Shelling in Halab, near Homs.", [("Halab", "29"), ("Homs", "26")]),
        ("demonym", "Georgian troops left Tbilisi.", [("Georgian", "16"), ("Tbilisi", "19")]),
        # the article's home country: three other names or more, twice any other country's
        ("home country", "London grew near Brent. Kentucky, Ohio, Texas and Atlanta voted.",
         [("London", "32"), ("Brent", "33"), ("Kentucky", "34"), ("Ohio", "7"), ("Texas", "3"),
          ("Atlanta", "18")]),
        ("no home country", "London grew near Brent. Kentucky voted.",
         [("London", "31"), ("Brent", "33"), ("Kentucky", "34")]),
        ("a country keeps its name", "Italy voted, as did Texas, Ohio and Atlanta.",
         [("Italy", "35"), ("Texas", "3"), ("Ohio", "7"), ("Atlanta", "18")]),
        # a residence after a person's age is a town, not a country
        ("residence", "Joyce Glover, 22, Palestine, was charged, the US said.",
         [("Palestine", "38"), ("US", "30")]),
        ("residence with of", "Joyce Glover, 22, of Palestine was charged, the US said.",
         [("Palestine", "38"), ("US", "30")]),
        ("no residence", "Palestine was discussed, the US said.", [("Palestine", "37"), ("US", "30")]),
        # an institution after an alternate name: the town of that name, not the old name of a city
        ("alternate name and a local institution", "Kenton police arrested two men.", [("Kenton", "40")]),
        ("alternate name alone", "Kenton voted.", [("Kenton", "39")]),
        # "X City" where the article reads X as a town: that town's council
        ("town council", "Dublin City Council met as Dublin, Ohio, grew.",
         [("Dublin", "42"), ("Dublin", "42"), ("Ohio", "7")]),
        ("city subdivision alone", "Dublin City Council met.", [("Dublin City", "43")]),
        ("a city named after a state", "Kansas City and Kansas voted.",
         [("Kansas City", "44"), ("Kansas", "45")]),
    ],
)  # fmt: skip
def test_rules(rule: str, text: str, expected: list[tuple[str, str]]) -> None:
    assert tags(text) == expected, rule


def test_demonyms_without_reporting_still_give_context() -> None:
    quiet = Gazetteer(INDEX, default_cues())
    assert [p.matched_text for p in quiet.tag_places("Georgian troops left. Georgia mourned.")] == ["Georgia"]
    assert quiet.tag_places("Georgian troops left. Georgia mourned.")[0].geonames_id == "16"
    assert tags("Georgian troops left. Georgia mourned.") == [("Georgian", "16"), ("Georgia", "16")]


def test_offsets_point_into_the_original_text() -> None:
    text = "Cafe\u0301s in Pa\u0301ris? No: in Hi\u0304t, Iraq, and \u00c9tats in Paris."
    found = GAZ.tag_places(text)
    assert [p.matched_text for p in found] == ["Pa\u0301ris", "Hi\u0304t", "Iraq", "Paris"]
    for p in found:
        assert text[p.start : p.end] == p.matched_text


def test_boilerplate_is_never_tagged() -> None:
    text = "Storm in Paris.\n\nCopyright © Paris Media 2016, all rights reserved in France."
    assert tags(text) == [("Paris", "1")]


def test_empty_gazetteer_tags_nothing() -> None:
    empty = Gazetteer(index_from_places([]), default_cues())
    assert empty.tag_places("Paris") == []
    assert empty.tag_fields(["", "Paris"]) == [[], []]


SCANNER = ToponymScanner(GAZ.index)
REFERENCE = ReferenceScanner(GAZ.index)
TEXTS = st.lists(
    st.sampled_from(
        [
            *"PariskTexHītIqGeoagY -,.'\n\u0301\u00c9ÉSAB",
            "Paris",
            "Hit",
            "Ga.",
            "US",
            "Mr.",
            " said",
            "Dublin City",
            "DUBLIN CITY",
            "Dublin",
            ", 22, ",
            " of ",
            "Kenton",
            " police",
            "London",
        ]
    ),
    max_size=60,
).map("".join) | st.text(max_size=200)


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_scan_offsets_slice_the_original_and_never_overlap(text: str) -> None:
    mentions = SCANNER.scan(text)
    reach = 0
    for m in mentions:
        assert 0 <= reach <= m.start < m.end <= len(text)
        assert text[m.start : m.end]
        reach = m.end
    for p in GAZ.tag_places(text):
        assert text[p.start : p.end] == p.matched_text


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=60), max_size=3))
def test_tag_fields_never_raises_and_keeps_one_list_per_field(texts: list[str]) -> None:
    out = GAZ.tag_fields(texts)
    assert len(out) == len(texts)
    for text, places in zip(texts, out, strict=True):
        for p in places:
            assert text[p.start : p.end] == p.matched_text


# -- the fast paths read exactly what the plain definitions say -------------------------------------

_CAPS_RUN_PLAIN = re.compile(
    r"(?<![A-Za-z])[A-Z]{2,}(?:[^a-zA-Z]+[A-Z]{2,})+(?![a-z])|(?<![A-Za-z])[A-Z]{6,}(?![a-z])"
)
CAPS_TEXT = st.lists(
    st.sampled_from([*"ABCDEFxyz .,'1\né’", "IRAQ", "REPORT", "Paris", "PARIS"]), max_size=40
)


@settings(max_examples=300, deadline=None)
@given(CAPS_TEXT.map("".join))
def test_caps_runs_are_the_plain_expression(text: str) -> None:
    assert [m.span() for m in toponyms._CAPS_RUN.finditer(text)] == [
        m.span() for m in _CAPS_RUN_PLAIN.finditer(text)
    ]


def _scan_rescanning_everything(text: str) -> list[Mention]:
    """The scan as first written: the whole text title-cased and scanned again (a reference)."""
    view = fold(mask_boilerplate(text), casefold=False)
    scanned = view.text
    for char in toponyms._SCAN:
        scanned = scanned.replace(char, " ")
    hits = REFERENCE._hits(scanned, scanned, 0, shouted=False)
    if _CAPS_RUN_PLAIN.search(scanned):
        titled = _CAPS_RUN_PLAIN.sub(
            lambda m: toponyms._CAPS_WORD.sub(toponyms._title_case, m.group()), scanned
        )
        hits += REFERENCE._hits(scanned, titled, 0, shouted=True)
    hits.sort()
    out, reach = [], 0
    for start, negative_length, shouted, number, key in hits:
        if start >= reach:
            reach = end = start - negative_length
            out.append(Mention(*view.span(start, end), key or scanned[start:end], number, shouted))
    return out


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(["PARIS", "TEXAS", "NEW YORK CITY", "Paris", "Ohio", "IRAQ", "REPORT", "US", "X",
                         " ", "  ", ", ", "\n", "-", "é", "\u0301", "'", "d'", "ALEP", "HOMS", "ATLANTA"]),
        max_size=40,
    ).map("".join)
)  # fmt: skip
def test_windowed_shouted_scan_equals_rescanning_everything(text: str) -> None:
    assert SCANNER.scan(text) == REFERENCE.scan(text) == _scan_rescanning_everything(text)


def test_runs_of_capitals_far_apart_are_rescanned_apart() -> None:
    far = " w" * 300 + " "  # farther apart than twice the longest key
    text = f"{far}NEW YORK CITY{far}ATLANTA{far}Atlanta"
    found = [(m.key, m.shouted) for m in SCANNER.scan(text)]
    assert found == [("New York City", True), ("Atlanta", True), ("Atlanta", False)]
    assert SCANNER.scan(text) == REFERENCE.scan(text) == _scan_rescanning_everything(text)


_PLACE_BEFORE_PLAIN = re.compile(r"(?i)\b(?:town|city|ville|centre-ville|x)\s+(?:of|de|d'|du)\s*$")
_PLACE_BEFORE = reading._place_words_reversed(["town", "city", "ville", "centre-ville", "x"])


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.sampled_from(["town", "Town", "TOWN", "city", "x", "ax", "centre-ville", "ville", " ", "\n", "\t",
                         "of", "OF", "de", "d'", "du", "do", "-", "é", "_"]),
        max_size=8,
    ).map("".join)
)  # fmt: skip
def test_place_word_before_is_matched_backwards(before: str) -> None:
    backwards = _PLACE_BEFORE.match(before[::-1]) is not None
    assert backwards == (_PLACE_BEFORE_PLAIN.search(before) is not None)


_ACCORDING_PLAIN = re.compile(r"(?i)\baccording to\s+$")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["according", "According", "to", "TO", " ", "\n", "x", "saccording"]),
                max_size=6).map("".join))  # fmt: skip
def test_according_to_is_matched_backwards(before: str) -> None:
    backwards = reading._ACCORDING_REVERSED.match(before[::-1]) is not None
    assert backwards == (_ACCORDING_PLAIN.search(before) is not None)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.sampled_from(["ab", "a", "B", "1", "_", "'", "’", " ", "²", "é", "٣", "-", "ab'", "Ab"]),
             max_size=12).map("".join),
    st.sampled_from(["ab", "a", "ab'", "é", "b²", "a_b", "ab’", "1a", "Ab"]),
)  # fmt: skip
def test_has_word_agrees_with_reading_every_word(text: str, word: str) -> None:
    words = {w for w in textfacts.WORD.findall(text) if w.islower()}
    assert Article([text]).uses_in_lower_case(word) == (word in words)


@pytest.mark.parametrize(
    ("rule", "text", "expected"),
    [
        ("title before a line break", "He met Mr. \nJackson.", []),  # "$" before a final line break
        ("title before a tab", "He met Mr. \tJackson.", []),
        (
            "no word across a line break",
            "He met Dr.\nLincoln today in Texas.",
            [("Lincoln", "13"), ("Texas", "3")],
        ),
        ("speech verb after a line break", "Jackson\nsaid no.", [("Jackson", "12")]),
        ("according to, backwards", "The plan, according to\nLincoln.", []),
        ("place word far back", "the town of   Hit, Iraq", [("Hit", "8"), ("Iraq", "9")]),
        ("sentence end before", "He met the president. Lincoln voted.", [("Lincoln", "13")]),
        ("abbreviation after a line break", "in Mobile,\nAla. today", [("Mobile", "10"), ("Ala.", "11")]),
        ("elided place word", "la ville d'Alep", [("Alep", "23")]),
    ],
)
def test_reading_edge_cases(rule: str, text: str, expected: list[tuple[str, str]]) -> None:
    assert tags(text) == expected, rule


def test_caches_never_change_a_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [
        "Jackson said he liked Mobile, Ala. Then Jackson left.",
        "Springfield, Ohio, voted.",
        "Iraqi troops entered the town of Hit.",
        "Paris Hilton flew in.",
        "Georgian troops left Tbilisi.",
    ]
    warm = [tags(t) for t in texts]
    monkeypatch.setattr(keyfacts, "CACHE_KEYS", 1)
    monkeypatch.setattr(reading, "CACHE_WORDS", 1)
    for reference in (False, True):
        cold = Gazetteer(INDEX, default_cues(), demonyms=True, reference=reference)
        assert [[(p.matched_text, p.geonames_id) for p in cold.tag_places(t)] for t in texts] == warm
        assert [[(p.matched_text, p.geonames_id) for p in cold.tag_places(t)] for t in texts] == warm


def _rank_every_option(groups: object, live: list[resolve._Group]) -> None:
    for group in live:
        group.viable = list(enumerate(group.options))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(["Springfield", "Smalltown", "Ohio", "Paris", "Texas", "London", "Kentucky", "Brent",
                         "Homs", "Ḩimş", "Italy", "Palestine", "Berea", "Halab", "Georgia", "Ga.",
                         "Gainesville", ", ", " in ", " the town of ", ". ", " police ", " voted ",
                         "Atlanta"]),
        max_size=30,
    ).map("".join)
)  # fmt: skip
def test_ranking_only_viable_options_changes_no_choice(text: str) -> None:
    pruned = tags(text)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(resolve, "_prune", _rank_every_option)
        assert reference_tags(text) == pruned


@settings(max_examples=500, deadline=None)
@given(CAPS_TEXT.map("".join) | st.text(alphabet="ABab .\u00e9\u0130\U0001f600", max_size=30))
def test_caps_runs_are_found_where_the_expression_finds_them(text: str) -> None:
    assert [m.span() for m in toponyms._caps_runs(text)] == [
        m.span() for m in toponyms._CAPS_RUN.finditer(text)
    ]


LONG_TEXTS = st.lists(
    st.sampled_from(
        [
            *"kTH-,.'\n\t\r\u00a0\u0301\u00c9\u2013\u2011\u00e6\u200b\u0640\ufb01 ",
            *["Paris", "Hīt", "Iraq", " of "],
        ]
    ),
    min_size=NATIVE_MIN_CHARS,
    max_size=NATIVE_MIN_CHARS + 100,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(LONG_TEXTS)
def test_long_non_ascii_texts_are_scanned_as_the_definition_scans_them(text: str) -> None:
    fast_view, fast = toponyms._scanned_fast(text)
    view, scanned = toponyms._scanned(text)
    assert fast == scanned
    assert list(fast_view.origin) == list(view.origin)
    assert SCANNER.scan(text) == REFERENCE.scan(text)

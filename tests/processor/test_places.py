"""Gazetteer tagging and the country → region table."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newswatch.processor.places import default_gazetteer, parse_gazetteer
from newswatch.processor.regions import default_regions, parse_regions

GAZ = default_gazetteer()
REGIONS = default_regions()


def _names(text: str) -> list[tuple[str, str]]:
    return [(p.name, p.country_code) for p in GAZ.tag_places(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Clashes near Homs and Hama.", [("Homs", "SY"), ("Hama", "SY")]),
        ("the town of al-Qaryatayn", [("Al-Qaryatayn", "SY")]),
        ("Al Qaryatayn fell", [("Al-Qaryatayn", "SY")]),
        ("Officials in Palmyra, New Jersey, met.", [("New Jersey", "US")]),
        ("Palmyra Atoll hosts a station.", []),
        ("The airstrike hit Raqqa.", [("Raqqa", "SY")]),
        ("Hit by mortar fire, the market closed.", []),
        ("the town of Hit in Anbar", [("Hit", "IQ"), ("Anbar", "IQ")]),
        ("IRAQ REPORT, SYRIA", [("Iraq", "IQ"), ("Syria", "SY")]),
        ("L'armée syrienne à Alep et Damas", [("Aleppo", "SY"), ("Damascus", "SY")]),
        ("homs and damascus in lower case", []),
        ("Tripoli, Lebanon", [("Lebanon", "LB")]),
    ],
)
def test_tag_places(text: str, expected: list[tuple[str, str]]) -> None:
    assert _names(text) == expected


def test_seed_article_places(seed_text: str) -> None:
    places = GAZ.tag_places(seed_text)
    names = {p.name for p in places}
    assert {"Homs", "Hama", "Palmyra", "Aleppo", "Hit", "Anbar", "Nineveh", "Kirkuk", "Qayyarah"} <= names
    assert {"Al-Qaryatayn", "Al-Sukhnah"} <= names
    countries = {p.country_code for p in places}
    assert countries == {"SY", "IQ"}
    assert "mena" in REGIONS.regions_for_countries(countries)
    for p in places:
        assert seed_text[p.start : p.end] == p.matched_text


def test_geonames_ids_and_lookup() -> None:
    (palmyra,) = GAZ.tag_places("Palmyra")
    assert palmyra.geonames_id and GAZ.by_geonames_id(palmyra.geonames_id).name == "Palmyra"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("country", "regions"),
    [("SY", ("levant", "mena")), ("IQ", ("gulf", "mena")), ("TR", ("mena",)), ("IR", ("gulf", "mena")),
     ("US", ("north_america",)), ("ZZ", ())],
)  # fmt: skip
def test_regions_for(country: str, regions: tuple[str, ...]) -> None:
    assert REGIONS.regions_for(country) == regions


def test_mena_is_the_arab_league_plus_three() -> None:
    arab_league = {"DZ", "BH", "KM", "DJ", "EG", "IQ", "JO", "KW", "LB", "LY", "MR", "MA", "OM", "PS", "QA",
                   "SA", "SO", "SD", "SY", "TN", "AE", "YE"}  # fmt: skip
    assert REGIONS.regions["mena"].countries == arab_league | {"IR", "IL", "TR"}
    assert REGIONS.name("mena") == "Middle East & North Africa"


def test_every_mena_country_is_in_the_gazetteer() -> None:
    countries = {e.country_code for e in GAZ.entries if e.kind == "country"}
    assert REGIONS.regions["mena"].countries <= countries


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"places": [{"name": "X", "cc": "xx", "kind": "city"}]}, "'cc'"),
        ({"places": [{"name": "X", "cc": "XX", "kind": "town"}]}, "'kind'"),
        ({"places": []}, "non-empty"),
    ],
)
def test_gazetteer_errors(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_gazetteer(data)


def test_region_errors() -> None:
    with pytest.raises(ValueError, match="ISO alpha-2"):
        parse_regions({"regions": {"x": {"countries": ["Syria"]}}})


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_tag_places_never_raises_and_slices(text: str) -> None:
    for p in GAZ.tag_places(text):
        assert text[p.start : p.end] == p.matched_text

"""Place tagging with the full gazetteer, the DESIGN.md Palmyra / Hit rules, and the region table."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newswatch.processor.places import default_gazetteer
from newswatch.processor.regions import default_regions, load_regions, parse_regions

GAZ = default_gazetteer()
REGIONS = default_regions()
TADMUR = "163808"  # GeoNames: Tadmur (Palmyra), Homs governorate, Syria
HIT = "95788"  # GeoNames: Hīt, Anbar governorate, Iraq


def _tags(text: str) -> list[tuple[str, str]]:
    return [(p.matched_text, p.country_code) for p in GAZ.tag_places(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Clashes near Homs and Hama.", [("Homs", "SY"), ("Hama", "SY")]),
        ("the town of al-Qaryatayn", [("al-Qaryatayn", "SY")]),
        ("Al Qaryatayn fell to the army", [("Al Qaryatayn", "SY")]),
        ("The airstrike hit Raqqa.", [("Raqqa", "SY")]),
        ("IRAQ REPORT, SYRIA", [("IRAQ", "IQ"), ("SYRIA", "SY")]),
        ("L'armée syrienne à Alep et Damas", [("Alep", "SY"), ("Damas", "SY")]),
        ("homs and damascus in lower case", []),
        ("Tripoli, Lebanon", [("Tripoli", "LB"), ("Lebanon", "LB")]),
        ("He lives in Gainesville, Ga., near Atlanta.",
         [("Gainesville", "US"), ("Ga.", "US"), ("Atlanta", "US")]),
        ("Les Syriens fuient vers la Turquie.", [("Turquie", "TR")]),
        ("Flooding in New York City and Charleston, W.Va.", [("New York City", "US"), ("Charleston", "US"),
                                                            ("W.Va.", "US")]),
    ],
)  # fmt: skip
def test_tag_places(text: str, expected: list[tuple[str, str]]) -> None:
    assert _tags(text) == expected


@pytest.mark.parametrize(
    ("text", "geonames_id"),
    [
        ("The Syrian army entered Palmyra on Sunday.", TADMUR),
        ("ISIS destroyed temples in Palmyra, Syria.", TADMUR),
        ("L'armée a repris Palmyre.", TADMUR),
        ("Heavy fighting around Tadmur.", TADMUR),
        ("Iraqi forces retook the town of Hit in Anbar province.", HIT),
        ("The district of Hīt lies on the Euphrates.", HIT),
        ("Fighting in Hit, Iraq, resumed.", HIT),
    ],
)
def test_design_places_resolve_to_their_geonames_ids(text: str, geonames_id: str) -> None:
    assert geonames_id in {p.geonames_id for p in GAZ.tag_places(text)}


@pytest.mark.parametrize(
    ("text", "admin1"),
    [
        ("Officials in Palmyra, New Jersey, met.", "US.NJ"),
        ("The Palmyra, N.J., council met.", "US.NJ"),
        ("A fire in Palmyra, Pa., on Monday.", "US.PA"),
    ],
)
def test_palmyra_in_the_united_states_is_not_the_syrian_city(text: str, admin1: str) -> None:
    (palmyra,) = [p for p in GAZ.tag_places(text) if p.matched_text == "Palmyra"]
    assert palmyra.geonames_id != TADMUR and palmyra.admin1 == admin1


def test_palmyra_atoll_is_not_the_syrian_city() -> None:
    assert TADMUR not in {p.geonames_id for p in GAZ.tag_places("Palmyra Atoll hosts a research station.")}


@pytest.mark.parametrize(
    "text",
    [
        "The airstrike hit a convoy near the border.",
        "Hit by mortar fire, the market closed.",
        "A hit-and-run driver fled the scene.",
        "Hit-and-run crashes rose last year.",
        "It was a summer hit across Europe.",
        "White smoke rose over the Vatican.",
        "Hitler's bunker was in Berlin.",
        "Airstrike Hit Convoy Near Border",
    ],
)
def test_hit_as_a_word_is_never_the_town(text: str) -> None:
    assert HIT not in {p.geonames_id for p in GAZ.tag_places(text)}


def test_seed_article_places(seed_text: str) -> None:
    places = GAZ.tag_places(seed_text)
    ids = {p.geonames_id for p in places}
    assert {TADMUR, HIT} <= ids
    names = {p.matched_text for p in places}
    assert {"Homs", "Hama", "Palmyra", "Aleppo", "Hit", "Anbar", "Nineveh", "Kirkuk", "Qayyarah"} <= names
    assert {"al-Qaryatayn", "Al-Qaryatayn"} <= names
    countries = {p.country_code for p in places if p.country_code}
    assert {"SY", "IQ"} <= countries
    assert countries == {"SY", "IQ"}  # "Russian warplanes" are not a place
    for p in places:
        assert seed_text[p.start : p.end] == p.matched_text
    footer = seed_text.index("La source originale")
    assert all(p.start < footer for p in places)


def test_fields_are_resolved_together() -> None:
    title, body = "Flooding closes roads in Paris", "Crews in Lamar County, Texas, worked overnight."
    alone = GAZ.tag_places(title)
    together = GAZ.tag_fields([title, body])
    assert alone[0].country_code == "FR"
    assert together[0][0].country_code == "US" and together[0][0].admin1 == "US.TX"
    assert [p.matched_text for p in together[1]] == ["Lamar County", "Texas"]


def test_place_match_fields_and_lookup() -> None:
    (palmyra,) = GAZ.tag_places("Palmyra")
    assert (palmyra.name, palmyra.country_code, palmyra.kind, palmyra.admin1) == (
        "Palmyra",
        "SY",
        "city",
        "SY.11",
    )
    entry = GAZ.by_geonames_id(palmyra.geonames_id)
    assert entry is not None and entry.name == "Palmyra" and entry.population > 10_000
    assert abs(palmyra.lat - 34.56) < 0.1 and abs(palmyra.lon - 38.28) < 0.1
    (syrian,) = GAZ.with_demonyms(True).tag_places("Syrian")
    assert syrian.demonym and syrian.kind == "country" and syrian.name == "Syria"


def test_resolves_to_binds_a_span_to_a_geonames_id() -> None:
    text = "Iraqi troops entered the town of Hit."
    start = text.index("Hit")
    assert GAZ.resolves_to([text], 0, start, start + 3, HIT)
    assert not GAZ.resolves_to([text], 0, start, start + 3, TADMUR)
    assert not GAZ.resolves_to(["The airstrike hit the town."], 0, 14, 17, HIT)


def test_demonyms_are_optional_and_never_towns() -> None:
    assert GAZ.tag_places("Russian jets struck") == []
    assert [(p.matched_text, p.country_code) for p in GAZ.with_demonyms(True).tag_places("Russian jets")] == [
        ("Russian", "RU")
    ]
    assert [p.matched_text for p in GAZ.tag_places("Canadian, Texas, is small")] == ["Texas"]


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


def test_every_region_country_is_a_gazetteer_country() -> None:
    countries = {e.country_code for e in GAZ.entries if e.kind == "country"}
    for region in REGIONS.regions.values():
        assert region.countries <= countries, region.region_id


def test_region_errors() -> None:
    with pytest.raises(ValueError, match="ISO alpha-2"):
        parse_regions({"regions": {"x": {"countries": ["Syria"]}}})


def test_a_deployment_can_replace_the_region_table(tmp_path: Path) -> None:
    assert load_regions("") is default_regions()
    path = tmp_path / "regions.yaml"
    path.write_text("regions:\n  levant_only:\n    name: Levant\n    countries: [SY, LB]\n")
    table = load_regions(path)
    assert table.regions_for("SY") == ("levant_only",) and table.regions_for("IQ") == ()
    path.write_text("regions: [")
    with pytest.raises(ValueError, match=r"regions\.yaml: cannot read"):
        load_regions(path)
    with pytest.raises(ValueError, match="cannot read"):
        load_regions(tmp_path / "missing.yaml")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_tag_places_never_raises_and_slices(text: str) -> None:
    for p in GAZ.tag_places(text):
        assert text[p.start : p.end] == p.matched_text


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "Paris",
                "Hit",
                "Palmyra",
                "al-Qaryatayn",
                "Ga.",
                ", ",
                " ",
                "Mr.",
                "said",
                "in",
                "the town of",
                "É",
                "\u0301",
                "IRAQ",
                "\n",
                "-",
                "Homs",
            ]
        ),
        max_size=30,
    )
)
def test_tag_places_on_place_like_text(parts: list[str]) -> None:
    text = " ".join(parts)
    for p in GAZ.tag_places(text):
        assert text[p.start : p.end] == p.matched_text
        assert GAZ.by_geonames_id(p.geonames_id) is not None or not p.geonames_id


def test_default_watchlist_places_are_bound_to_their_gazetteer_ids() -> None:
    from newswatch.processor.watchlist import default_watchlist

    places = [t for t in default_watchlist().terms if t.kind == "place"]
    assert {t.term_id for t in places} >= {"palmyra", "hit"}
    for term in places:
        entry = GAZ.by_geonames_id(term.geonames_id)
        assert entry is not None, term.term_id
        assert term.geonames_id in {e.geonames_id for e, _ in GAZ.index.lookup(term.label)}, term.term_id


def test_lone_surrogates_do_not_stop_tagging() -> None:
    assert [p.matched_text for p in GAZ.tag_places("Shelling in \ud800 Homs and Hama.")] == ["Homs", "Hama"]


def test_demonym_twins_share_caches_not_answers() -> None:
    text = "Syrian troops retook Palmyra; Russian jets flew over Homs."
    quiet, loud = GAZ, GAZ.with_demonyms(True)
    assert loud.resolver.reader is quiet.resolver.reader  # one set of caches per process
    for _ in range(2):
        assert [p.matched_text for p in quiet.tag_places(text)] == ["Palmyra", "Homs"]
        assert [p.matched_text for p in loud.tag_places(text)] == ["Syrian", "Palmyra", "Russian", "Homs"]


def test_place_match_is_an_immutable_value() -> None:
    (homs,) = GAZ.tag_places("Homs")
    assert homs == GAZ.tag_places("Homs")[0] and hash(homs) == hash(GAZ.tag_places("Homs")[0])
    with pytest.raises(AttributeError):
        homs.start = 3  # type: ignore[misc]

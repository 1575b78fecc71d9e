"""Pure enrichment and alert rules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from newswatch import contracts
from newswatch.processor.enrich import alert_id, alerts_for, enrich, enrich_batch, score, term_weights
from newswatch.processor.keywords import Match, Matcher, RegexMatcher, ResolvedPlace, build_matcher
from newswatch.processor.language import detect_masked_language
from newswatch.processor.normalize import mask_boilerplate
from newswatch.processor.places import default_gazetteer
from newswatch.processor.regions import default_regions
from newswatch.processor.watchlist import default_watchlist, parse_watchlists
from newswatch.v1.article_pb2 import Article
from newswatch.v1.enriched_pb2 import EnrichedArticle, TextField

from .entry_adds import add_match, add_place

DEFAULT = default_watchlist()
MATCHER = RegexMatcher([DEFAULT])
GAZ = default_gazetteer()
NOW = datetime(2016, 4, 5, 12, 0, tzinfo=UTC)


def _article(**fields: str) -> Article:
    return Article(article_id=fields.pop("article_id", "a1"), feed_id="f1", **fields)


def test_seed_article(seed_text: str) -> None:
    article = _article(title="Heavy Clashes with ISIS", content=seed_text, language="")
    enriched = enrich(article, MATCHER, GAZ, now=NOW)
    assert {m.term_id for m in enriched.matches} == {"isis", "palmyra", "hit"}
    assert list(enriched.countries) == ["IQ", "SY"]
    assert "mena" in enriched.regions and list(enriched.regions) == sorted(set(enriched.regions))
    assert enriched.language == "en"
    title_matches = [m for m in enriched.matches if m.field == TextField.TEXT_FIELD_TITLE]
    assert [(m.start, m.end) for m in title_matches] == [(19, 23)]
    for m in enriched.matches:
        source = article.title if m.field == TextField.TEXT_FIELD_TITLE else article.content
        assert source[m.start : m.end] == m.matched_text
    for p in enriched.places:  # "Middle East & North Africa" (regions) have no country
        assert p.country_code in {"SY", "IQ"} or (
            p.name in {"Middle East", "North Africa"} and not p.country_code
        )
        source = article.title if p.field == TextField.TEXT_FIELD_TITLE else article.content
        assert source[p.start : p.end] == p.matched_text
    assert {"163808", "95788"} <= {p.geonames_id for p in enriched.places}  # Palmyra (Tadmur), Hīt
    (alert,) = alerts_for(enriched, [DEFAULT], now=NOW)
    assert alert.alert_id == alert_id("a1", "default") and len(alert.alert_id) == 32
    assert alert.score == 3.0 and alert.watchlist_name == DEFAULT.name
    assert list(alert.regions) == list(enriched.regions)
    assert alert.created_at.ToDatetime(tzinfo=UTC) == NOW


@pytest.mark.parametrize(
    ("declared", "text", "expected"),
    [
        ("fr-FR", "The town", "fr"),
        ("EN_us", "", "en"),
        ("", "Les forces de la coalition sont dans la ville", "fr"),
        ("", "The forces of the coalition are in the town", "en"),
        ("", "12345", ""),
        ("??", "Le groupe et la ville", "fr"),
    ],
)
def test_language(declared: str, text: str, expected: str) -> None:
    assert enrich(_article(title=text, language=declared), MATCHER, GAZ).language == expected


def test_language_leaves_a_footer_in_another_language_out() -> None:
    body = (
        "The ministry said on Tuesday that the convoy had reached the border crossing after a long "
        "delay, and that aid workers were preparing to distribute food and water to families who had "
        "waited for several days in the heat near the camp.\n\n"
    )
    footer = (
        "Avis de non-responsabilité : les opinions exprimées dans cet article sont celles de l'auteur "
        "et ne reflètent pas nécessairement celles du site, qui décline toute responsabilité quant aux "
        "propos tenus dans les articles publiés et quant aux commentaires de ses lecteurs. " * 3
    )
    assert enrich(_article(content=body + footer, language=""), MATCHER, GAZ).language == "en"


def test_threshold_and_weights_count_each_term_once() -> None:
    (wl,) = parse_watchlists(
        {
            "id": "pair",
            "threshold": 2,
            "terms": [
                {"id": "a", "aliases": ["alpha"], "weight": 1, "variants": [{"aliases": ["alef"]}]},
                {"id": "b", "aliases": ["beta"], "weight": 1},
            ],
        }
    )
    matcher = RegexMatcher([wl])
    one = enrich(_article(title="alpha alef alpha"), matcher, GAZ)
    assert score(wl, one.matches) == 1.0
    assert alerts_for(one, [wl]) == []
    both = enrich(_article(title="alpha and beta"), matcher, GAZ)
    (alert,) = alerts_for(both, [wl])
    assert alert.score == 2.0 and alert.watchlist_id == "pair"


def test_disabled_watchlist_never_alerts() -> None:
    disabled = default_watchlist()
    disabled.enabled = False
    enriched = enrich(_article(title="Daesh"), MATCHER, GAZ)
    assert alerts_for(enriched, [disabled]) == []


def test_alert_id_is_deterministic_and_distinct() -> None:
    assert alert_id("a", "w") == alert_id("a", "w")
    assert len({alert_id("a", "w"), alert_id("a", "v"), alert_id("b", "w"), alert_id("a\x00w", "")}) == 4


def test_duplicate_cluster_and_published_at_are_carried() -> None:
    article = _article(title="Daesh")
    article.published_at.FromDatetime(NOW)
    enriched = enrich(article, MATCHER, GAZ)
    enriched.duplicate_of = "a0"
    (alert,) = alerts_for(enriched, [DEFAULT])
    assert alert.duplicate_cluster_id == "a0"
    assert alert.alert_id == alert_id("a0", "default")  # one id per (cluster, watch list)
    assert alert.published_at == article.published_at
    enriched.duplicate_of = ""
    (first,) = alerts_for(enriched, [DEFAULT])
    assert (first.duplicate_cluster_id, first.alert_id) == ("a1", alert_id("a1", "default"))


def _reference_enrich(article: Article, matcher: Matcher) -> EnrichedArticle:
    """``enrich`` written plainly (every field read by name, ``Match.snippet`` per match, countries
    from the built message): the definition the optimised one must equal."""
    out = EnrichedArticle(processed_at=contracts.timestamp(NOW))
    out.article.CopyFrom(article)
    names = ("title", "summary", "content")
    fields = (TextField.TEXT_FIELD_TITLE, TextField.TEXT_FIELD_SUMMARY, TextField.TEXT_FIELD_CONTENT)
    places = GAZ.tag_fields([getattr(article, name) for name in names])
    for name, field, field_places in zip(names, fields, places, strict=True):
        text: str = getattr(article, name)
        if not text:
            continue
        for m in matcher.match(text, field_places):
            add_match(out, m, field, m.matched_text, m.snippet)
        for p in field_places:
            add_place(out, p, field)
    countries = sorted({p.country_code for p in out.places if p.country_code})
    out.countries.extend(countries)
    out.regions.extend(default_regions().regions_for_countries(countries))
    masked = "\n".join(mask_boilerplate(getattr(article, name)) for name in names)
    out.language = detect_masked_language(masked, article.language)
    return out


@pytest.mark.parametrize("matcher", [MATCHER, build_matcher([DEFAULT])], ids=["regex", "automaton"])
def test_enrich_equals_its_plain_definition(seed_text: str, matcher: Matcher) -> None:
    articles = [
        _article(title="Heavy Clashes with ISIS", content=seed_text, language=""),
        _article(
            title="Frappes près de Palmyre",
            summary="L'armée syrienne\u00a0avance vers Hīt et\u2028Alep.\x1c Daesh recule.",
            content=("Les forces de la coalition bombardent Raqqa.  " * 30) + seed_text[:2000],
            language="fr",
        ),
        _article(content="ISIS " * 200 + "\t\n" + "Damascus, Syria and Baghdad, Iraq. " * 10),
        _article(title="", summary="", content=""),
    ]
    for article in articles:
        got = enrich(article, matcher, GAZ, now=NOW)
        assert got == _reference_enrich(article, matcher)
    assert got.language == "" and not got.matches  # the empty article too
    # The batch, step by step, gives each article what enrich gives it alone.
    alone = [enrich(a, matcher, GAZ, now=NOW) for a in articles]
    assert enrich_batch(articles, matcher, GAZ, now=NOW) == alone


def test_an_article_failing_a_batch_step_gets_its_exception_and_the_others_go_on(seed_text: str) -> None:
    class Picky(RegexMatcher):
        def match(self, text: str, places: Sequence[ResolvedPlace] = ()) -> list[Match]:
            if "poison" in text:
                raise RuntimeError("bug")
            return super().match(text, places)

    articles = [_article(title="ISIS in Palmyra"), _article(title="poison"), _article(content=seed_text)]
    got = enrich_batch(articles, Picky([DEFAULT]), GAZ, now=NOW)
    assert isinstance(got[1], RuntimeError)
    assert got[0] == enrich(articles[0], MATCHER, GAZ, now=NOW)
    assert got[2] == enrich(articles[2], MATCHER, GAZ, now=NOW)
    with pytest.raises(RuntimeError):
        enrich(articles[1], Picky([DEFAULT]), GAZ, now=NOW)
    assert enrich_batch([], MATCHER, GAZ) == []


def test_alerts_with_kept_weights_equal_alerts_without(seed_text: str) -> None:
    (pair,) = parse_watchlists(
        {"id": "pair", "threshold": 1, "terms": [{"id": "isis", "aliases": ["isis"], "weight": 1}]}
    )
    lists = [DEFAULT, pair]
    enriched = enrich(_article(title="ISIS", content=seed_text), build_matcher(lists), GAZ, now=NOW)
    weights = {w.watchlist_id: term_weights(w) for w in lists}
    assert weights["default"]["isis"] == max(t.weight for t in DEFAULT.terms if t.term_id == "isis")
    kept = alerts_for(enriched, lists, now=NOW, weights=weights)
    assert [a.watchlist_id for a in kept] == ["default", "pair"]
    assert kept == alerts_for(enriched, lists, now=NOW)
    assert alerts_for(enriched, lists, now=NOW, weights={"pair": {"isis": 0.5}})[1:] == []

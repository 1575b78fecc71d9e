"""Pure enrichment: an Article becomes an EnrichedArticle, and an EnrichedArticle yields Alerts.

- :func:`enrich` (one article) and :func:`enrich_batch` (a batch, step by step) tag places (the
  three fields resolved together), match the title, summary and content separately (offsets are code
  points into that field; the field's places go to the matcher, see ``Matcher.match``), derive sorted
  unique countries and regions, and set the language
  (:func:`newswatch.processor.language.detect_masked_language` over the three fields, boilerplate
  masked, with the declared language). The matches and places are written as protobuf wire bytes
  (:mod:`newswatch.processor.entries`) and merged at once.
- :func:`alerts_for` returns one Alert per enabled watch list whose matched terms' weights (each term id
  counted once, at its largest weight) reach the list's threshold. ``alert_id`` is deterministic:
  ``sha256(cluster_id NUL watchlist_id)`` hex, first 32 characters, the cluster being the article's
  duplicate cluster (its own id when it is the first).

Nothing here does I/O; nothing raises for well-formed protobuf input.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

from newswatch import contracts
from newswatch.processor.entries import add_entries, encode_entries
from newswatch.processor.keywords import Match, Matcher
from newswatch.processor.language import detect_masked_language
from newswatch.processor.normalize import mask_boilerplate
from newswatch.processor.places import Gazetteer, PlaceMatch
from newswatch.processor.regions import RegionTable, default_regions
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.article_pb2 import Article
from newswatch.v1.enriched_pb2 import EnrichedArticle, TermMatch
from newswatch.v1.watchlist_pb2 import Watchlist

__all__ = ["alert_id", "alerts_for", "enrich", "enrich_batch", "score", "term_weights"]


def _language(texts: Sequence[str], declared: str) -> str:
    """The article's language from its three fields with boilerplate masked (the toponym scanner has
    masked the same texts already: ``mask_boilerplate``'s cache answers; the matcher masks its own
    copy in native code, ``Engine.match_text``)."""
    return detect_masked_language("\n".join([mask_boilerplate(text) for text in texts]), declared)


def enrich(
    article: Article,
    matcher: Matcher,
    gazetteer: Gazetteer,
    regions: RegionTable | None = None,
    now: datetime | None = None,
) -> EnrichedArticle:
    """The article with its matches, places, countries, regions and language (``duplicate_of`` empty)."""
    (out,) = enrich_batch([article], matcher, gazetteer, regions, now)
    if isinstance(out, Exception):
        raise out
    return out


class _Work:
    """One article on its way through :func:`enrich_batch`."""

    __slots__ = ("at", "found", "out", "places", "texts")

    def __init__(self, at: int, out: EnrichedArticle, texts: list[str]) -> None:
        self.at, self.out, self.texts = at, out, texts
        self.places: list[list[PlaceMatch]] = []
        self.found: list[list[Match]] = []


def enrich_batch(
    articles: Sequence[Article],
    matcher: Matcher,
    gazetteer: Gazetteer,
    regions: RegionTable | None = None,
    now: datetime | None = None,
) -> list[EnrichedArticle | Exception]:
    """:func:`enrich` of each article, in order, computed step by step over the whole batch (all places,
    then all matches, then all entries, then all languages): each step's tables (gazetteer, automata,
    language model) then stay in the CPU caches from one article to the next, which per article they do
    not (``bench/enrich.py`` compares the two). An article whose step raises gets the exception in its
    place and takes no further part; the others are unaffected."""
    table = regions or default_regions()
    results: list[EnrichedArticle | Exception] = []
    work: list[_Work] = []
    for at, article in enumerate(articles):
        out = EnrichedArticle(processed_at=contracts.timestamp(now))
        results.append(out)
        out.article.CopyFrom(article)
        # Each field read once: a protobuf string field is decoded into a new str at every read.
        work.append(_Work(at, out, [article.title, article.summary, article.content]))

    def step(action: Callable[[_Work], None]) -> None:
        nonlocal work
        live: list[_Work] = []
        for item in work:
            try:
                action(item)
            except Exception as exc:  # noqa: BLE001 - handed back in the article's place
                results[item.at] = exc
            else:
                live.append(item)
        work = live

    def tag(item: _Work) -> None:
        # Places of all fields are resolved together: the title's "Paris" reads in the body's context.
        item.places = gazetteer.tag_fields(item.texts)

    def match(item: _Work) -> None:
        # A field's places stand in for a bound term's context; an empty field has neither.
        item.found = [
            matcher.match(text, field_places) if text else []
            for text, field_places in zip(item.texts, item.places, strict=True)
        ]

    def write(item: _Work) -> None:
        # The entries as wire bytes merged at once: one ``add`` per entry costs about three times more.
        texts, places, out = item.texts, item.places, item.out
        entries = encode_entries(texts, item.found, places)
        if entries is None:
            add_entries(out, texts, item.found, places)
        elif entries:
            out.MergeFromString(entries)
        countries = {p.country_code for text, fp in zip(texts, places, strict=True) if text for p in fp}
        countries.discard("")
        ordered = sorted(countries)
        out.countries.extend(ordered)
        out.regions.extend(table.regions_for_countries(ordered))

    def language(item: _Work) -> None:
        item.out.language = _language(item.texts, item.out.article.language)

    for action in (tag, match, write, language):
        step(action)
    return results


def alert_id(article_id: str, watchlist_id: str) -> str:
    return hashlib.sha256(f"{article_id}\x00{watchlist_id}".encode()).hexdigest()[:32]


def term_weights(watchlist: Watchlist) -> dict[str, float]:
    """Each term id of ``watchlist`` with its largest weight (what :func:`score` adds up)."""
    weights: dict[str, float] = {}
    for term in watchlist.terms:
        weights[term.term_id] = max(weights.get(term.term_id, 0.0), term.weight)
    return weights


def score(
    watchlist: Watchlist, matches: Iterable[TermMatch], weights: Mapping[str, float] | None = None
) -> float:
    """Sum of the weights of the distinct terms of ``watchlist`` found in ``matches``. ``weights``:
    ``term_weights(watchlist)`` when the caller keeps it (computed here otherwise)."""
    if weights is None:
        weights = term_weights(watchlist)
    found = {m.term_id for m in matches if m.watchlist_id == watchlist.watchlist_id}
    return sum(weights.get(t, 0.0) for t in found)


def alerts_for(
    enriched: EnrichedArticle,
    watchlists: Sequence[Watchlist],
    now: datetime | None = None,
    weights: Mapping[str, Mapping[str, float]] | None = None,
) -> list[Alert]:
    """One Alert per enabled watch list whose score reaches its threshold, in watch-list order.

    The article's duplicate cluster is ``enriched.duplicate_of`` (its first article), else the article
    itself: ``duplicate_cluster_id`` is that cluster and ``alert_id`` is ``alert_id(cluster, watchlist)``,
    so a copy alerted again (after a crash, or before its cluster's first alert was recorded) carries
    the first alert's id. ``weights``: watch-list id -> ``term_weights`` of that list, for callers that
    keep them with their lists (a list missing there has its weights computed per call).
    """
    if not enriched.matches:
        return []  # most articles: no score to compute
    by_list: dict[str, list[TermMatch]] = {}
    for m in enriched.matches:
        by_list.setdefault(m.watchlist_id, []).append(m)
    article = enriched.article
    cluster = enriched.duplicate_of or article.article_id
    alerts: list[Alert] = []
    for watchlist in watchlists:
        if not watchlist.enabled:
            continue
        matches = by_list.get(watchlist.watchlist_id)
        if not matches:
            continue
        known = weights.get(watchlist.watchlist_id) if weights is not None else None
        total = score(watchlist, matches, known)
        if total < watchlist.threshold:
            continue
        alert = Alert(
            alert_id=alert_id(cluster, watchlist.watchlist_id),
            watchlist_id=watchlist.watchlist_id,
            watchlist_name=watchlist.name,
            article_id=article.article_id,
            feed_id=article.feed_id,
            title=article.title,
            url=article.url,
            language=enriched.language,
            countries=list(enriched.countries),
            regions=list(enriched.regions),
            score=total,
            duplicate_cluster_id=cluster,
            created_at=contracts.timestamp(now),
        )
        alert.matches.extend(matches)
        alert.places.extend(enriched.places)
        if article.HasField("published_at"):
            alert.published_at.CopyFrom(article.published_at)
        alerts.append(alert)
    return alerts

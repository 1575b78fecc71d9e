"""Pure enrichment: an Article becomes an EnrichedArticle, and an EnrichedArticle yields Alerts.

- :func:`enrich` tags places (the three fields resolved together), matches the title, summary and
  content separately (offsets are code points into that field; the field's places go to the matcher,
  see ``Matcher.match``), derives sorted unique countries and regions, and sets the language
  (:func:`newswatch.processor.language.detect_masked_language` over the three fields, boilerplate
  masked, with the declared language). The matches and places are written as protobuf wire bytes
  in native code (``newswatch_native.EntryWriter``, field numbers read from the descriptors here) and
  merged at once; ``_add_entries``, one ``add`` per entry, is their definition and the fallback for
  what the native writer declines (a text with a lone surrogate, which ``add`` refuses as well).
- :func:`alerts_for` returns one Alert per enabled watch list whose matched terms' weights (each term id
  counted once, at its largest weight) reach the list's threshold. ``alert_id`` is deterministic:
  ``sha256(cluster_id NUL watchlist_id)`` hex, first 32 characters, the cluster being the article's
  duplicate cluster (its own id when it is the first).

Nothing here does I/O; nothing raises for well-formed protobuf input.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from google.protobuf.descriptor import FieldDescriptor
from newswatch_native import EntryWriter

from newswatch import contracts
from newswatch.processor.keywords import SNIPPET_CHARS, Match, Matcher, snippets
from newswatch.processor.language import detect_masked_language
from newswatch.processor.normalize import mask_boilerplate
from newswatch.processor.places import Gazetteer, PlaceMatch
from newswatch.processor.regions import RegionTable, default_regions
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.article_pb2 import Article
from newswatch.v1.enriched_pb2 import EnrichedArticle, TermMatch, TextField
from newswatch.v1.watchlist_pb2 import Watchlist

__all__ = ["alert_id", "alerts_for", "enrich", "score", "term_weights"]

_FIELDS: tuple[tuple[str, TextField.ValueType], ...] = (
    ("title", TextField.TEXT_FIELD_TITLE),
    ("summary", TextField.TEXT_FIELD_SUMMARY),
    ("content", TextField.TEXT_FIELD_CONTENT),
)


def _language(texts: Sequence[str], declared: str) -> str:
    """The article's language from its three fields with boilerplate masked (the toponym scanner has
    masked the same texts already: ``mask_boilerplate``'s cache answers; the matcher masks its own
    copy in native code, ``Engine.match_text``)."""
    return detect_masked_language("\n".join([mask_boilerplate(text) for text in texts]), declared)


def _entry_writer() -> EntryWriter:
    """The native writer of ``matches`` and ``places`` entries: field numbers read from the generated
    descriptors (their types checked against the layout it writes), item positions from the tuples'
    fields. Raises TypeError when the messages no longer have that layout."""
    fields = EnrichedArticle.DESCRIPTOR.fields_by_name
    string, enum, uint32 = FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_ENUM, FieldDescriptor.TYPE_UINT32

    def numbers(repeated: str, layout: Sequence[tuple[str, int]]) -> list[int]:
        message = fields[repeated].message_type
        if message is None or not fields[repeated].is_repeated:
            raise TypeError(f"EnrichedArticle.{repeated} is no longer a repeated message field")
        entry = message.fields_by_name
        wrong = [
            name
            for name, kind in layout
            if name not in entry or entry[name].type != kind or entry[name].has_presence
        ]  # a field with presence would be written at its default once set
        if wrong:
            raise TypeError(f"EnrichedArticle.{repeated}: fields {wrong} differ from the written layout")
        return [entry[name].number for name, _ in layout]

    place_layout = [(n, string) for n in ("name", "matched_text", "geonames_id", "country_code")]
    place_layout += [("field", enum), ("start", uint32), ("end", uint32)]
    match_layout = [(n, string) for n in ("watchlist_id", "term_id", "term_label", "kind", "matched_text")]
    match_layout += [("field", enum), ("start", uint32), ("end", uint32), ("snippet", string)]
    place_items = ("name", "matched_text", "geonames_id", "country_code", "start", "end")
    match_items = ("watchlist_id", "term_id", "term_label", "kind", "start", "end")
    return EntryWriter(
        fields["places"].number,
        numbers("places", place_layout),
        [PlaceMatch._fields.index(name) for name in place_items],
        fields["matches"].number,
        numbers("matches", match_layout),
        [Match._fields.index(name) for name in match_items],
    )


_WRITER = _entry_writer()


def _entries(
    texts: Sequence[str], found: Sequence[list[Match]], places: Sequence[list[PlaceMatch]]
) -> bytes | None:
    """The ``matches`` and ``places`` entries of the fields with text, as wire bytes (native); None when
    one cannot be written natively (see ``EntryWriter``): then :func:`_add_entries`."""
    chunks: list[bytes] = []
    for (_, field), text, field_found, field_places in zip(_FIELDS, texts, found, places, strict=True):
        if not text:
            continue
        if field_found:
            chunk = _WRITER.matches(text, field, field_found, SNIPPET_CHARS)
            if chunk is None:
                return None
            chunks.append(chunk)
        if field_places:
            chunk = _WRITER.places(field_places, field)
            if chunk is None:
                return None
            chunks.append(chunk)
    return b"".join(chunks)


def _add_entries(
    out: EnrichedArticle,
    texts: Sequence[str],
    found: Sequence[list[Match]],
    places: Sequence[list[PlaceMatch]],
) -> None:
    """:func:`_entries` built in place with ``add`` (the definition; the fallback). The tuples are
    unpacked rather than read by attribute (``Match.matched_text`` and ``.snippet`` are computed
    properties; the snippets of a field are made in one call)."""
    add_match, add_place = out.matches.add, out.places.add
    for (_, field), text, field_found, field_places in zip(_FIELDS, texts, found, places, strict=True):
        if not text:
            continue
        if field_found:
            spans = [(m.start, m.end) for m in field_found]
            for (watchlist_id, term_id, term_label, kind, _, start, end, _), snip in zip(
                field_found, snippets(text, spans), strict=True
            ):
                add_match(
                    watchlist_id=watchlist_id,
                    term_id=term_id,
                    term_label=term_label,
                    kind=kind,
                    matched_text=text[start:end],
                    field=field,
                    start=start,
                    end=end,
                    snippet=snip,
                )
        for p in field_places:
            add_place(
                name=p.name,
                matched_text=p.matched_text,
                geonames_id=p.geonames_id,
                country_code=p.country_code,
                field=field,
                start=p.start,
                end=p.end,
            )


def enrich(
    article: Article,
    matcher: Matcher,
    gazetteer: Gazetteer,
    regions: RegionTable | None = None,
    now: datetime | None = None,
) -> EnrichedArticle:
    """The article with its matches, places, countries, regions and language (``duplicate_of`` empty)."""
    table = regions or default_regions()
    out = EnrichedArticle(processed_at=contracts.timestamp(now))
    out.article.CopyFrom(article)
    # Each field read once: a protobuf string field is decoded into a new str at every read.
    texts = [article.title, article.summary, article.content]
    # Places of all fields are resolved together: the title's "Paris" reads in the body's context.
    places = gazetteer.tag_fields(texts)
    # A field's places stand in for a bound term's context; an empty field has neither.
    found = [
        matcher.match(text, field_places) if text else []
        for text, field_places in zip(texts, places, strict=True)
    ]
    # The entries as wire bytes merged at once: one ``add`` per entry costs about three times more.
    entries = _entries(texts, found, places)
    if entries is None:
        _add_entries(out, texts, found, places)
    elif entries:
        out.MergeFromString(entries)
    countries = {
        p.country_code for text, field_places in zip(texts, places, strict=True) if text for p in field_places
    }
    countries.discard("")
    ordered = sorted(countries)
    out.countries.extend(ordered)
    out.regions.extend(table.regions_for_countries(ordered))
    out.language = _language(texts, article.language)
    return out


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

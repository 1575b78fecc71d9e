"""The ``matches`` and ``places`` entries of an ``EnrichedArticle`` written plainly, one protobuf
``add`` per entry with every field named: the oracle that the optimised writers (``entries``, the
compiled ``EntryWriter``, ``enrich``) are tested against. It uses none of the code under test, on
purpose."""

from __future__ import annotations

from newswatch.processor.keywords import Match
from newswatch.processor.places import PlaceMatch
from newswatch.v1.enriched_pb2 import EnrichedArticle


def add_match(out: EnrichedArticle, m: Match, field: int, matched_text: str, snippet: str) -> None:
    """``m`` added to ``out.matches`` with the given text and snippet."""
    out.matches.add(
        watchlist_id=m.watchlist_id,
        term_id=m.term_id,
        term_label=m.term_label,
        kind=m.kind,
        matched_text=matched_text,
        field=field,
        start=m.start,
        end=m.end,
        snippet=snippet,
    )


def add_place(out: EnrichedArticle, p: PlaceMatch, field: int) -> None:
    """``p`` added to ``out.places``."""
    out.places.add(
        name=p.name,
        matched_text=p.matched_text,
        geonames_id=p.geonames_id,
        country_code=p.country_code,
        field=field,
        start=p.start,
        end=p.end,
    )

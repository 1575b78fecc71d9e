"""The ``matches`` and ``places`` entries of an EnrichedArticle, from the matcher's and the gazetteer's
results for its fields.

:func:`encode_entries` writes them as protobuf wire bytes in native code (``newswatch_native.EntryWriter``,
field numbers read from the generated descriptors here), for one ``MergeFromString``: a third of the
cost of one ``add`` per entry (``bench/enrich.py`` prints the ratio). :func:`add_entries`, one ``add``
per entry, is their definition (the tests compare the two, message and bytes) and the fallback for
what the native writer declines (a text with a lone surrogate, which ``add`` refuses as well).
"""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.descriptor import FieldDescriptor
from newswatch_native import EntryWriter

from newswatch.processor.keywords import SNIPPET_CHARS, Match, snippets
from newswatch.processor.places import PlaceMatch
from newswatch.v1.enriched_pb2 import EnrichedArticle, TextField

__all__ = ["FIELDS", "add_entries", "encode_entries", "entry_writer"]

#: The text fields of an article in order, with their ``TextField`` values.
FIELDS: tuple[tuple[str, TextField.ValueType], ...] = (
    ("title", TextField.TEXT_FIELD_TITLE),
    ("summary", TextField.TEXT_FIELD_SUMMARY),
    ("content", TextField.TEXT_FIELD_CONTENT),
)


def entry_writer() -> EntryWriter:
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


_WRITER = entry_writer()


def encode_entries(
    texts: Sequence[str], found: Sequence[list[Match]], places: Sequence[list[PlaceMatch]]
) -> bytes | None:
    """The ``matches`` and ``places`` entries of the fields with text, as wire bytes (native); None when
    one cannot be written natively (see ``EntryWriter``): then :func:`add_entries`."""
    chunks: list[bytes] = []
    for (_, field), text, field_found, field_places in zip(FIELDS, texts, found, places, strict=True):
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


def add_entries(
    out: EnrichedArticle,
    texts: Sequence[str],
    found: Sequence[list[Match]],
    places: Sequence[list[PlaceMatch]],
) -> None:
    """:func:`encode_entries` built in place with ``add`` (the definition; the fallback). The tuples are
    unpacked rather than read by attribute (``Match.matched_text`` and ``.snippet`` are computed
    properties; the snippets of a field are made in one call)."""
    add_match, add_place = out.matches.add, out.places.add
    for (_, field), text, field_found, field_places in zip(FIELDS, texts, found, places, strict=True):
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

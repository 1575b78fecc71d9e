"""Place tagging with the project's small gazetteer (package data ``data/gazetteer.yaml``).

:meth:`Gazetteer.tag_places` finds gazetteer names in text with one combined pattern over the
accent-folded, case-kept text (capitalisation is required; an all-capitals form of names of four
letters or more also counts, as in headlines). Rules, applied to every hit:

- names that are also common words (a stop list, or an entry with ``context``) need a context word
  within ``CONTEXT_WINDOW_CHARS``;
- an entry's ``negative`` words must not occur within that window (Palmyra Atoll);
- "X, Y" where Y is a country or state of another country than city X drops X (Palmyra, New Jersey);
- copyright and disclaimer footers are ignored.

Offsets are code points into the original text. ``tag_places`` never raises for any ``str``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from newswatch.processor.keywords import alias_pattern, context_pattern, phrase_key
from newswatch.processor.normalize import FoldedText, fold, mask_boilerplate

__all__ = [
    "COMMON_WORDS",
    "Gazetteer",
    "GazetteerEntry",
    "PlaceMatch",
    "default_gazetteer",
    "parse_gazetteer",
]

CONTEXT_WINDOW_CHARS = 60
KINDS = ("country", "admin", "capital", "city")
# Place names that are also ordinary words: they need place context.
COMMON_WORDS = frozenset(
    [
        "hit", "sur", "bar", "nice", "mobile", "reading", "bath", "split", "sale", "van", "male", "dover",
        "orange", "troy", "eureka", "chance", "hope", "mission", "liberty", "independence", "union",
        "victoria", "florence", "marathon", "media", "paradise", "wells", "deal"
    ]
)  # fmt: skip
GENERIC_CONTEXT = (
    "town", "towns", "city", "village", "province", "district", "governorate", "region", "ville",
    "capital", "outskirts", "near",
)  # fmt: skip
_ARTICLE = re.compile(r"^(al|el|ar|as|ad|an|at|ash|az|ath|ad|ez|es)[\s\-]+(.+)$", re.IGNORECASE)
_COMMA = re.compile(r"\s*,\s*")


@dataclass(frozen=True, slots=True)
class GazetteerEntry:
    name: str
    geonames_id: str
    country_code: str
    kind: str
    aliases: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PlaceMatch:
    """A place found in text; ``text[start:end] == matched_text``."""

    name: str
    matched_text: str
    geonames_id: str
    country_code: str
    kind: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _Compiled:
    entry: GazetteerEntry
    context: re.Pattern[str] | None
    negative: re.Pattern[str] | None


def _spellings(entry: GazetteerEntry) -> set[str]:
    out: set[str] = set()
    for alias in (entry.name, *entry.aliases):
        key = phrase_key(fold(alias, casefold=False).text)
        if not key:
            continue
        forms = {key}
        article = _ARTICLE.match(key)
        if article:
            rest = article.group(2)
            forms |= {f"{article.group(1).lower()} {rest}", f"{article.group(1).capitalize()} {rest}"}
        out |= forms
        if len(key) >= 4 and not entry.context and key.lower() not in COMMON_WORDS:
            out.add(key.upper())
    return out


class Gazetteer:
    """Immutable; share one instance."""

    def __init__(self, entries: Iterable[GazetteerEntry]) -> None:
        self.entries: tuple[GazetteerEntry, ...] = tuple(entries)
        self._by_key: dict[str, _Compiled] = {}
        self._by_id: dict[str, GazetteerEntry] = {}
        for entry in self.entries:
            if entry.geonames_id:
                self._by_id.setdefault(entry.geonames_id, entry)
            needs_context = bool(entry.context) or any(
                a.lower() in COMMON_WORDS for a in (entry.name, *entry.aliases)
            )
            compiled = _Compiled(
                entry,
                context_pattern(entry.context or GENERIC_CONTEXT) if needs_context else None,
                context_pattern(entry.negative),
            )
            for key in _spellings(entry):
                self._by_key.setdefault(key, compiled)  # the first entry wins a shared spelling
        self._pattern = alias_pattern(self._by_key)

    def by_geonames_id(self, geonames_id: str) -> GazetteerEntry | None:
        return self._by_id.get(geonames_id)

    def tag_places(self, text: str) -> list[PlaceMatch]:
        """Places in ``text`` in order of appearance (see the module docstring)."""
        if self._pattern is None:
            return []
        masked = mask_boilerplate(text)
        view = fold(masked, casefold=False)
        lower: FoldedText | None = None
        found: list[PlaceMatch] = []
        for hit in self._pattern.finditer(view.text):
            compiled = self._by_key.get(phrase_key(hit.group()))
            if compiled is None:
                continue
            start, end = view.span(hit.start(), hit.end())
            if compiled.context or compiled.negative:
                lower = lower or fold(masked)
                if not _context_ok(compiled, lower, start, end):
                    continue
            entry = compiled.entry
            found.append(
                PlaceMatch(
                    entry.name, text[start:end], entry.geonames_id, entry.country_code, entry.kind, start, end
                )
            )
        return _drop_homonyms(text, found)


def _context_ok(compiled: _Compiled, lower: FoldedText, start: int, end: int) -> bool:
    fstart, fend = lower.position(start), lower.position(end)
    lo = max(0, fstart - CONTEXT_WINDOW_CHARS)
    hi = min(len(lower.text), fend + CONTEXT_WINDOW_CHARS)
    if compiled.negative is not None:
        for neg in compiled.negative.finditer(lower.text, lo, hi):
            if not (fstart <= neg.start() and neg.end() <= fend):
                return False
    if compiled.context is None:
        return True
    return any(
        not (fstart <= c.start() and c.end() <= fend) for c in compiled.context.finditer(lower.text, lo, hi)
    )


def _drop_homonyms(text: str, places: list[PlaceMatch]) -> list[PlaceMatch]:
    """Drop city X in "X, Y" when Y is a country or state of another country."""
    dropped: set[int] = set()
    for i in range(len(places) - 1):
        here, after = places[i], places[i + 1]
        if (
            here.kind in ("city", "capital")
            and after.kind in ("country", "admin")
            and after.country_code != here.country_code
            and _COMMA.fullmatch(text[here.end : after.start])
        ):
            dropped.add(i)
    return [p for i, p in enumerate(places) if i not in dropped]


def _tuple(value: Any, where: str, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{where}: {field!r} must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def parse_gazetteer(data: Mapping[str, Any], source: str = "gazetteer.yaml") -> Gazetteer:
    """Build a gazetteer from parsed YAML (``places: [{name, id, cc, kind, aliases, context, negative}]``)."""
    raw = data.get("places")
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{source}: 'places' must be a non-empty list")
    entries: list[GazetteerEntry] = []
    for n, item in enumerate(raw, 1):
        where = f"{source}: place {n}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ValueError(f"{where}: needs a 'name'")
        where = f"{source}: place {item['name']!r}"
        cc = item.get("cc")
        if not isinstance(cc, str) or not re.fullmatch(r"[A-Z]{2}", cc):
            raise ValueError(f"{where}: 'cc' must be an ISO 3166-1 alpha-2 code, got {cc!r}")
        if item.get("kind") not in KINDS:
            raise ValueError(f"{where}: 'kind' must be one of {', '.join(KINDS)}")
        entries.append(
            GazetteerEntry(
                name=item["name"],
                geonames_id=str(item.get("id") or ""),
                country_code=cc,
                kind=item["kind"],
                aliases=_tuple(item.get("aliases"), where, "aliases"),
                context=_tuple(item.get("context"), where, "context"),
                negative=_tuple(item.get("negative"), where, "negative"),
            )
        )
    return Gazetteer(entries)


@lru_cache(maxsize=1)
def default_gazetteer() -> Gazetteer:
    """The gazetteer shipped with the package (built once)."""
    text = resources.files("newswatch").joinpath("data", "gazetteer.yaml").read_text("utf-8")
    return parse_gazetteer(yaml.safe_load(text))

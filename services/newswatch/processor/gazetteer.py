"""The gazetteer: GeoNames places from the data packages plus the project's overrides, indexed by name.

Sources (see :mod:`newswatch.processor.geosources`): countries, continents, first-level subdivisions
(``admin1``), second-level subdivisions whose names carry a generic word ("Laurel County", "Rapides
Parish"), and populated places of at least ``min_city_population`` inhabitants with their alternate
names in Latin and Arabic script. The overrides (package data ``data/gazetteer.yaml``, parsed by
:mod:`newswatch.processor.overrides`) add country names in other languages, demonyms, state
abbreviations, preferred display names and places GeoNames' city dumps lack.

Every name becomes a *key*: accent-folded, case kept, hyphens as spaces (``Al-Qaryatayn`` →
``Al Qaryatayn``); an Arabic article also gets a lower-case variant, ``Saint``/``St.``/``St`` and
``Mount``/``Mt.``/``Fort``/``Ft.`` are interchangeable. A key maps to *options*: an entry and how the
key names it (``HOW_NAME``, ``HOW_ALT`` (alternate name), ``HOW_DEMONYM``, ``HOW_ABBREV`` (only after
"City, "), ``HOW_ABBREV_FREE``). Keys shorter than three characters, with digits, starting in lower
case, or all-capital codes of up to four letters from the packages are not indexed.

The index is immutable. Building it takes seconds and a few hundred megabytes for a moment: use
:func:`newswatch.processor.places.default_gazetteer`, which builds it once per process.
"""

from __future__ import annotations

import logging
import re
import sys
from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import TYPE_CHECKING, TypeVar

from newswatch_native import PlaceNames

from newswatch.processor import geosources
from newswatch.processor.normalize import fold, non_ascii_chars

if TYPE_CHECKING:
    from newswatch.processor.overrides import Overrides

__all__ = [
    "HOW_ABBREV",
    "HOW_ABBREV_FREE",
    "HOW_ALT",
    "HOW_DEMONYM",
    "HOW_NAME",
    "KINDS",
    "GazetteerEntry",
    "GazetteerIndex",
    "NameAutomaton",
    "build_index",
    "name_keys",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T", bound=tuple[object, ...])

KINDS = ("country", "admin1", "admin2", "capital", "city", "continent", "region")
HOW_NAME, HOW_ALT, HOW_DEMONYM, HOW_ABBREV, HOW_ABBREV_FREE = range(5)
_HOWS = 8  # options are packed as entry_index * _HOWS + how (see GazetteerIndex.pack)

# Alternate names in these scripts are indexed (Latin for European languages, Arabic for the region
# the product watches); a city's Arabic names only when it has at least this many inhabitants.
ARABIC_MIN_POPULATION = 15_000
ADMIN2_GENERIC = re.compile(
    r"\b(County|Parish|Borough|District|Province|Governorate|Department|Township|Municipality|Region)\b"
)
_ARTICLE = re.compile(r"^(Al|El|Ar|As|Ad|An|At|Ash|Az|Ath|Ed|Es|Ez|Ech) (.+)$")
_PREFIXES = (("Saint ", "St. ", "St "), ("Sainte ", "Ste. ", "Ste "), ("Mount ", "Mt. "), ("Fort ", "Ft. "))
_SPACES = re.compile(r"[\s\-]+")
_UNINDEXABLE = re.compile(r"[\d(,/]")
_ARABIC = re.compile(r"^[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff\s'\u2019]+$")
_SURROGATES = re.compile("[\ud800-\udfff]")
_LATIN = re.compile(r"^[\u0000-\u024f\u1e00-\u1eff\u2000-\u206f]+$")


@dataclass(frozen=True, slots=True)
class GazetteerEntry:
    """One place. ``admin1`` is the GeoNames admin1 code ("US.GA", "SY.11"), empty when unknown."""

    name: str
    geonames_id: str
    country_code: str
    kind: str
    admin1: str = ""
    population: int = 0
    lat: float = 0.0
    lon: float = 0.0


def name_keys(name: str, *, codes: bool = False, main: bool = False) -> set[str]:
    """The index keys of one name; empty when it is not indexable.

    ``codes`` accepts short and all-capital names (curated overrides); ``main`` capitalises a main
    name written in lower case ("les Escaldes"), where an alternate name in lower case is dropped
    (GeoNames' machine transliterations).
    """
    key = _SPACES.sub(" ", name if name.isascii() else fold(name, casefold=False).text).strip()
    if not key or _UNINDEXABLE.search(key):
        return set()
    if not codes and (len(key) < 3 or (key.isupper() and sum(c.isalpha() for c in key) <= 4)):
        return set()
    if not (key[0].isupper() or _ARABIC.match(key)):
        if not (main and key[0].islower() and len(key[0].upper()) == 1):
            return set()
        key = key[0].upper() + key[1:]
    keys = {key}
    if key[0] in "AE" and " " in key[:5]:
        article = _ARTICLE.match(key)
        if article:
            keys.add(f"{article.group(1).lower()} {article.group(2)}")
    if key[0] in "SMF":
        for group in _PREFIXES:
            for prefix in group:
                if key.startswith(prefix):
                    keys |= {alt + key[len(prefix) :] for alt in group}
    return keys


def _script_ok(name: str, arabic: bool) -> bool:
    if name.isascii() or _LATIN.match(name):
        return True
    return arabic and bool(_ARABIC.match(name))


class NameAutomaton:
    """Every key of an index in one Aho–Corasick automaton, with the packed options of each key.

    The automaton is the compiled core's :class:`newswatch_native.PlaceNames`, a contiguous NFA
    (about 50 MB for the full index; it scans a 4 KB article in tens of microseconds and reports every
    occurrence at once); its ``scan`` also does the whole per-text work of
    :class:`~newswatch.processor.toponyms.ToponymScanner`. Key *k* is pattern *k*; its options live in
    one flat ``array`` (``_flat[_at[k]:_at[k + 1]]``) and the keys themselves in one UTF-8 blob, read
    back only by :meth:`key` and :meth:`keys`: tens of megabytes less than a dictionary or trie of
    Python objects. Immutable; thread-safe.
    """

    def __init__(self, keys: Sequence[str], flat: array[int], at: array[int]) -> None:
        """Key ``k`` is ``keys[k]``, its packed options ``flat[at[k]:at[k + 1]]`` (sorted, distinct)."""
        if len(at) != len(keys) + 1:
            raise ValueError("NameAutomaton: 'at' must hold one offset per key and a final one")
        self._flat, self._at = flat, at
        encoded = [key.encode("utf-8") for key in keys]
        self._blob = b"".join(encoded)
        self._key_at = array("I", accumulate(map(len, encoded), initial=0))  # byte offsets in the blob
        del encoded
        self.names = PlaceNames(keys)
        self.max_key_length = self.names.max_key_chars

    @classmethod
    def from_options(cls, options: Mapping[str, Iterable[int]]) -> NameAutomaton:
        """From ``{key: packed options}``."""
        flat, at = array("I"), array("I", [0])
        for opts in options.values():
            flat.extend(sorted(set(opts)))
            at.append(len(flat))
        return cls(list(options), flat, at)

    def __len__(self) -> int:
        return len(self._at) - 1

    def find(self, text: str) -> list[tuple[int, int, int]]:
        """Every occurrence of every key, overlapping: ``(key number, start, end)`` in code points."""
        try:
            return self.names.find(text)
        except UnicodeEncodeError:  # lone surrogates: same length, no key contains one
            return self.names.find(_SURROGATES.sub("\ufffd", text))

    def scan(self, text: str, factory: type[_T]) -> list[_T]:
        """The toponym scan of ``text`` (folded, case kept, separators as spaces) in native code:
        ``factory`` tuples ``(start, end, key, number, shouted)``; see
        :class:`~newswatch.processor.toponyms.ToponymScanner`."""
        if text.isascii():
            return self.names.scan(text, "", factory)
        alnum = "".join(c for c in non_ascii_chars(text) if c.isalnum())
        try:
            return self.names.scan(text, alnum, factory)
        except UnicodeEncodeError:  # lone surrogates: same length, neither letters nor in any key
            return self.names.scan(_SURROGATES.sub("\ufffd", text), alnum, factory)

    def options_of(self, number: int) -> tuple[int, ...]:
        """The packed options of key ``number``."""
        return tuple(self._flat[self._at[number] : self._at[number + 1]])

    def key(self, number: int) -> str:
        return self._blob[self._key_at[number] : self._key_at[number + 1]].decode("utf-8")

    def number(self, key: str) -> int | None:
        """The number of ``key``, ``None`` when it is not a key."""
        for number, start, end in self.find(key):
            if start == 0 and end == len(key):
                return number
        return None

    def keys(self) -> Iterator[str]:
        return (self.key(n) for n in range(len(self)))


class GazetteerIndex:
    """Entries and a :class:`NameAutomaton` from every key to its options. Immutable once built.

    Options are packed (:meth:`pack`, :meth:`unpack`).
    """

    def __init__(
        self,
        entries: Iterable[GazetteerEntry],
        options: Mapping[str, Iterable[int]] | NameAutomaton,
        neighbours: Mapping[str, frozenset[str]],
    ) -> None:
        self.entries: tuple[GazetteerEntry, ...] = tuple(entries)
        self.neighbours: dict[str, frozenset[str]] = dict(neighbours)
        self.automaton = (
            options if isinstance(options, NameAutomaton) else NameAutomaton.from_options(options)
        )
        self.size = len(self.automaton)
        self._by_id: dict[str, int] = {}
        for index, entry in enumerate(self.entries):
            if entry.geonames_id:
                self._by_id.setdefault(entry.geonames_id, index)

    @staticmethod
    def pack(index: int, how: int) -> int:
        return index * _HOWS + how

    @staticmethod
    def unpack(option: int) -> tuple[int, int]:
        """``(entry index, how)`` of a packed option."""
        return option // _HOWS, option % _HOWS

    def options(self, key: str) -> tuple[int, ...]:
        """Packed options of one key (empty when unknown)."""
        number = self.automaton.number(key) if key else None
        return () if number is None else self.automaton.options_of(number)

    def items(self) -> list[tuple[str, tuple[int, ...]]]:
        """Every ``(key, packed options)``."""
        return [(self.automaton.key(n), self.automaton.options_of(n)) for n in range(self.size)]

    def by_geonames_id(self, geonames_id: str) -> GazetteerEntry | None:
        index = self._by_id.get(geonames_id)
        return None if index is None else self.entries[index]

    def lookup(self, name: str) -> list[tuple[GazetteerEntry, int]]:
        """``(entry, how)`` for every option of ``name`` (any spelling :func:`name_keys` accepts)."""
        found: dict[int, None] = {}
        for key in name_keys(name, codes=True, main=True):
            found.update(dict.fromkeys(self.options(key)))
        return [(self.entries[i], how) for i, how in map(self.unpack, found)]


class _Builder:
    def __init__(self) -> None:
        self.entries: list[GazetteerEntry] = []
        self.options: defaultdict[str, set[int]] = defaultdict(set)
        self._keys: dict[tuple[str, bool, bool], tuple[str, ...]] = {}

    def add(self, entry: GazetteerEntry) -> int:
        self.entries.append(entry)
        return len(self.entries) - 1

    def name(self, index: int, name: str, how: int, *, codes: bool = False) -> None:
        main = how == HOW_NAME
        keys = self._keys.get((name, codes, main))
        if keys is None:
            keys = self._keys[(name, codes, main)] = tuple(name_keys(name, codes=codes, main=main))
        packed = index * _HOWS + how
        for key in keys:
            self.options[key].add(packed)


def build_index(overrides: Overrides, min_city_population: int) -> GazetteerIndex:
    """Read the data packages and build the index (see the module docstring)."""
    b = _Builder()
    renamed = overrides.display_names
    countries = geosources.read_countries()
    capitals = {(c.iso, c.capital) for c in countries}
    admin1_population: defaultdict[str, int] = defaultdict(int)
    admin1_seat: dict[str, tuple[int, float, float]] = {}
    country_seat: dict[str, tuple[int, float, float]] = {}
    for city in geosources.read_cities(min_city_population):
        cc = sys.intern(city.country_code)
        code = sys.intern(f"{cc}.{city.admin1}") if city.admin1 else ""
        kind = "capital" if (city.country_code, city.name) in capitals else "city"
        gid = str(city.geonames_id)
        index = b.add(
            GazetteerEntry(
                renamed.get(gid, city.name), gid, cc, kind, code,
                city.population, city.lat, city.lon,
            )
        )  # fmt: skip
        b.name(index, city.name, HOW_NAME)
        if gid in renamed:
            b.name(index, renamed[gid], HOW_NAME)
        arabic = city.population >= ARABIC_MIN_POPULATION
        for alt in city.alternate_names:
            if alt != city.name and _script_ok(alt, arabic):
                b.name(index, alt, HOW_ALT)
        if code:
            admin1_population[code] += city.population
            if code and city.population > admin1_seat.get(code, (-1, 0.0, 0.0))[0]:
                admin1_seat[code] = (city.population, city.lat, city.lon)
        seat = (city.population + (10**9 if kind == "capital" else 0), city.lat, city.lon)
        if seat[0] > country_seat.get(city.country_code, (-1, 0.0, 0.0))[0]:
            country_seat[city.country_code] = seat
    for country in countries:
        _, lat, lon = country_seat.get(country.iso, (0, 0.0, 0.0))
        gid = str(country.geonames_id)
        index = b.add(
            GazetteerEntry(renamed.get(gid, country.name), gid, country.iso, "country", "",
                           country.population, lat, lon)
        )  # fmt: skip
        b.name(index, country.name, HOW_NAME)
        for alias in (*country.aliases, *overrides.country_aliases.get(country.iso, ())):
            b.name(index, alias, HOW_NAME, codes=True)
        for demonym in overrides.demonyms.get(country.iso, ()):
            b.name(index, demonym, HOW_DEMONYM)
    for sub in geosources.read_subdivisions(max_level=2):
        cc = sub.code.split(".", 1)[0]
        if sub.level == 2 and not ADMIN2_GENERIC.search(sub.name):
            continue
        admin1 = sub.code if sub.level == 1 else ".".join(sub.code.split(".")[:2])
        _, lat, lon = admin1_seat.get(admin1, country_seat.get(cc, (0, 0.0, 0.0)))
        gid = str(sub.geonames_id)
        kind = "admin1" if sub.level == 1 else "admin2"
        population = admin1_population.get(sub.code, 0) if sub.level == 1 else 0
        index = b.add(GazetteerEntry(renamed.get(gid, sub.name), gid, cc, kind, admin1, population, lat, lon))
        b.name(index, sub.name.split(",")[0], HOW_NAME)  # ISO's "Dagestan, Respublika"
        for alias in sub.aliases:
            if _script_ok(alias, arabic=True) and (sub.level == 1 or ADMIN2_GENERIC.search(alias)):
                b.name(index, alias, HOW_ALT)
        for abbrev in overrides.abbreviations.get(sub.code, ()):
            b.name(index, abbrev, HOW_ABBREV_FREE if abbrev.count(".") >= 2 else HOW_ABBREV, codes=True)
        for abbrev in overrides.free_abbreviations.get(sub.code, ()):
            b.name(index, abbrev, HOW_ABBREV_FREE, codes=True)
    for continent_id, name, lat, lon, names in geosources.read_continents(overrides.languages):
        index = b.add(GazetteerEntry(name, str(continent_id), "", "continent", "", 10**9, lat, lon))
        for alias in (name, *names):
            b.name(index, alias, HOW_NAME)
    for place in overrides.places:
        index = b.add(place.entry)
        for alias in (place.entry.name, *place.aliases):
            b.name(index, alias, HOW_NAME, codes=True)
    by_id = {e.geonames_id: i for i, e in enumerate(b.entries) if e.geonames_id}
    for gid, aliases in overrides.aliases.items():
        if gid in by_id:
            for alias in aliases:
                b.name(by_id[gid], alias, HOW_NAME, codes=True)
        else:
            log.warning("gazetteer override names an unknown GeoNames id", extra={"geonames_id": gid})
    neighbours = {c.iso: frozenset(c.neighbours) for c in countries}
    return GazetteerIndex(b.entries, b.options, neighbours)

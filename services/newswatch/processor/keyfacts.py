"""What a gazetteer key implies in any article: its options under the reading rules, with what
scoring needs of each (entry, prior), and the word lists it belongs to.

A key's options come from the index (:meth:`~newswatch.processor.gazetteer.NameAutomaton.options_of`).
A demonym ("Syrian") only ever means its country, so a key with a demonym option keeps only those;
state abbreviations ("Ga.") count only after "City, ", so each key also has its *plain* readings
without them. :class:`KeyFactsCache` computes this once per key and keeps it (bounded: the cache is
emptied when full), with the same facts as native objects (``native``: what the native reader of
:mod:`newswatch.processor.resolve` reads; :class:`Codes` numbers the codes it compares). Pure;
thread-safe (a dictionary replaced, never mutated concurrently in place).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from newswatch_native import PlaceFacts, PlaceReadings

from newswatch.processor.gazetteer import HOW_ABBREV, HOW_ALT, HOW_DEMONYM, GazetteerEntry, GazetteerIndex
from newswatch.processor.overrides import Cues
from newswatch.processor.textfacts import lower_case_word

__all__ = [
    "ALT_MIN_POPULATION",
    "BIG_KINDS",
    "CACHE_KEYS",
    "KIND_BONUS",
    "MAIN_NAME_BONUS",
    "SMALL_POPULATION",
    "TOWNS",
    "WEAK_ALWAYS",
    "WEAK_NONE",
    "WEAK_PLACE_WORD",
    "Codes",
    "KeyFacts",
    "KeyFactsCache",
    "Option",
    "Readings",
    "prior",
    "weakness",
]

BIG_KINDS = frozenset({"country", "admin1", "continent", "region"})
KIND_BONUS = {"country": 2.0, "admin1": 0.0, "capital": 0.5, "continent": 0.0, "region": 0.0}
MAIN_NAME_BONUS = 2.0
CACHE_KEYS = 8_192  # distinct keys whose facts are kept (most take a few hundred bytes)

Option = tuple[int, int, GazetteerEntry, float, bool, int]
"""``(entry index, how, entry, prior, big kind, weak)``: an option with what scoring needs of it.

``weak`` says what a town needs besides its state in the article or a pair ("Gainesville, Ga."):
``WEAK_NONE`` nothing more, ``WEAK_PLACE_WORD`` a place word (a town under ``SMALL_POPULATION``),
``WEAK_ALWAYS`` it is never read otherwise (an alternate name of a town under ``ALT_MIN_POPULATION``).
"""
WEAK_NONE, WEAK_PLACE_WORD, WEAK_ALWAYS = range(3)
SMALL_POPULATION = 15_000
ALT_MIN_POPULATION = 100_000
TOWNS = frozenset({"city", "capital"})


def weakness(entry: GazetteerEntry, how: int) -> int:
    """The ``weak`` code of an option (see :data:`Option`)."""
    if entry.kind not in TOWNS:
        return WEAK_NONE
    if how == HOW_ALT and entry.population < ALT_MIN_POPULATION:
        return WEAK_ALWAYS
    return WEAK_PLACE_WORD if entry.population < SMALL_POPULATION else WEAK_NONE


def prior(entry: GazetteerEntry, how: int) -> float:
    """The score of an option before context: population (log10), kind, main name or alternate."""
    score = math.log10(entry.population + 10) + KIND_BONUS.get(entry.kind, 0.0)
    if how != HOW_ALT:
        score += MAIN_NAME_BONUS
    return score


@dataclass(frozen=True, slots=True)
class Readings:
    """The ``(entry index, how)`` options of a key under one reading, and what they include."""

    options: tuple[tuple[int, int], ...]
    scored: tuple[Option, ...]  # the same options with their entries and priors
    big: bool  # a country, first-level subdivision, continent, region or demonym
    capital: bool
    admin1s: frozenset[str]
    country: bool  # a country among the options
    native: PlaceReadings = field(compare=False)  # the same for the native resolver


@dataclass(frozen=True, slots=True)
class KeyFacts:
    """What a key implies in any article."""

    lower: str
    single: bool  # one word
    common_word: bool
    first_name: bool
    demonym: bool  # a demonym: only ever its country, context unless demonyms are reported
    every: Readings  # every option (only the demonyms when it is one)
    plain: Readings  # without the abbreviations that count only after "City, "; ``every`` if none
    native: PlaceFacts = field(compare=False)  # the same for the native reader


class KeyFactsCache:
    """:class:`KeyFacts` by key number, computed on first use."""

    def __init__(self, index: GazetteerIndex, cues: Cues) -> None:
        self.index = index
        self.cues = cues
        self.known: dict[int, KeyFacts] = {}  # read it directly on hot paths; fall back to facts()
        self.codes = Codes(index)

    def facts(self, key: str, number: int) -> KeyFacts:
        """The facts of ``key``, key ``number`` of the index."""
        known = self.known.get(number)
        if known is not None:
            return known
        options = tuple(map(self.index.unpack, self.index.automaton.options_of(number)))
        demonym = any(how == HOW_DEMONYM for _, how in options)
        if demonym:
            options = tuple(o for o in options if o[1] == HOW_DEMONYM)
        every = self._readings(options)
        plain = (
            self._readings(tuple(o for o in options if o[1] != HOW_ABBREV))
            if any(how == HOW_ABBREV for _, how in options)
            else every
        )
        lower = key.lower()
        single, common, first = (
            " " not in key,
            lower in self.cues.common_words,
            lower in self.cues.first_names,
        )
        facts = KeyFacts(
            lower, single, common, first, demonym, every, plain,
            PlaceFacts(
                key, lower, lower_case_word(lower), single, common, first, demonym, every.native, plain.native
            ),
        )  # fmt: skip
        if len(self.known) >= CACHE_KEYS:
            self.known = {}
        self.known[number] = facts
        return facts

    def native(self, key: str, number: int) -> PlaceFacts:
        """The native facts of ``key``, key ``number`` of the index (what the native reader asks on
        its first meeting with a key)."""
        return self.facts(key, number).native

    def _readings(self, options: tuple[tuple[int, int], ...]) -> Readings:
        entries = self.index.entries
        scored = tuple(
            (
                i,
                how,
                entries[i],
                prior(entries[i], how),
                entries[i].kind in BIG_KINDS,
                weakness(entries[i], how),
            )
            for i, how in options
        )
        admin1s = frozenset(entries[i].admin1 for i, _ in options) - {""}
        country = any(entries[i].kind == "country" for i, _ in options)
        big = any(entries[i].kind in BIG_KINDS or how == HOW_DEMONYM for i, how in options)
        capital = any(entries[i].kind == "capital" for i, _ in options)
        native = PlaceReadings(
            [(i, how, score, big_kind, weak) for i, how, _, score, big_kind, weak in scored],
            sorted(self.codes.admin1s[code] for code in admin1s),
            country,
            big,
            capital,
        )
        return Readings(options, scored, big, capital, admin1s, country, native)


class Codes:
    """Numbers for the country and first-level subdivision codes of an index (the native resolver
    compares numbers): countries in sort order, subdivisions in order of appearance; "" is 0."""

    def __init__(self, index: GazetteerIndex) -> None:
        entries = index.entries
        names = {e.country_code for e in entries} | {""}
        for cc, near in index.neighbours.items():
            names |= {cc, *near}
        self.countries: dict[str, int] = {cc: n for n, cc in enumerate(sorted(names))}
        self.admin1s: dict[str, int] = {"": 0}
        for e in entries:
            self.admin1s.setdefault(e.admin1, len(self.admin1s))

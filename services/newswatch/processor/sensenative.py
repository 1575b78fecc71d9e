"""The native reader glue of toponym disambiguation: :func:`native_reader` builds the native
reader and resolver (:class:`newswatch_native.PlaceReader`, ``PlaceResolver``) from the index, the
cues and the constants of :mod:`newswatch.processor.senseweights`; they run the rules of
:mod:`newswatch.processor.resolve` with the same results as its Python definition.
"""

from __future__ import annotations

from types import SimpleNamespace

from newswatch_native import PlaceReader, PlaceResolver

from newswatch.processor.automaton import char_tables
from newswatch.processor.gazetteer import HOW_ALT, HOW_DEMONYM, KINDS, GazetteerIndex
from newswatch.processor.keyfacts import (
    ALT_MIN_POPULATION,
    CACHE_KEYS,
    SMALL_POPULATION,
    WEAK_ALWAYS,
    WEAK_PLACE_WORD,
    KeyFactsCache,
)
from newswatch.processor.keyfacts import TOWNS as _TOWNS
from newswatch.processor.overrides import Cues
from newswatch.processor.placematch import PlaceMatch
from newswatch.processor.reading import OF_WORDS, POSSESSIVE_ENDINGS, TO_WORD
from newswatch.processor.senseweights import (
    _COUNTRY_BONUSES,
    ADMIN1_BONUS,
    ADMIN1_POSSIBLE_BONUS,
    ALT_ANYWHERE_POPULATION,
    ALT_LOCAL_PENALTY,
    HOME_BONUS,
    HOME_MARGIN,
    HOME_MIN_NAMES,
    LOCAL_PENALTY,
    NEIGHBOUR_BONUS,
    PAIR_BONUS,
    POSSIBLE_MAX_READINGS,
    ROUNDS,
)
from newswatch.processor.textfacts import native_rules

__all__ = ["native_reader"]


def native_reader(index: GazetteerIndex, cues: Cues, keys: KeyFactsCache) -> PlaceReader:
    """The native reader and resolver of ``index`` with ``cues`` and the constants of
    :mod:`~newswatch.processor.senseweights`; it asks ``keys`` the facts of a key once and keeps them,
    and returns :class:`PlaceMatch` tuples."""
    countries, admin1s = keys.codes.countries, keys.codes.admin1s
    flags = {kind: (kind in _TOWNS) | (kind == "admin1") << 1 | (kind == "country") << 2 for kind in KINDS}
    limits = SimpleNamespace(
        admin1_bonus=ADMIN1_BONUS, admin1_possible_bonus=ADMIN1_POSSIBLE_BONUS,
        neighbour_bonus=NEIGHBOUR_BONUS, pair_bonus=PAIR_BONUS, local_penalty=LOCAL_PENALTY,
        alt_local_penalty=ALT_LOCAL_PENALTY, home_bonus=HOME_BONUS, home_min_names=HOME_MIN_NAMES,
        home_margin=HOME_MARGIN, rounds=ROUNDS, country_bonuses=_COUNTRY_BONUSES,
        small_population=SMALL_POPULATION, alt_min_population=ALT_MIN_POPULATION,
        alt_anywhere_population=ALT_ANYWHERE_POPULATION, weak_always=WEAK_ALWAYS,
        weak_place_word=WEAK_PLACE_WORD, possible_max_readings=POSSIBLE_MAX_READINGS, how_alt=HOW_ALT,
    )  # fmt: skip
    resolver = PlaceResolver(
        [
            (flags.get(e.kind, 0), admin1s[e.admin1], countries[e.country_code], e.population)
            for e in index.entries
        ],
        {countries[cc]: [countries[n] for n in near] for cc, near in index.neighbours.items()},
        limits,
    )
    rules = native_rules(OF_WORDS, TO_WORD, POSSESSIVE_ENDINGS, cues.place_words)
    _, char_flags, char_letters = char_tables()
    return PlaceReader(
        resolver, cues, rules, keys.native, CACHE_KEYS, char_flags, char_letters, PlaceMatch, index.entries,
        HOW_DEMONYM,
    )  # fmt: skip

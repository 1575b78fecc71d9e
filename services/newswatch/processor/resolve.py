"""Toponym disambiguation: which place, if any, each candidate mention of an article names.

All fields of an article are resolved together (word lists: :class:`~newswatch.processor.overrides.Cues`).

1. **Reading cues** drop a mention: a person title before it ("Mr. Jordan", "President Lincoln"); a
   capitalised word just before it that is neither a sentence word, a modifier nor a possessive
   ("George Washington", "Air France"; not in title-case or all-capitals lines); a given name followed
   by a capitalised word that is no institution ("Paris Hilton", but "Paris Police"); for a one-word
   town that is no capital, a speech verb after it ("Jackson said"; "Moscow said" is the state
   speaking), "said X." / "according to X." or an age ("X, 45,"); a name suffix ("West Nile virus");
   a short all-capitals code in shouted text ("LET US GO"); an abbreviation outside "City, ST". A name
   read as a person's once is a person's everywhere in the article. A demonym ("Syrian") only ever
   means its country: it is context, and reported only when demonyms are on.
2. **Common words** (``common_words``, sentence and place words, and a capitalised word at a sentence
   start or in a headline that the article also uses in lower case) need evidence: a place word ("the
   town of Hit", "Hit district"), a pair (below), or — not at a sentence start — a locative
   preposition plus a place of the same state or country elsewhere in the article.
3. **Scores**: a population prior (log10), a bonus by kind (countries; capitals), the main name over
   an alternate one, and article context: the states and countries of the other names (each distinct
   name counts once, never itself; more names, more weight), states where another name could lie,
   neighbouring countries, and pairs whose parts agree ("Gainesville, Ga.", "Palmyra, N.J.",
   "Georgia's Gainesville"). The article's *home country* — one that at least ``HOME_MIN_NAMES`` other
   names support, ``HOME_MARGIN`` times as many as any other country — adds ``HOME_BONUS`` to the
   options of a name in it ("London" in a story naming Kentucky, Ohio and Texas), except for a name
   that is also a country's ("Italy" stays Italy). A town's institution after a name ("Jordan
   Elementary", "Berea police") or a residence after a person's age ("Joyce Glover, 22, Palestine")
   counts against countries and states, and against alternate names ("Berea" is also an old name of
   Aleppo). A city outranks its own state of the same name ("Homs"). One name keeps one sense per
   article: the best option that the evidence accepts. "X City" read as a subdivision where the
   article reads X as a town elsewhere ("Dublin City Council" beside "Dublin, Ohio") is X, that town.
4. **Evidence**: a town under ``SMALL_POPULATION`` needs its state in the article or a pair (or a
   place word and its country); an alternate name of a town under ``ALT_ANYWHERE_POPULATION`` needs
   context (its state under ``ALT_MIN_POPULATION``, or at a sentence start); a town under
   ``ALT_MIN_POPULATION`` of a country the article otherwise never mentions is dropped when the
   article is about other countries ("Obama" in an Ohio story).

Rule 1 and the reading of rule 2 live in :mod:`newswatch.processor.reading`. Every name is ranked
once per round (``ROUNDS`` + 1), not once per mention; a name all of whose mentions are common words
without evidence is never ranked, a name with one option is not scored (only the order matters), and
only the options that the evidence may accept are scored (a small town of a state that no other name
of the article may lie in never is: :func:`_prune`).

:meth:`Resolver.matches` runs rules 1 to 4 in native code (:class:`newswatch_native.PlaceReader` and
``PlaceResolver``, given this module's constants, the cues, the index's places and the key facts'
source once) and returns :class:`PlaceMatch` tuples built there, with the same results as
:meth:`Resolver.resolve`, the Python definition (tests compare the two on every evaluation corpus
and on generated texts).

Pure and deterministic; never raises for any input.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from types import SimpleNamespace
from typing import NamedTuple

from newswatch_native import PlaceReader, PlaceResolver

from newswatch.processor.automaton import char_tables
from newswatch.processor.gazetteer import HOW_ALT, HOW_DEMONYM, KINDS, GazetteerEntry, GazetteerIndex
from newswatch.processor.keyfacts import (
    ALT_MIN_POPULATION,
    CACHE_KEYS,
    SMALL_POPULATION,
    TOWNS,
    WEAK_ALWAYS,
    WEAK_PLACE_WORD,
    KeyFactsCache,
    Option,
    Readings,
)
from newswatch.processor.overrides import Cues
from newswatch.processor.reading import OF_WORDS, POSSESSIVE_ENDINGS, TO_WORD, Candidate, Probe, Reader
from newswatch.processor.textfacts import Article, native_rules
from newswatch.processor.toponyms import Mention

__all__ = ["SMALL_POPULATION", "PlaceMatch", "Resolved", "Resolver", "native_reader"]

ALT_ANYWHERE_POPULATION = 1_000_000
COUNTRY_BONUS = 1.5  # one other name of the article in that country; each further one adds a step
COUNTRY_STEP = 0.5
COUNTRY_STEPS = 3
ADMIN1_BONUS = 3.0
ADMIN1_POSSIBLE_BONUS = 1.5  # another name of the article could lie in the same state
POSSIBLE_MAX_READINGS = 12
NEIGHBOUR_BONUS = 0.5
PAIR_BONUS = 6.0
LOCAL_PENALTY = 4.0  # a country or state read where a town's institution follows its name
ALT_LOCAL_PENALTY = 2.0  # an alternate name read where a town's institution follows it
HOME_BONUS = 2.5  # an option in the article's home country (see _Context.home)
HOME_MIN_NAMES = 3  # other names that must support the home country ...
HOME_MARGIN = 2  # ... at least this many times as many as support any other country
ROUNDS = 1
# The country bonus by the number of other names in that country (1, 2, ... COUNTRY_STEPS + 1 or more).
_COUNTRY_BONUSES = [
    0.0,
    *(COUNTRY_BONUS + COUNTRY_STEP * min(n - 1, COUNTRY_STEPS) for n in range(1, COUNTRY_STEPS + 2)),
]
_COMMA = re.compile(r"[ \t]*,[ \t]*")
_POSSESSIVE = re.compile(r"['’]s[ \t]+")
_TOWNS = TOWNS
_CITY_GAP = frozenset(" -\t\u00a0")


class PlaceMatch(NamedTuple):
    """A place found in text; ``text[start:end] == matched_text``. (A named tuple: immutable, and
    built ten times faster than a frozen dataclass; tens are built per article.)"""

    name: str
    matched_text: str
    geonames_id: str
    country_code: str
    kind: str
    start: int
    end: int
    admin1: str = ""
    demonym: bool = False
    lat: float = 0.0
    lon: float = 0.0


class Resolved(NamedTuple):
    """A mention resolved to ``entry`` (``how``: name, alternate name, demonym or abbreviation)."""

    field: int
    mention: Mention
    entry: GazetteerEntry
    how: int


class Resolver:
    """Resolves the mentions of one article. Immutable apart from its reader's cache; share one.

    :meth:`places` reads and resolves in native code (:class:`newswatch_native.PlaceReader`, built
    once from the index, the cues and this module's constants: share it through ``native``);
    :meth:`resolve` is the Python definition that the native code is tested against, and what
    :meth:`places` runs when ``reference``.
    """

    def __init__(
        self,
        index: GazetteerIndex,
        cues: Cues,
        *,
        demonyms: bool = False,
        reader: Reader | None = None,
        native: PlaceReader | None = None,
        reference: bool = False,
    ) -> None:
        self.index = index
        self.cues = cues
        self.demonyms = demonyms
        self.reader = reader if reader is not None else Reader(index, cues)
        self.native = None if reference else native or native_reader(index, cues, self.reader.keys)

    def matches(self, texts: Sequence[str], mentions: Sequence[Sequence[Mention]]) -> list[list[PlaceMatch]]:
        """The places of each text (``mentions[f]``: those of ``texts[f]``), in text order: what
        :meth:`resolve` accepts, in native code unless ``reference``."""
        if self.native is not None:
            return self.native.matches(texts, mentions, Probe(Article(texts), self.reader), self.demonyms)
        out: list[list[PlaceMatch]] = [[] for _ in texts]
        new = tuple.__new__  # PlaceMatch(...) without the Python-level __new__ (tens per article)
        for field, m, e, how in self.resolve(texts, mentions):
            out[field].append(
                new(PlaceMatch, (
                    e.name, texts[field][m.start : m.end], e.geonames_id, e.country_code, e.kind,
                    m.start, m.end, e.admin1, how == HOW_DEMONYM, e.lat, e.lon,
                ))
            )  # fmt: skip
        return out

    def resolve(self, texts: Sequence[str], mentions: Sequence[Sequence[Mention]]) -> list[Resolved]:
        """Accepted mentions of every field, in field then text order (the Python definition)."""
        article = Article(texts)
        persons: set[str] = set()
        cands = [
            c
            for f, ms in enumerate(mentions[: len(texts)])
            for c in self.reader.read(f, article, ms, persons, self.demonyms)
        ]
        if persons:
            cands = [c for c in cands if c.mention.key not in persons or c.big]
        self._pairs(texts, cands)
        groups: dict[str, _Group] = {}
        for cand in cands:
            group = groups.get(cand.mention.key)
            if group is None:
                groups[cand.mention.key] = _Group(cand)
            else:
                group.add(cand)
        possible = _possible(groups.values())
        # A name whose every mention is a common word without evidence is never a place: not ranked.
        live = [g for g in groups.values() if g.live]
        _prune(groups.values(), live)
        ctx = _Context({}, {}, possible, self.index.neighbours)  # nothing picked yet
        pending = live
        changed = False
        for round_ in range(ROUNDS + 1):
            if round_:
                ctx = self._context(live, possible)
            changed = False
            for group in pending:
                picked = self._choose(group, ctx, strict=round_ > 0)
                changed = changed or picked != group.picked
                group.picked = picked
            pending = [g for g in pending if not g.settled]
        if changed:  # else the last round's context is that of the final picks
            ctx = self._context(live, possible)
        out: list[Resolved] = []
        entries = self.index.entries
        new = tuple.__new__  # Resolved(...) without the Python-level __new__
        for cand in cands:
            group = groups[cand.mention.key]
            picked = group.picked
            if picked is None or cand.quiet:
                continue
            if (cand.readings is not group.readings or group.merged) and picked not in cand.options:
                continue
            if (entries[picked[0]].kind not in _TOWNS and not cand.common) or self._accepted(
                cand, picked[0], picked[1], ctx
            ):
                town = _town_of_city(cand, picked, groups, entries, texts) if cand.city else None
                if town is not None:
                    out.append(new(Resolved, (cand.field, town[0], entries[town[1][0]], town[1][1])))
                    continue
                out.append(new(Resolved, (cand.field, cand.mention, entries[picked[0]], picked[1])))
        return out

    def _pairs(self, texts: Sequence[str], cands: list[Candidate]) -> None:
        """ "X, Y" where Y contains X: both sides get ``PAIR_BONUS`` on the agreeing options."""
        for left, right in itertools.pairwise(cands):
            if left.field != right.field:
                continue
            text = texts[left.field]
            gap_start, gap_end = left.mention.end, right.mention.start
            first = text[gap_start : gap_start + 1]
            if first in ("'", "’") and _POSSESSIVE.fullmatch(text, gap_start, gap_end):
                self._pair(right, left)  # "Georgia's Gainesville", "Nineveh's Qayyarah"
            elif (
                first in (" ", "\t", ",")
                and text.find(",", gap_start, gap_end) != -1
                and _COMMA.fullmatch(text, gap_start, gap_end)
            ):
                self._pair(left, right)  # "Gainesville, Ga."

    def _pair(self, inner: Candidate, outer: Candidate) -> None:
        entries = self.index.entries
        for li, _ in inner.options:
            x = entries[li]
            for ri, _ in outer.options:
                y = entries[ri]
                if x is y or not x.country_code:
                    continue
                if (y.kind == "admin1" and x.admin1 == y.admin1 and x.kind != "admin1") or (
                    y.kind == "country" and x.country_code == y.country_code and x.kind != "country"
                ):
                    inner.pair_bonus[li] = PAIR_BONUS
                    outer.pair_bonus[ri] = PAIR_BONUS

    # -- scoring -----------------------------------------------------------------------------------

    def _context(self, groups: list[_Group], possible: dict[str, set[str]]) -> _Context:
        """The states and countries of the places picked for ``groups``, each with the names that
        support it."""
        admin1s: dict[str, set[str]] = {}
        countries: dict[str, set[str]] = {}
        entries = self.index.entries
        for group in groups:
            if group.picked is not None:
                entry = entries[group.picked[0]]
                if entry.admin1:
                    admin1s.setdefault(entry.admin1, set()).add(group.key)
                if entry.country_code:
                    countries.setdefault(entry.country_code, set()).add(group.key)
        return _Context(admin1s, countries, possible, self.index.neighbours)

    def _choose(self, group: _Group, ctx: _Context, *, strict: bool) -> tuple[int, int] | None:
        """The best option of ``group`` that the evidence accepts for one of its mentions."""
        if len(group.options) == 1:
            index, how, entry = group.options[0][:3]
            for cand in group.cands:
                if self._accepted(cand, index, how, ctx, strict=strict):
                    # accepted whatever the context: "Syria", "the town of Hit"
                    group.settled = (entry.kind not in _TOWNS or bool(cand.pair_bonus)) and (
                        not cand.common or cand.place_word or bool(cand.pair_bonus)
                    )
                    return index, how
            return None
        for _, index, _, how in self._rank(group, ctx):
            for cand in group.cands:
                if self._accepted(cand, index, how, ctx, strict=strict):
                    return index, how
        return None

    def _rank(self, group: _Group, ctx: _Context) -> list[tuple[float, int, int, int]]:
        """The viable options of one name across its mentions (see :func:`_prune`) as ``(-score,
        entry index, position, how)``, best first (ties: the lower entry index, then the first seen); a
        city outranks its own first-level subdivision of the same name when close ("Homs" the city, not
        the governorate) and when no option at all, viable or not, ranks above that subdivision."""
        ranked = self._scores(group, ctx, group.viable)
        if not ranked:
            return ranked
        ranked.sort()
        entries = self.index.entries
        top = entries[ranked[0][1]]
        if top.kind == "admin1":
            for n, (negative, index, _, _) in enumerate(ranked[1:], 1):
                city = entries[index]
                if (
                    city.kind in _TOWNS
                    and city.admin1 == top.admin1
                    and city.population >= SMALL_POPULATION
                    and -negative >= -ranked[0][0] - PAIR_BONUS / 2
                ):
                    if len(group.viable) == len(group.options) or ranked[0] <= min(
                        self._scores(group, ctx, list(enumerate(group.options)))
                    ):
                        ranked.insert(0, ranked.pop(n))
                    break
        return ranked

    def _scores(
        self, group: _Group, ctx: _Context, options: list[tuple[int, Option]]
    ) -> list[tuple[float, int, int, int]]:
        """``(-score, entry index, position, how)`` of each ``(position, option)``, unsorted."""
        key = group.key
        admin1s, countries, possible = ctx.admin1s, ctx.countries, ctx.possible
        pairs, local = group.pairs, group.local
        by_country: dict[str, float] = {}
        home = "" if group.country else ctx.home(key)  # a country's name keeps its country
        ranked: list[tuple[float, int, int, int]] = []  # (-score, entry index, position, how)
        for n, (index, how, entry, score, big_kind, _) in options:
            admin1 = entry.admin1
            if admin1:
                keys = admin1s.get(admin1)
                if keys and (len(keys) > 1 or key not in keys):
                    score += ADMIN1_BONUS
                else:
                    keys = possible.get(admin1)
                    if keys and (len(keys) > 1 or key not in keys):
                        score += ADMIN1_POSSIBLE_BONUS
            cc = entry.country_code
            if cc and countries:
                bonus = by_country.get(cc)
                if bonus is None:
                    keys = countries.get(cc)
                    support = len(keys) - (key in keys) if keys else 0
                    if support:
                        bonus = _COUNTRY_BONUSES[min(support, COUNTRY_STEPS + 1)]
                    else:
                        bonus = NEIGHBOUR_BONUS if _other(ctx.near(cc), key) else 0.0
                    by_country[cc] = bonus
                if bonus:
                    score += bonus
                if cc == home:
                    score += HOME_BONUS
            if pairs:
                score += pairs.get(index, 0.0)
            if local:
                if big_kind:
                    score -= LOCAL_PENALTY
                elif how == HOW_ALT:  # "Berea police": no old name of Aleppo
                    score -= ALT_LOCAL_PENALTY
            ranked.append((-score, index, n, how))
        return ranked

    def _accepted(self, cand: Candidate, index: int, how: int, ctx: _Context, *, strict: bool = True) -> bool:
        """Whether the evidence suffices to read ``cand`` as entry ``index`` (see the module docstring).

        The first round, whose context comes from population alone, is not ``strict``: it does not yet
        turn away towns of another country than the article's.
        """
        key = cand.mention.key
        entry = self.index.entries[index]
        paired = cand.pair_bonus.get(index, 0.0) > 0 if cand.pair_bonus else False
        if cand.common:
            supported = cand.place_word or paired
            if not supported and cand.prep and not cand.initial() and not cand.loose():
                supported = ctx.in_admin1(entry, key) or ctx.in_country(entry, key)
            if not supported:
                return False
        if entry.kind not in _TOWNS or paired:
            return True
        keys = ctx.admin1s.get(entry.admin1) if entry.admin1 else None
        if keys and (len(keys) > 1 or key not in keys):
            return True  # its state is in the article
        keys = ctx.countries.get(entry.country_code) if entry.country_code else None
        in_country = keys is not None and (len(keys) > 1 or key not in keys)
        if how == HOW_ALT and entry.population < ALT_ANYWHERE_POPULATION:
            if entry.population < ALT_MIN_POPULATION or cand.initial() or cand.loose():
                return False
            return in_country or cand.place_word
        if entry.population < SMALL_POPULATION:
            return cand.place_word and in_country
        if strict and entry.population < ALT_MIN_POPULATION and not in_country:
            # a foreign town in an article about other countries: "Obama" in an Ohio story
            return not ctx.other_country(key)
        return True


def _town_of_city(
    cand: Candidate,
    picked: tuple[int, int],
    groups: dict[str, _Group],
    entries: Sequence[GazetteerEntry],
    texts: Sequence[str],
) -> tuple[Mention, tuple[int, int]] | None:
    """An "X City" read as a subdivision elsewhere ("Dublin City", Ireland) where the article reads X as a
    town ("Dublin", Ohio): the town's council, so X alone, in the town's sense (``None`` otherwise)."""
    m = cand.mention
    base = groups.get(m.key[:-5])
    if base is None or base.picked is None:
        return None
    town, entry = entries[base.picked[0]], entries[picked[0]]
    if town.kind not in _TOWNS or (entry.kind in _TOWNS and entry.admin1 == town.admin1):
        return None
    text = texts[cand.field]
    end = m.end - 5
    if end <= m.start or text[end] not in _CITY_GAP:
        return None
    return Mention(m.start, end, base.key, base.cands[0].mention.number, m.shouted), base.picked


def native_reader(index: GazetteerIndex, cues: Cues, keys: KeyFactsCache) -> PlaceReader:
    """The native reader and resolver of ``index`` with ``cues`` and this module's constants; it
    asks ``keys`` the facts of a key once and keeps them, and returns :class:`PlaceMatch` tuples."""
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


def _other(keys: set[str] | None, key: str) -> bool:
    """Whether ``keys`` holds a name other than ``key``."""
    return keys is not None and (len(keys) > 1 or (len(keys) == 1 and key not in keys))


def _unsupported(cand: Candidate) -> bool:
    """A common word with no evidence for any reading (see ``Resolver._accepted``)."""
    return (
        cand.common
        and not cand.place_word
        and not cand.pair_bonus
        and not (cand.prep and not cand.initial() and not cand.loose())
    )


class _Group:
    """The mentions of one name in an article (one sense per article) and its distinct options."""

    __slots__ = (
        "admin1s", "cands", "country", "key", "live", "local", "merged",
        "options", "pairs", "picked", "readings", "settled", "viable",
    )  # fmt: skip

    def __init__(self, cand: Candidate) -> None:
        self.key = cand.mention.key
        self.cands = [cand]
        self.readings: Readings = cand.readings
        self.options: Sequence[Option] = cand.readings.scored
        self.admin1s = cand.readings.admin1s
        self.country = cand.readings.country
        self.pairs: dict[int, float] = dict(cand.pair_bonus)  # entry index -> best pair bonus
        self.local = cand.local  # a local institution follows some mention
        self.live = not _unsupported(cand)
        self.merged = False  # options of mentions with other readings were added
        self.picked: tuple[int, int] | None = None  # (entry index, how) of the chosen option
        self.settled = False  # picked whatever the context
        self.viable: list[tuple[int, Option]] = []  # (position, option) that may be accepted: _prune

    def add(self, cand: Candidate) -> None:
        self.cands.append(cand)
        if cand.readings is not self.readings and cand.readings.scored != self.options:
            merged = {o[:2]: o for o in self.options}
            for option in cand.readings.scored:
                merged.setdefault(option[:2], option)
            self.options = list(merged.values())
            self.admin1s |= cand.readings.admin1s
            self.country = self.country or cand.readings.country
            self.merged = True
        for index, bonus in cand.pair_bonus.items():
            if bonus > self.pairs.get(index, 0.0):
                self.pairs[index] = bonus
        self.local = self.local or cand.local
        self.live = self.live or not _unsupported(cand)


def _prune(groups: Iterable[_Group], live: list[_Group]) -> None:
    """Set the viable options of each live name with several: those the evidence may accept.

    A town that needs its state in the article (``weak``, see :data:`~newswatch.processor.keyfacts.Option`)
    is never accepted when no other name of the article could lie in that state and no pair supports
    it ("Palmyra" in Maine for an article about Syria): it is not ranked at all. Exact: the choice
    among the rest is the same (see ``Resolver._rank`` for the one rule that looks at every option).
    """
    seen: set[str] = set()
    shared: set[str] = set()  # first-level subdivisions where two names or more may lie
    for group in groups:
        admin1s = group.admin1s
        if admin1s:
            shared |= seen & admin1s
            seen |= admin1s
    for group in live:
        options = group.options
        if len(options) == 1:
            continue
        limit = WEAK_ALWAYS if any(c.place_word for c in group.cands) else WEAK_PLACE_WORD
        pairs = group.pairs
        group.viable = [
            (n, o)
            for n, o in enumerate(options)
            if o[5] < limit or o[2].admin1 in shared or (pairs and pairs.get(o[0], 0.0) > 0)
        ]


def _possible(groups: Iterable[_Group]) -> dict[str, set[str]]:
    """First-level subdivisions where a name of the article may lie (names with few readings)."""
    possible: dict[str, set[str]] = {}
    for group in groups:
        if len(group.admin1s) <= POSSIBLE_MAX_READINGS:
            for code in group.admin1s:
                possible.setdefault(code, set()).add(group.key)
    return possible


class _Context:
    """The places chosen so far: states and countries with the names that support each."""

    __slots__ = ("_country_keys", "_leaders", "_near", "admin1s", "countries", "neighbours", "possible")

    def __init__(
        self,
        admin1s: dict[str, set[str]],
        countries: dict[str, set[str]],
        possible: dict[str, set[str]],
        neighbours: dict[str, frozenset[str]],
    ) -> None:
        self.admin1s = admin1s
        self.countries = countries
        self.possible = possible
        self.neighbours = neighbours
        self._near: dict[str, set[str]] = {}  # country -> names in its neighbours (a cache)
        self._country_keys: set[str] | None = None
        self._leaders: list[tuple[int, str]] | None = None

    def near(self, cc: str) -> set[str]:
        """The names that support the neighbours of country ``cc``."""
        near = self._near.get(cc)
        if near is None:
            neighbours = self.neighbours.get(cc, frozenset())
            near = self._near[cc] = set().union(*(k for n, k in self.countries.items() if n in neighbours))
        return near

    def home(self, key: str) -> str:
        """The article's home country for name ``key``: the country that at least ``HOME_MIN_NAMES``
        other names support, ``HOME_MARGIN`` times as many as support any other country ("" if none).
        A local story about Dublin, Ohio names Columbus and Franklin County, not Irish places."""
        leaders = self._leaders
        if leaders is None:  # the three best supported countries: a name supports one country at most
            leaders = self._leaders = sorted(
                ((len(k), cc) for cc, k in self.countries.items()), reverse=True
            )[:3]
        countries = self.countries
        best, first, second = "", 0, 0
        for support, cc in leaders:
            support -= key in countries[cc]
            if support > first:
                best, first, second = cc, support, first
            elif support > second:
                second = support
        return best if first >= HOME_MIN_NAMES and first >= HOME_MARGIN * second else ""

    def in_admin1(self, entry: GazetteerEntry, key: str) -> bool:
        return bool(entry.admin1) and _other(self.admin1s.get(entry.admin1), key)

    def in_country(self, entry: GazetteerEntry, key: str) -> bool:
        return bool(entry.country_code) and _other(self.countries.get(entry.country_code), key)

    def other_country(self, key: str) -> bool:
        """Whether a name other than ``key`` supports some country."""
        if self._country_keys is None:
            self._country_keys = set().union(*self.countries.values())
        return _other(self._country_keys, key)

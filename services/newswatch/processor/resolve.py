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
``PlaceResolver``, given the constants of :mod:`~newswatch.processor.senseweights`, the cues, the
index's places and the key facts' source once: :func:`~newswatch.processor.sensenative.native_reader`)
and returns :class:`PlaceMatch` tuples built there, with the same results as :meth:`Resolver.resolve`,
the Python definition (tests compare the two on every evaluation corpus and on generated texts).

This module holds :class:`Resolver`, the rounds and the pairs; the names of an article with their
options and pruning live in :mod:`~newswatch.processor.sensegroups`, the context of the places chosen
so far in :mod:`~newswatch.processor.sensecontext`, ranking and evidence (rules 3 and 4) in
:mod:`~newswatch.processor.senserank`, and the records returned in
:mod:`~newswatch.processor.placematch`.

Pure and deterministic; never raises for any input.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from newswatch_native import PlaceReader

from newswatch.processor.gazetteer import HOW_DEMONYM, GazetteerEntry, GazetteerIndex
from newswatch.processor.keyfacts import SMALL_POPULATION
from newswatch.processor.keyfacts import TOWNS as _TOWNS
from newswatch.processor.overrides import Cues
from newswatch.processor.placematch import PlaceMatch, Resolved
from newswatch.processor.reading import Candidate, Probe, Reader
from newswatch.processor.sensecontext import _Context
from newswatch.processor.sensegroups import _Group, _possible, _prune
from newswatch.processor.sensenative import native_reader
from newswatch.processor.senserank import RankingMixin
from newswatch.processor.senseweights import PAIR_BONUS, ROUNDS
from newswatch.processor.textfacts import Article
from newswatch.processor.toponyms import Mention

__all__ = ["SMALL_POPULATION", "PlaceMatch", "Resolved", "Resolver", "native_reader"]

_COMMA = re.compile(r"[ \t]*,[ \t]*")
_POSSESSIVE = re.compile(r"['’]s[ \t]+")
_CITY_GAP = frozenset(" -\t\u00a0")


class Resolver(RankingMixin):
    """Resolves the mentions of one article. Immutable apart from its reader's cache; share one.

    :meth:`places` reads and resolves in native code (:class:`newswatch_native.PlaceReader`, built
    once from the index, the cues and the constants of :mod:`~newswatch.processor.senseweights`:
    share it through ``native``);
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

    # -- context (ranking and evidence: RankingMixin) ----------------------------------------------

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

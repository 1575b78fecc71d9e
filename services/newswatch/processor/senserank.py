"""Rules 3 and 4 of toponym disambiguation (:mod:`newswatch.processor.resolve`): the scores of a
name's options in the article's context, and whether the evidence suffices to read a mention as one
of them. :class:`RankingMixin` holds them as methods of
:class:`~newswatch.processor.resolve.Resolver`, which inherits them. Pure.
"""

from __future__ import annotations

from newswatch.processor.gazetteer import HOW_ALT, GazetteerIndex
from newswatch.processor.keyfacts import ALT_MIN_POPULATION, SMALL_POPULATION, Option
from newswatch.processor.keyfacts import TOWNS as _TOWNS
from newswatch.processor.reading import Candidate
from newswatch.processor.sensecontext import _Context, _other
from newswatch.processor.sensegroups import _Group
from newswatch.processor.senseweights import (
    _COUNTRY_BONUSES,
    ADMIN1_BONUS,
    ADMIN1_POSSIBLE_BONUS,
    ALT_ANYWHERE_POPULATION,
    ALT_LOCAL_PENALTY,
    COUNTRY_STEPS,
    HOME_BONUS,
    LOCAL_PENALTY,
    NEIGHBOUR_BONUS,
    PAIR_BONUS,
)


class RankingMixin:
    """Choosing a name's option: ranking (rule 3) and evidence (rule 4), over ``index``'s entries."""

    index: GazetteerIndex

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

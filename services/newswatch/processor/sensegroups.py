"""The names of one article as toponym disambiguation ranks them: :class:`_Group` gathers the
mentions of one name and their distinct options (one sense per article), :func:`_possible` tells the
states where a name may lie, and :func:`_prune` keeps of each name the options that the evidence may
accept. Internal to :mod:`newswatch.processor.resolve`, which documents the rules. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from newswatch.processor.keyfacts import WEAK_ALWAYS, WEAK_PLACE_WORD, Option, Readings
from newswatch.processor.reading import Candidate
from newswatch.processor.senseweights import POSSIBLE_MAX_READINGS


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

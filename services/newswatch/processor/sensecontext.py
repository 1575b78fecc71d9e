"""The article context of toponym disambiguation: the states and countries of the places chosen so
far, each with the names that support it (:class:`_Context`), and the home country it implies.
Internal to :mod:`newswatch.processor.resolve`, which documents the rules. Pure.
"""

from __future__ import annotations

from newswatch.processor.gazetteer import GazetteerEntry
from newswatch.processor.senseweights import HOME_MARGIN, HOME_MIN_NAMES


def _other(keys: set[str] | None, key: str) -> bool:
    """Whether ``keys`` holds a name other than ``key``."""
    return keys is not None and (len(keys) > 1 or (len(keys) == 1 and key not in keys))


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

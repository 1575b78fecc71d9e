"""Place tagging: the :class:`Gazetteer` façade over the GeoNames index, the scanner and the resolver.

:meth:`Gazetteer.tag_fields` tags the fields of one article together (title, summary, content: one
sense per name across them, context from all of them); :meth:`Gazetteer.tag_places` tags one text.
Each :class:`PlaceMatch` carries the name as written and its offsets (code points into that field:
``text[start:end] == matched_text``), the GeoNames id, country code, admin1 code and kind of the
place it resolved to. See :mod:`newswatch.processor.toponyms` (recognition) and
:mod:`newswatch.processor.resolve` (disambiguation) for the rules.

:func:`default_gazetteer` builds the full gazetteer once per process (seconds; logged with
``load_seconds``). Share it: its caches (what each key and each word around a name implies, bounded)
make names seen before cheap). Recognition and resolution run in native code
(:mod:`newswatch_native`: ``PlaceNames``, ``PlaceReader``, which also builds the :class:`PlaceMatch`
tuples); tagging a ~4 KB article takes about 0.2 ms of CPU (``bench/geoparse.py``,
``bench/enrich.py``). ``Gazetteer(..., reference=True)`` runs the Python definitions instead.
Tagging never raises for any ``str``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import resources

from newswatch.processor.gazcache import cache_path, fingerprint, read_cache
from newswatch.processor.gazetteer import (
    HOW_NAME,
    GazetteerEntry,
    GazetteerIndex,
    build_index,
    name_keys,
)
from newswatch.processor.overrides import Cues, Overrides, default_cues, default_overrides
from newswatch.processor.resolve import PlaceMatch, Resolver
from newswatch.processor.toponyms import ReferenceScanner, ToponymScanner

__all__ = [
    "DEFAULT_MIN_CITY_POPULATION",
    "Gazetteer",
    "GazetteerEntry",
    "PlaceMatch",
    "default_gazetteer",
    "index_from_places",
    "load_gazetteer",
    "overrides_bytes",
]

log = logging.getLogger(__name__)

DEFAULT_MIN_CITY_POPULATION = 1000


class Gazetteer:
    """Immutable; share one instance (tagging is thread-safe).

    ``reference``: recognise and resolve toponyms with the Python definitions
    (:class:`~newswatch.processor.toponyms.ReferenceScanner`, the Python rules of
    :class:`~newswatch.processor.resolve.Resolver`) instead of native code; the same results, slower
    (tests compare the two).
    """

    def __init__(
        self,
        index: GazetteerIndex,
        cues: Cues | None = None,
        *,
        demonyms: bool = False,
        reference: bool = False,
    ) -> None:
        self.index = index
        self.scanner = ReferenceScanner(index) if reference else ToponymScanner(index)
        self.resolver = Resolver(index, cues or default_cues(), demonyms=demonyms, reference=reference)

    @property
    def entries(self) -> tuple[GazetteerEntry, ...]:
        return self.index.entries

    def by_geonames_id(self, geonames_id: str) -> GazetteerEntry | None:
        return self.index.by_geonames_id(geonames_id)

    def with_demonyms(self, demonyms: bool) -> Gazetteer:
        """The same data with demonyms ("Syrian" → Syria) reported as places or not (shares the index).

        Off by default: "Russian warplanes over Aleppo" is about Syria. Demonyms always count as context.
        """
        twin = object.__new__(Gazetteer)
        twin.index, twin.scanner = self.index, self.scanner
        old = self.resolver
        twin.resolver = Resolver(
            self.index,
            old.cues,
            demonyms=demonyms,
            reader=old.reader,
            native=old.native,
            reference=old.native is None,
        )
        return twin

    def tag_fields(self, texts: Sequence[str]) -> list[list[PlaceMatch]]:
        """Places of each text, resolved together (one article's title, summary, content)."""
        scan = self.scanner.scan
        return self.resolver.matches(texts, [scan(t) for t in texts])

    def tag_places(self, text: str) -> list[PlaceMatch]:
        """Places in one text, in order of appearance."""
        return self.tag_fields([text])[0]

    def resolves_to(self, texts: Sequence[str], field: int, start: int, end: int, geonames_id: str) -> bool:
        """Whether ``texts[field][start:end]`` is tagged as the place ``geonames_id`` (watch-list binding)."""
        return any(
            p.geonames_id == geonames_id and p.start < end and start < p.end
            for p in self.tag_fields(texts)[field]
        )


def index_from_places(
    places: Iterable[tuple[GazetteerEntry, Sequence[str | tuple[str, int]]]],
    neighbours: dict[str, frozenset[str]] | None = None,
) -> GazetteerIndex:
    """A small index from ``(entry, names)`` pairs, for tests and tools. A name is a main name, or
    ``(name, how)`` with one of the ``HOW_*`` constants of :mod:`newswatch.processor.gazetteer`."""
    entries: list[GazetteerEntry] = []
    options: dict[str, set[int]] = {}
    for n, (entry, names) in enumerate(places):
        entries.append(entry)
        for item in names:
            name, how = (item, HOW_NAME) if isinstance(item, str) else item
            for key in name_keys(name, codes=True, main=how == HOW_NAME):
                options.setdefault(key, set()).add(GazetteerIndex.pack(n, how))
    return GazetteerIndex(entries, options, neighbours or {})


def overrides_bytes() -> bytes:
    """The package's ``data/gazetteer.yaml`` as stored (the cache's fingerprint covers it)."""
    return resources.files("newswatch").joinpath("data", "gazetteer.yaml").read_bytes()


def load_gazetteer(
    min_city_population: int = DEFAULT_MIN_CITY_POPULATION,
    overrides: Overrides | None = None,
    cues: Cues | None = None,
    *,
    use_cache: bool = True,
) -> Gazetteer:
    """The full gazetteer: from the compact cache when it is fresh (the package overrides only), else
    built from the data packages. Seconds either way; prefer :func:`default_gazetteer`."""
    started = time.perf_counter()
    index = None
    if overrides is None and use_cache:
        index = read_cache(cache_path(), fingerprint(overrides_bytes(), min_city_population))
    source = "cache" if index is not None else "packages"
    if index is None:
        index = build_index(overrides or default_overrides(), min_city_population)
    gazetteer = Gazetteer(index, cues)
    log.info(
        "gazetteer loaded",
        extra={
            "source": source,
            "entries": len(index.entries),
            "names": index.size,
            "min_city_population": min_city_population,
            "load_seconds": round(time.perf_counter() - started, 3),
        },
    )
    return gazetteer


@lru_cache(maxsize=1)
def default_gazetteer() -> Gazetteer:
    """The full gazetteer, built on first use and shared by the whole process."""
    return load_gazetteer()

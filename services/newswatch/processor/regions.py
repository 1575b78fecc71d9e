"""The project's table ISO 3166-1 alpha-2 country → regions (package data ``data/regions.yaml``).

A region has an id (``mena``), a display name ("Middle East & North Africa") and a set of countries; a
country may belong to several regions. Lookups are pure and never raise for unknown countries. A
deployment may replace the packaged table with its own file (:func:`load_regions`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Region", "RegionTable", "default_regions", "load_regions", "parse_regions"]

_CC = re.compile(r"^[A-Z]{2}$")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Region:
    region_id: str
    name: str
    countries: frozenset[str]


class RegionTable:
    """Regions by id, and the regions of each country."""

    def __init__(self, regions: Iterable[Region]) -> None:
        self.regions: dict[str, Region] = {r.region_id: r for r in regions}
        by_country: dict[str, set[str]] = {}
        for region in self.regions.values():
            for cc in region.countries:
                by_country.setdefault(cc, set()).add(region.region_id)
        self._by_country = {cc: tuple(sorted(ids)) for cc, ids in by_country.items()}

    def regions_for(self, country_code: str) -> tuple[str, ...]:
        """Sorted region ids of one country ("SY" → ("levant", "mena")); () when unknown."""
        return self._by_country.get(country_code.upper(), ())

    def regions_for_countries(self, country_codes: Iterable[str]) -> list[str]:
        """Sorted, unique region ids of several countries."""
        return sorted({r for cc in country_codes for r in self.regions_for(cc)})

    def name(self, region_id: str) -> str:
        region = self.regions.get(region_id)
        return region.name if region else region_id


def parse_regions(data: Mapping[str, Any], source: str = "regions.yaml") -> RegionTable:
    """Build a table from parsed YAML (``regions: {id: {name, countries}}``); ValueError names the flaw."""
    raw = data.get("regions")
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"{source}: 'regions' must be a non-empty mapping")
    regions: list[Region] = []
    for region_id, body in raw.items():
        if not isinstance(region_id, str) or not _ID.match(region_id):
            raise ValueError(f"{source}: region id {region_id!r} must match {_ID.pattern}")
        if not isinstance(body, dict):
            raise ValueError(f"{source}: region {region_id!r} must be a mapping")
        countries = body.get("countries")
        if not isinstance(countries, list) or not countries:
            raise ValueError(f"{source}: region {region_id!r}: 'countries' must be a non-empty list")
        bad = [c for c in countries if not isinstance(c, str) or not _CC.match(c)]
        if bad:
            raise ValueError(f"{source}: region {region_id!r}: not ISO alpha-2 codes: {bad}")
        regions.append(Region(region_id, str(body.get("name") or region_id), frozenset(countries)))
    return RegionTable(regions)


def load_regions(path: str | Path | None = None) -> RegionTable:
    """The table in the YAML file ``path``, or the packaged one when ``path`` is empty or None.

    Raises ``ValueError`` naming the file and the flaw (unreadable, not YAML, bad codes).
    """
    if not path:
        return default_regions()
    try:
        data = yaml.safe_load(Path(path).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read the regions table: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: must be a mapping with 'regions'")
    return parse_regions(data, str(path))


@lru_cache(maxsize=1)
def default_regions() -> RegionTable:
    """The table shipped with the package (read once)."""
    text = resources.files("newswatch").joinpath("data", "regions.yaml").read_text("utf-8")
    return parse_regions(yaml.safe_load(text))

"""The project's gazetteer overrides (package data ``data/gazetteer.yaml``) and toponym cues
(``data/toponyms.yaml``), parsed and validated.

Overrides add what the GeoNames packages lack or name awkwardly: country names in other languages,
demonyms, abbreviations of first-level subdivisions, display names ("Palmyra" for GeoNames' "Tadmur"),
extra names for a GeoNames id and extra places (regions, disputed territories). Cues are the word
lists the toponym rules consult. Parsers raise ``ValueError`` naming the file and the flaw.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from newswatch.processor.gazetteer import KINDS, GazetteerEntry

__all__ = [
    "Cues",
    "ExtraPlace",
    "Overrides",
    "default_cues",
    "default_overrides",
    "parse_cues",
    "parse_overrides",
]

_CC = re.compile(r"^[A-Z]{2}$")
_ADMIN = re.compile(r"^[A-Z]{2}\.[A-Z0-9]{1,3}$")
_GID = re.compile(r"^\d+$")


@dataclass(frozen=True, slots=True)
class ExtraPlace:
    entry: GazetteerEntry
    aliases: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Overrides:
    languages: frozenset[str] = frozenset({"en", "fr"})
    display_names: Mapping[str, str] = field(default_factory=dict)
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    country_aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    demonyms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    abbreviations: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    free_abbreviations: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    places: tuple[ExtraPlace, ...] = ()


@dataclass(frozen=True, slots=True)
class Cues:
    """Lower-case word lists (see ``data/toponyms.yaml`` for what each one means)."""

    common_words: frozenset[str]
    first_names: frozenset[str]
    person_titles: frozenset[str]
    speech_verbs: frozenset[str]
    name_suffixes: frozenset[str]
    place_words: frozenset[str]
    institution_words: frozenset[str]
    local_words: frozenset[str]
    modifiers: frozenset[str]
    sentence_words: frozenset[str]
    prepositions: frozenset[str]


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{where}: must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _mapping(
    data: Mapping[str, Any], name: str, source: str, key: re.Pattern[str]
) -> dict[str, tuple[str, ...]]:
    raw = data.get(name) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: {name!r} must be a mapping")
    out: dict[str, tuple[str, ...]] = {}
    for k, v in raw.items():
        if not isinstance(k, str | int) or not key.match(str(k)):
            raise ValueError(f"{source}: {name}: bad key {k!r} (expected {key.pattern})")
        out[str(k)] = _strings(v, f"{source}: {name}.{k}")
    return out


def _place(item: Any, source: str, n: int) -> ExtraPlace:
    where = f"{source}: place {n}"
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"].strip():
        raise ValueError(f"{where}: needs a 'name'")
    where = f"{source}: place {item['name']!r}"
    cc = item.get("cc", "")
    if cc and not (isinstance(cc, str) and _CC.match(cc)):
        raise ValueError(f"{where}: 'cc' must be an ISO 3166-1 alpha-2 code, got {cc!r}")
    if item.get("kind") not in KINDS:
        raise ValueError(f"{where}: 'kind' must be one of {', '.join(KINDS)}")
    gid = str(item.get("id") or "")
    if gid and not _GID.match(gid):
        raise ValueError(f"{where}: 'id' must be a GeoNames id (digits), got {gid!r}")
    admin1 = str(item.get("admin1") or "")
    if admin1 and not _ADMIN.match(admin1):
        raise ValueError(f"{where}: 'admin1' must look like 'US.GA', got {admin1!r}")
    try:
        population = int(item.get("population") or 0)
        lat, lon = float(item.get("lat") or 0.0), float(item.get("lon") or 0.0)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: population, lat and lon must be numbers") from exc
    entry = GazetteerEntry(item["name"].strip(), gid, cc or "", item["kind"], admin1, population, lat, lon)
    return ExtraPlace(entry, _strings(item.get("aliases"), f"{where}: aliases"))


def parse_overrides(data: Mapping[str, Any], source: str = "gazetteer.yaml") -> Overrides:
    """Validate parsed YAML (see ``data/gazetteer.yaml`` for the format)."""
    if not isinstance(data, dict):
        raise ValueError(f"{source}: must be a mapping")
    names = data.get("display_names") or {}
    if not isinstance(names, dict) or not all(
        _GID.match(str(k)) and isinstance(v, str) and v.strip() for k, v in names.items()
    ):
        raise ValueError(f"{source}: 'display_names' must map GeoNames ids to names")
    places = data.get("places") or []
    if not isinstance(places, list):
        raise ValueError(f"{source}: 'places' must be a list")
    return Overrides(
        languages=frozenset(_strings(data.get("languages"), f"{source}: languages") or ("en", "fr")),
        display_names={str(k): v.strip() for k, v in names.items()},
        aliases=_mapping(data, "aliases", source, _GID),
        country_aliases=_mapping(data, "country_aliases", source, _CC),
        demonyms=_mapping(data, "demonyms", source, _CC),
        abbreviations=_mapping(data, "abbreviations", source, _ADMIN),
        free_abbreviations=_mapping(data, "free_abbreviations", source, _ADMIN),
        places=tuple(_place(item, source, n) for n, item in enumerate(places, 1)),
    )


def parse_cues(data: Mapping[str, Any], source: str = "toponyms.yaml") -> Cues:
    """Validate parsed YAML: every list present, words lower-cased; sentence words and place words
    count as common words, place and local words as institution words."""
    if not isinstance(data, dict):
        raise ValueError(f"{source}: must be a mapping")
    lists: dict[str, frozenset[str]] = {}
    for name in Cues.__slots__:
        words = _strings(data.get(name), f"{source}: {name}")
        if not words:
            raise ValueError(f"{source}: {name!r} must be a non-empty list")
        lists[name] = frozenset(w.lower() for w in words)
    # Sentence and place words are common words too: "From", "Région" at a line start are not towns.
    lists["common_words"] |= lists["sentence_words"] | lists["place_words"]
    lists["institution_words"] |= lists["place_words"] | lists["local_words"]
    return Cues(**lists)


def _package_yaml(name: str) -> Any:
    return yaml.safe_load(resources.files("newswatch").joinpath("data", name).read_text("utf-8"))


@lru_cache(maxsize=1)
def default_overrides() -> Overrides:
    return parse_overrides(_package_yaml("gazetteer.yaml"))


@lru_cache(maxsize=1)
def default_cues() -> Cues:
    return parse_cues(_package_yaml("toponyms.yaml"))

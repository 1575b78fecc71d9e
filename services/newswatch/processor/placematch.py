"""The records toponym disambiguation returns: :class:`PlaceMatch` (a place found in text, what
:meth:`~newswatch.processor.resolve.Resolver.matches` and the native reader return) and
:class:`Resolved` (a mention resolved to a gazetteer entry, what
:meth:`~newswatch.processor.resolve.Resolver.resolve` returns). Immutable named tuples.
"""

from __future__ import annotations

from typing import NamedTuple

from newswatch.processor.gazetteer import GazetteerEntry
from newswatch.processor.toponyms import Mention

__all__ = ["PlaceMatch", "Resolved"]


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

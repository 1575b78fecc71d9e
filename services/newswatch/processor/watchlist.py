"""Watch lists as data: load them from YAML, validate them, publish them to ``newswatch.watchlists.v1``.

YAML shape (a file may hold one watch list, a list of them, or ``watchlists: [...]``)::

    watchlists:
      - id: default                  # [a-z0-9_-], the Kafka key
        name: ISIS, Palmyra, Hit
        threshold: 1.0               # alert when the summed weights of matched terms reach this
        enabled: true
        terms:
          - id: hit
            label: Hit
            kind: place              # organisation | place | person | keyword
            weight: 1.0
            aliases: [...]           # case- and accent-insensitive, whole words
            case_sensitive_aliases: [Hit]
            context_words: [town, Anbar, Iraq*]   # one must occur within context_window_chars
            negative_context: [hit by]            # none may occur within context_window_chars
            context_window_chars: 60
            geonames_id: "95788"     # the gazetteer place this term means: when the place tagger
                                     # resolves a mention to it, that stands in for context_words
            variants:                # more aliases of the same term with their own context rules
              - case_sensitive_aliases: [...]

A variant becomes one more protobuf ``Term`` with the same ``term_id``; consumers treat every ``Term``
sharing an id as one term (its weight counts once). Errors raise :class:`WatchlistError` (not
retriable) naming the file, watch list, term and field.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from newswatch.errors import NewswatchError
from newswatch.kafka import ensure_topics, make_producer, publish
from newswatch.settings import Settings
from newswatch.topics import WATCHLISTS
from newswatch.v1.watchlist_pb2 import Term, Watchlist

__all__ = [
    "KINDS",
    "WatchlistError",
    "apply_watchlists",
    "default_watchlist",
    "load_watchlists_yaml",
    "parse_watchlists",
    "validate_watchlist",
]

log = logging.getLogger(__name__)

KINDS = ("organisation", "place", "person", "keyword")
DEFAULT_WINDOW_CHARS = 60
_ID = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")
_WATCHLIST_KEYS = {"id", "name", "threshold", "enabled", "terms"}
_RULE_KEYS = {
    "aliases",
    "case_sensitive_aliases",
    "context_words",
    "negative_context",
    "context_window_chars",
}
_TERM_KEYS = {"id", "label", "kind", "weight", "geonames_id", "variants"} | _RULE_KEYS


class WatchlistError(NewswatchError):
    """A watch list is invalid. Fix the file; retrying cannot help."""

    retriable = False


def _fail(where: str, message: str) -> WatchlistError:
    return WatchlistError(f"{where}: {message}")


def _strings(value: Any, where: str, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise _fail(where, f"field {field!r} must be a list of strings")
    items = [str(v).strip() for v in value]
    if any(not v for v in items):
        raise _fail(where, f"field {field!r} holds an empty string")
    return items


def _number(value: Any, where: str, field: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(where, f"field {field!r} must be a number, got {value!r}")
    if not low <= float(value) <= high:
        raise _fail(where, f"field {field!r} must be between {low:g} and {high:g}, got {value!r}")
    return float(value)


def _rules(raw: Mapping[str, Any], where: str, term: Term) -> None:
    term.aliases.extend(_strings(raw.get("aliases"), where, "aliases"))
    term.case_sensitive_aliases.extend(
        _strings(raw.get("case_sensitive_aliases"), where, "case_sensitive_aliases")
    )
    if not term.aliases and not term.case_sensitive_aliases:
        raise _fail(where, "needs at least one entry in 'aliases' or 'case_sensitive_aliases'")
    term.context_words.extend(_strings(raw.get("context_words"), where, "context_words"))
    term.negative_context.extend(_strings(raw.get("negative_context"), where, "negative_context"))
    window = raw.get("context_window_chars", DEFAULT_WINDOW_CHARS)
    term.context_window_chars = int(_number(window, where, "context_window_chars", 0, 2000))


def _terms(raw: Mapping[str, Any], where: str) -> list[Term]:
    unknown = sorted(set(raw) - _TERM_KEYS)
    if unknown:
        raise _fail(where, f"unknown field {unknown[0]!r}")
    kind = raw.get("kind", "keyword")
    if kind not in KINDS:
        raise _fail(where, f"field 'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
    base = Term(
        term_id=str(raw["id"]),
        label=str(raw.get("label") or raw["id"]),
        kind=kind,
        weight=_number(raw.get("weight", 1.0), where, "weight", 0, 1e6),
        geonames_id=str(raw.get("geonames_id") or ""),
    )
    first = Term()
    first.CopyFrom(base)
    _rules(raw, where, first)
    out = [first]
    variants = raw.get("variants") or []
    if not isinstance(variants, list):
        raise _fail(where, "field 'variants' must be a list")
    for n, variant in enumerate(variants, 1):
        vwhere = f"{where}, variant {n}"
        if not isinstance(variant, dict):
            raise _fail(vwhere, "must be a mapping")
        unknown = sorted(set(variant) - _RULE_KEYS)
        if unknown:
            raise _fail(vwhere, f"unknown field {unknown[0]!r} (variants hold only alias and context rules)")
        term = Term()
        term.CopyFrom(base)
        _rules(variant, vwhere, term)
        out.append(term)
    return out


def _watchlist(raw: Any, where: str) -> Watchlist:
    if not isinstance(raw, dict):
        raise _fail(where, "a watch list must be a mapping")
    wid = raw.get("id")
    if not isinstance(wid, str) or not _ID.match(wid):
        raise _fail(where, f"field 'id' must match {_ID.pattern}, got {wid!r}")
    where = f"{where}: watch list {wid!r}"
    unknown = sorted(set(raw) - _WATCHLIST_KEYS)
    if unknown:
        raise _fail(where, f"unknown field {unknown[0]!r}")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise _fail(where, f"field 'enabled' must be true or false, got {enabled!r}")
    wl = Watchlist(
        watchlist_id=wid,
        name=str(raw.get("name") or wid),
        threshold=_number(raw.get("threshold", 1.0), where, "threshold", 1e-9, 1e9),
        enabled=enabled,
    )
    terms = raw.get("terms")
    if not isinstance(terms, list) or not terms:
        raise _fail(where, "field 'terms' must be a non-empty list")
    seen: set[str] = set()
    for n, term in enumerate(terms, 1):
        tid = term.get("id") if isinstance(term, dict) else None
        if not isinstance(tid, str) or not _ID.match(tid):
            raise _fail(f"{where}, term {n}", f"field 'id' must match {_ID.pattern}, got {tid!r}")
        if tid in seen:
            raise _fail(f"{where}, term {tid!r}", "duplicate term id")
        seen.add(tid)
        wl.terms.extend(_terms(term, f"{where}, term {tid!r}"))
    return wl


def parse_watchlists(data: Any, source: str = "<watchlists>") -> list[Watchlist]:
    """Validate already-parsed YAML (see the module docstring); raise WatchlistError."""
    if isinstance(data, dict) and "watchlists" in data:
        data = data["watchlists"]
    items = data if isinstance(data, list) else [data]
    result = [_watchlist(raw, f"{source}, watch list {n}") for n, raw in enumerate(items, 1)]
    ids = [w.watchlist_id for w in result]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise _fail(source, f"watch list {dupes[0]!r} is declared twice")
    return result


def load_watchlists_yaml(path: str | Path) -> list[Watchlist]:
    """Read and validate a watch-list YAML file. Raises WatchlistError (also for I/O and YAML errors)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise WatchlistError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WatchlistError(f"{path}: not valid YAML: {exc}") from None
    return parse_watchlists(data, str(path))


def default_watchlist() -> Watchlist:
    """The built-in watch list (package data ``newswatch/data/default-watchlist.yaml``)."""
    text = resources.files("newswatch").joinpath("data", "default-watchlist.yaml").read_text("utf-8")
    (watchlist,) = parse_watchlists(yaml.safe_load(text), "default-watchlist.yaml")
    return watchlist


def validate_watchlist(watchlist: Watchlist) -> list[str]:
    """Problems of a watch list read from Kafka (empty list = usable)."""
    problems: list[str] = []
    if not watchlist.watchlist_id:
        problems.append("missing watchlist_id")
    if watchlist.threshold <= 0:
        problems.append(f"threshold must be > 0, got {watchlist.threshold:g}")
    if not watchlist.terms:
        problems.append("no terms")
    for term in watchlist.terms:
        if not term.term_id:
            problems.append("a term has no term_id")
        if not term.aliases and not term.case_sensitive_aliases:
            problems.append(f"term {term.term_id!r} has no alias")
        if term.weight < 0:
            problems.append(f"term {term.term_id!r} has a negative weight")
    return problems


async def apply_watchlists(settings: Settings, watchlists: Iterable[Watchlist]) -> None:
    """Publish each watch list to the compacted WATCHLISTS topic keyed by watchlist_id; wait for acks."""
    items = list(watchlists)
    await ensure_topics(settings, [WATCHLISTS])
    producer = make_producer(settings, "watchlists")
    await producer.start()
    try:
        futures = [await publish(producer, WATCHLISTS, w.watchlist_id, w) for w in items]
        for fut in futures:
            await fut
    finally:
        await producer.stop()
    log.info("watch lists applied", extra={"watchlist_ids": [w.watchlist_id for w in items]})

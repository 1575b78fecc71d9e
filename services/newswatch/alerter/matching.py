"""Which alerts a subscription's filters let through (:func:`matches`), for fan-out and the live stream.

An empty filter matches everything; a non-empty one must match at least one of the alert's values.
Comparisons ignore case and surrounding whitespace. Watch lists match by id or by name, terms by
``term_id`` or ``term_label`` of any of the alert's matches, languages by primary subtag too (``fr``
matches ``fr-CA``). ``min_score`` is inclusive. A disabled subscription never matches.
"""

from __future__ import annotations

from collections.abc import Iterable

from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.subscription_pb2 import Subscription

__all__ = ["matches"]


def _folded(values: Iterable[str]) -> set[str]:
    return {v.strip().casefold() for v in values if v.strip()}


def _language_matches(wanted: set[str], language: str) -> bool:
    lang = language.strip().casefold().replace("_", "-")
    return lang in wanted or lang.split("-", 1)[0] in wanted


def matches(sub: Subscription, alert: Alert) -> bool:
    """True when ``alert`` passes every filter of an enabled ``sub`` (see the module docstring)."""
    if not sub.enabled:
        return False
    if alert.score < sub.min_score:
        return False
    if sub.watchlists and not _folded(sub.watchlists) & _folded([alert.watchlist_id, alert.watchlist_name]):
        return False
    if sub.terms:
        found = _folded(m.term_id for m in alert.matches) | _folded(m.term_label for m in alert.matches)
        if not _folded(sub.terms) & found:
            return False
    if sub.regions and not _folded(sub.regions) & _folded(alert.regions):
        return False
    if sub.countries and not _folded(sub.countries) & _folded(alert.countries):
        return False
    return not (sub.languages and not _language_matches(_folded(sub.languages), alert.language))

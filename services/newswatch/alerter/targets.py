"""Which subscriptions an alert goes to, without testing every subscription against every alert.

:class:`TargetIndex` keeps the enabled subscriptions bucketed by their watch-list filter (each value
stripped and case-folded, as :func:`~newswatch.alerter.matching.matches` compares them) plus the ones
without a watch-list filter. For an alert only the buckets of its watch-list id and name and the
unfiltered ones are candidates; each candidate is then checked with ``matches`` itself, so the result
is exactly the subscriptions ``matches`` accepts. With 1,000 subscriptions on distinct watch lists that
is a handful of checks per alert instead of a thousand.

The index is rebuilt from the subscriptions mapping on the first lookup after :meth:`TargetIndex.changed`
(call it from the view's ``on_change``); ``scope(subscription_id)``, when given, keeps only some
subscriptions (see the service's ``scope``). Not thread-safe; one event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from newswatch.alerter.matching import matches
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.subscription_pb2 import Subscription

__all__ = ["TargetIndex"]


def _fold(value: str) -> str:
    return value.strip().casefold()


class TargetIndex:
    """Candidate subscriptions by watch list (module docstring)."""

    def __init__(
        self, subscriptions: Mapping[str, Subscription], scope: Callable[[str], bool] | None = None
    ) -> None:
        self._subscriptions = subscriptions
        self._scope = scope
        self._by_watchlist: dict[str, list[Subscription]] = {}
        self._unfiltered: list[Subscription] = []
        self._stale = True

    def changed(self) -> None:
        """The subscriptions changed: rebuild before the next lookup."""
        self._stale = True

    def _rebuild(self) -> None:
        by_watchlist: dict[str, list[Subscription]] = {}
        unfiltered: list[Subscription] = []
        for sub in list(self._subscriptions.values()):
            if not sub.enabled or (self._scope is not None and not self._scope(sub.subscription_id)):
                continue
            keys = {_fold(w) for w in sub.watchlists if w.strip()}
            if not keys:
                unfiltered.append(sub)
            for key in keys:
                by_watchlist.setdefault(key, []).append(sub)
        self._by_watchlist, self._unfiltered, self._stale = by_watchlist, unfiltered, False

    def targets(self, alert: Alert) -> list[Subscription]:
        """The subscriptions ``alert`` matches, each once."""
        if self._stale:
            self._rebuild()
        candidates: dict[str, Subscription] = {}
        for key in {_fold(alert.watchlist_id), _fold(alert.watchlist_name)} - {""}:
            for sub in self._by_watchlist.get(key, ()):
                candidates[sub.subscription_id] = sub
        for sub in self._unfiltered:
            candidates[sub.subscription_id] = sub
        return [sub for sub in candidates.values() if matches(sub, alert)]

"""The watch-list registry: the enabled watch lists and the matcher built from them, kept as one
:class:`Snapshot` that is replaced as a whole when a list changes on ``newswatch.watchlists.v1``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from newswatch.processor.enrich import term_weights
from newswatch.processor.keywords import Matcher, build_matcher
from newswatch.processor.metrics import ProcessorMetrics
from newswatch.processor.watchlist import validate_watchlist
from newswatch.v1.watchlist_pb2 import Watchlist

__all__ = ["Snapshot", "WatchlistRegistry"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A matcher and the enabled watch lists it was built from; replaced as a whole on reload.
    ``weights``: watch-list id -> ``term_weights`` of that list (computed once per reload)."""

    matcher: Matcher
    watchlists: tuple[Watchlist, ...]
    weights: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


class WatchlistRegistry:
    """The built-in default list plus every list on ``newswatch.watchlists.v1``.

    A list on Kafka with the default's id replaces it; a disabled list takes part in nothing; an invalid
    one is logged, counted and ignored (its previous version stays). ``snapshot`` is swapped in one
    assignment, so a reader always sees a matcher and lists that belong together.
    """

    def __init__(self, default: Watchlist, metrics: ProcessorMetrics) -> None:
        self._default = default
        self._metrics = metrics
        self._remote: dict[str, Watchlist] = {}
        self._loaded = False
        self.snapshot = self._build()

    def mark_loaded(self) -> None:
        """The topic was read to its end: from now on, enabled lists get their metric label at once
        (not the lists only seen while replaying the topic's history, which may be deleted ones)."""
        self._loaded = True
        self._metrics.watchlist_label.register(w.watchlist_id for w in self.snapshot.watchlists)

    def on_change(self, watchlist_id: str, watchlist: Watchlist | None) -> None:
        """Apply one record of the watch-list topic (None = removed) and rebuild the matcher."""
        if watchlist is not None:
            problems = validate_watchlist(watchlist)
            if watchlist.watchlist_id and watchlist.watchlist_id != watchlist_id:
                problems.append(f"key {watchlist_id!r} differs from watchlist_id {watchlist.watchlist_id!r}")
            if problems:
                self._metrics.watchlist_errors.inc()
                log.warning("watch list refused", extra={"watchlist_id": watchlist_id, "problems": problems})
                return
            self._remote[watchlist_id] = watchlist
        else:
            self._remote.pop(watchlist_id, None)
        self.snapshot = self._build()
        self._metrics.watchlist_reloads.inc()
        log.info(
            "watch lists reloaded",
            extra={"watchlist_ids": [w.watchlist_id for w in self.snapshot.watchlists]},
        )

    def _build(self) -> Snapshot:
        merged = {self._default.watchlist_id: self._default, **self._remote}
        active = tuple(w for _, w in sorted(merged.items()) if w.enabled)
        self._metrics.watchlists_active.set(len(active))
        if self._loaded:
            self._metrics.watchlist_label.register(w.watchlist_id for w in active)
        weights = {w.watchlist_id: term_weights(w) for w in active}
        return Snapshot(build_matcher(active), active, weights)

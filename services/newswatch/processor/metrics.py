"""Every metric of the processor, built once from an injected registry.

=================================================  =========  =============================================
name                                               type       labels
=================================================  =========  =============================================
newswatch_processor_articles_total                 counter    outcome: processed | duplicate | invalid |
                                                              failed  (duplicate = same article_id again)
newswatch_processor_matches_total                  counter    kind: organisation | place | person |
                                                              keyword; watchlist (see below)
newswatch_processor_places_total                   counter    -
newswatch_processor_alerts_total                   counter    watchlist  (alerts published)
newswatch_processor_alerts_suppressed_total        counter    watchlist  (near-duplicates of an article
                                                              already alerted for that list)
newswatch_processor_near_duplicates_total          counter    match: exact | similar  (articles that joined
                                                              an earlier article's cluster)
newswatch_processor_neardup_index_articles         gauge      -  (articles in the near-duplicate index)
newswatch_processor_neardup_evictions_total        counter    reason: expired | capacity
newswatch_processor_neardup_invalid_records_total  counter    -  (changelog records that did not parse)
newswatch_processor_seen_articles                  gauge      -  (article ids remembered to drop repeats)
newswatch_processor_seen_invalid_records_total     counter    -  (seen-table changelog records skipped)
newswatch_processor_processing_duration_seconds    histogram  -  (decode to outputs acknowledged)
newswatch_processor_batch_articles                 histogram  -  (raw messages handled together)
newswatch_processor_consumer_lag_records           gauge      -  (records of newswatch.articles.raw.v1 on
                                                              this worker's partitions not processed yet)
newswatch_processor_dlq_messages_total             counter    reason: invalid_message | processing_error
newswatch_processor_watchlist_reloads_total        counter    -
newswatch_processor_watchlist_errors_total         counter    -  (watch lists on Kafka that were refused)
newswatch_processor_watchlists_active              gauge      -
newswatch_processor_enrich_pool_articles_total     counter    -  (articles the enrichment processes enriched)
newswatch_processor_enrich_pool_failures_total     counter    -  (chunks of a batch the enrichment processes
                                                              did not enrich; the worker enriched them)
newswatch_processor_enrich_worker_share_ratio      gauge      -  (share of a batch the worker enriches itself
                                                              beside its enrichment processes; 1 without)
=================================================  =========  =============================================

``watchlist`` labels are bounded: the first :data:`MAX_WATCHLIST_LABELS` watch-list ids the worker
loads (the default list first, then the lists on Kafka in id order) keep their id as label value for
the life of the process; later ones, and ids that are not short ``[a-z0-9_-]`` names, count under
``other``. Every series of a label value starts at zero when the value is assigned.

Faust's own sensors are not exported here (their names use ``_ms``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = [
    "ARTICLE_OUTCOMES",
    "DLQ_REASONS",
    "EVICTION_REASONS",
    "MATCH_KINDS",
    "MAX_WATCHLIST_LABELS",
    "NEAR_DUPLICATE_MATCHES",
    "OTHER_WATCHLIST",
    "ProcessorMetrics",
    "WatchlistLabels",
]

ARTICLE_OUTCOMES = ("processed", "duplicate", "invalid", "failed")
MATCH_KINDS = ("organisation", "place", "person", "keyword")
DLQ_REASONS = ("invalid_message", "processing_error")
NEAR_DUPLICATE_MATCHES = ("exact", "similar")
EVICTION_REASONS = ("expired", "capacity")
MAX_WATCHLIST_LABELS = 20
OTHER_WATCHLIST = "other"
_LABEL_SAFE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")
_PREFIX = "newswatch_processor"


class WatchlistLabels:
    """Maps watch-list ids to a bounded set of label values (see the module docstring)."""

    def __init__(self, limit: int, on_new: Callable[[str], None]) -> None:
        self._limit = limit
        self._on_new = on_new
        self._assigned: set[str] = set()
        on_new(OTHER_WATCHLIST)

    def register(self, watchlist_ids: Iterable[str]) -> None:
        """Give the ids their own label value while there is room (called when watch lists load)."""
        for watchlist_id in watchlist_ids:
            self(watchlist_id)

    def __call__(self, watchlist_id: str) -> str:
        if watchlist_id in self._assigned:
            return watchlist_id
        if len(self._assigned) >= self._limit or not _LABEL_SAFE.match(watchlist_id):
            return OTHER_WATCHLIST
        self._assigned.add(watchlist_id)
        self._on_new(watchlist_id)
        return watchlist_id


class ProcessorMetrics:
    """The processor's metrics; every labelled series starts at zero."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.articles = Counter(
            f"{_PREFIX}_articles", "Raw articles consumed, by outcome", ["outcome"], registry=registry
        )
        self.matches = Counter(
            f"{_PREFIX}_matches",
            "Watch-list term matches, by term kind and watch list",
            ["kind", "watchlist"],
            registry=registry,
        )
        self.places = Counter(f"{_PREFIX}_places", "Places tagged in articles", registry=registry)
        self.alerts = Counter(
            f"{_PREFIX}_alerts", "Alerts published, by watch list", ["watchlist"], registry=registry
        )
        self.alerts_suppressed = Counter(
            f"{_PREFIX}_alerts_suppressed",
            "Alerts not published because another article of the cluster was alerted for the list",
            ["watchlist"],
            registry=registry,
        )
        self.near_duplicates = Counter(
            f"{_PREFIX}_near_duplicates",
            "Articles found to be copies of an earlier article (exact text or similar text)",
            ["match"],
            registry=registry,
        )
        self.neardup_index_articles = Gauge(
            f"{_PREFIX}_neardup_index_articles", "Articles in the near-duplicate index", registry=registry
        )
        self.neardup_evictions = Counter(
            f"{_PREFIX}_neardup_evictions",
            "Articles dropped from the near-duplicate index, by reason",
            ["reason"],
            registry=registry,
        )
        self.neardup_invalid_records = Counter(
            f"{_PREFIX}_neardup_invalid_records",
            "Near-duplicate changelog records that did not parse (skipped)",
            registry=registry,
        )
        self.seen_articles = Gauge(
            f"{_PREFIX}_seen_articles",
            "Article ids remembered to drop raw articles processed before (bounded)",
            registry=registry,
        )
        self.seen_invalid_records = Counter(
            f"{_PREFIX}_seen_invalid_records",
            "Seen-table changelog records that did not parse (skipped)",
            registry=registry,
        )
        self.processing_duration = Histogram(
            f"{_PREFIX}_processing_duration_seconds",
            "Time from decoding a raw article to its outputs being acknowledged",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=registry,
        )
        self.batch_articles = Histogram(
            f"{_PREFIX}_batch_articles",
            "Raw messages handled together (one wait for their outputs)",
            buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500),
            registry=registry,
        )
        self.consumer_lag = Gauge(
            f"{_PREFIX}_consumer_lag_records",
            "Records of the raw-article partitions assigned to this worker not processed yet",
            registry=registry,
        )
        self.dlq_messages = Counter(
            f"{_PREFIX}_dlq_messages", "Messages sent to the dead-letter topic", ["reason"], registry=registry
        )
        self.watchlist_reloads = Counter(
            f"{_PREFIX}_watchlist_reloads", "Matcher rebuilds after a watch-list change", registry=registry
        )
        self.watchlist_errors = Counter(
            f"{_PREFIX}_watchlist_errors", "Watch lists on Kafka refused as invalid", registry=registry
        )
        self.watchlists_active = Gauge(
            f"{_PREFIX}_watchlists_active", "Enabled watch lists in the matcher", registry=registry
        )
        self.enrich_pool_articles = Counter(
            f"{_PREFIX}_enrich_pool_articles",
            "Articles enriched by the enrichment processes beside the worker",
            registry=registry,
        )
        self.enrich_worker_share = Gauge(
            f"{_PREFIX}_enrich_worker_share_ratio",
            "Share of each batch the worker enriches itself beside its enrichment processes (1 without them)",
            registry=registry,
        )
        self.enrich_worker_share.set(1.0)
        self.enrich_pool_failures = Counter(
            f"{_PREFIX}_enrich_pool_failures",
            "Chunks of a batch the enrichment processes did not enrich (the worker enriched them)",
            registry=registry,
        )
        for outcome in ARTICLE_OUTCOMES:
            self.articles.labels(outcome=outcome)
        for reason in DLQ_REASONS:
            self.dlq_messages.labels(reason=reason)
        for match in NEAR_DUPLICATE_MATCHES:
            self.near_duplicates.labels(match=match)
        for reason in EVICTION_REASONS:
            self.neardup_evictions.labels(reason=reason)
        # Labelled children, looked up once (labels() costs more than inc() on the hot path).
        self._outcomes = {o: self.articles.labels(outcome=o) for o in ARTICLE_OUTCOMES}
        self._matches: dict[tuple[str, str], Any] = {}
        self._alerts: dict[str, Any] = {}
        self._suppressed: dict[str, Any] = {}
        self.watchlist_label = WatchlistLabels(MAX_WATCHLIST_LABELS, self._new_watchlist_label)

    def _new_watchlist_label(self, label: str) -> None:
        for kind in MATCH_KINDS:
            self._matches[kind, label] = self.matches.labels(kind=kind, watchlist=label)
        self._alerts[label] = self.alerts.labels(watchlist=label)
        self._suppressed[label] = self.alerts_suppressed.labels(watchlist=label)

    def article(self, outcome: str, n: int = 1) -> None:
        self._outcomes[outcome].inc(n)

    def match(self, kind: str, watchlist_id: str, n: int = 1) -> None:
        kind = kind if kind in MATCH_KINDS else "keyword"
        self._matches[kind, self.watchlist_label(watchlist_id)].inc(n)

    def alert(self, watchlist_id: str, n: int = 1) -> None:
        self._alerts[self.watchlist_label(watchlist_id)].inc(n)

    def alert_suppressed(self, watchlist_id: str) -> None:
        self._suppressed[self.watchlist_label(watchlist_id)].inc()

    def evicted(self, reason: str) -> None:
        self.neardup_evictions.labels(reason=reason).inc()

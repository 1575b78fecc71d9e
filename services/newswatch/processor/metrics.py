"""Every metric of the processor, built once from an injected registry.

=================================================  =========  =============================================
name                                               type       labels
=================================================  =========  =============================================
newswatch_processor_articles_total                 counter    outcome: processed | duplicate | invalid |
                                                              failed
newswatch_processor_matches_total                  counter    kind: organisation | place | person | keyword
newswatch_processor_places_total                   counter    -
newswatch_processor_alerts_total                   counter    -
newswatch_processor_processing_duration_seconds    histogram  -  (decode to outputs acknowledged)
newswatch_processor_dlq_messages_total             counter    reason: invalid_message | processing_error
newswatch_processor_watchlist_reloads_total        counter    -
newswatch_processor_watchlist_errors_total         counter    -  (watch lists on Kafka that were refused)
newswatch_processor_watchlists_active              gauge      -
=================================================  =========  =============================================

Faust's own sensors are not exported here (their names use ``_ms``).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["ARTICLE_OUTCOMES", "DLQ_REASONS", "MATCH_KINDS", "ProcessorMetrics"]

ARTICLE_OUTCOMES = ("processed", "duplicate", "invalid", "failed")
MATCH_KINDS = ("organisation", "place", "person", "keyword")
DLQ_REASONS = ("invalid_message", "processing_error")
_PREFIX = "newswatch_processor"


class ProcessorMetrics:
    """The processor's metrics; every labelled series starts at zero."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.articles = Counter(
            f"{_PREFIX}_articles", "Raw articles consumed, by outcome", ["outcome"], registry=registry
        )
        self.matches = Counter(
            f"{_PREFIX}_matches", "Watch-list term matches, by term kind", ["kind"], registry=registry
        )
        self.places = Counter(f"{_PREFIX}_places", "Places tagged in articles", registry=registry)
        self.alerts = Counter(f"{_PREFIX}_alerts", "Alerts published", registry=registry)
        self.processing_duration = Histogram(
            f"{_PREFIX}_processing_duration_seconds",
            "Time from decoding a raw article to its outputs being acknowledged",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
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
        for outcome in ARTICLE_OUTCOMES:
            self.articles.labels(outcome=outcome)
        for kind in MATCH_KINDS:
            self.matches.labels(kind=kind)
        for reason in DLQ_REASONS:
            self.dlq_messages.labels(reason=reason)

    def match(self, kind: str) -> None:
        self.matches.labels(kind=kind if kind in MATCH_KINDS else "keyword").inc()

"""The topic catalogue: every topic newswatch reads or writes, declared once.

Names are part of the public interface (DESIGN.md). Keys and value types are listed beside each topic;
values are protobuf messages and every message carries a ``content-type`` header naming its type
(see :mod:`newswatch.contracts`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "ALERTS",
    "ALERTS_DLQ",
    "ALL_TOPICS",
    "ARTICLES_ENRICHED",
    "ARTICLES_RAW",
    "ARTICLES_RAW_DLQ",
    "DELIVERIES",
    "ENDPOINTS",
    "FEEDS",
    "POLLER_STATE",
    "SCHEDULE",
    "SUBSCRIPTIONS",
    "WATCHLISTS",
    "TopicSpec",
    "dlq_for",
]

_DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic: its name, what its key and value are, and its configuration."""

    name: str
    key: str
    value_type: str
    compacted: bool = False
    retention_ms: int = 7 * _DAY_MS
    # None = the service's NEWSWATCH_TOPIC_PARTITIONS
    partitions: int | None = None
    extra_config: dict[str, str] = field(default_factory=dict)

    def config(self) -> dict[str, str]:
        cfg = {"cleanup.policy": "compact" if self.compacted else "delete"}
        if not self.compacted:
            cfg["retention.ms"] = str(self.retention_ms)
        else:
            # Tombstones (removed feeds, subscriptions) stay a day so that slow readers see them.
            cfg["delete.retention.ms"] = str(_DAY_MS)
            cfg["min.cleanable.dirty.ratio"] = "0.1"
        cfg.update(self.extra_config)
        return cfg


FEEDS = TopicSpec("newswatch.feeds.v1", "feed_id", "newswatch.v1.Feed", compacted=True)
ARTICLES_RAW = TopicSpec(
    "newswatch.articles.raw.v1", "article_id", "newswatch.v1.Article", retention_ms=30 * _DAY_MS
)
ARTICLES_ENRICHED = TopicSpec(
    "newswatch.articles.enriched.v1",
    "article_id",
    "newswatch.v1.EnrichedArticle",
    retention_ms=30 * _DAY_MS,
)
ALERTS = TopicSpec("newswatch.alerts.v1", "article_id", "newswatch.v1.Alert", retention_ms=30 * _DAY_MS)
SUBSCRIPTIONS = TopicSpec(
    "newswatch.subscriptions.v1", "subscription_id", "newswatch.v1.Subscription", compacted=True
)
WATCHLISTS = TopicSpec("newswatch.watchlists.v1", "watchlist_id", "newswatch.v1.Watchlist", compacted=True)
DELIVERIES = TopicSpec(
    "newswatch.deliveries.v1", "alert_id", "newswatch.v1.DeliveryAttempt", retention_ms=30 * _DAY_MS
)
ALERTS_DLQ = TopicSpec("newswatch.alerts.dlq.v1", "alert_id", "newswatch.v1.Alert", retention_ms=30 * _DAY_MS)
ARTICLES_RAW_DLQ = TopicSpec(
    "newswatch.articles.raw.dlq.v1",
    "article_id",
    "bytes (the poison message as received)",
    retention_ms=30 * _DAY_MS,
)

POLLER_STATE = TopicSpec(
    "newswatch.poller.state.v1", "feed_id", "newswatch.v1.PollState (internal to the pollers)", compacted=True
)

# The alerter's durable schedule: retries, deferred (digest / quiet hours / rate limit) and replayed
# deliveries waiting for their time. Latest value per delivery id; a tombstone settles it. Compacted and
# time-limited: the longest retry schedule is bounded by the settings (each delay at most 7 days).
SCHEDULE = TopicSpec(
    "newswatch.alerter.schedule.v1",
    "delivery_id",
    "newswatch.v1.ScheduledDelivery (internal to the alerter)",
    compacted=True,
    extra_config={"cleanup.policy": "compact,delete", "retention.ms": str(30 * _DAY_MS)},
)
# Endpoint health per subscription (healthy / failing since / disabled), written on state changes.
ENDPOINTS = TopicSpec(
    "newswatch.alerter.endpoints.v1",
    "subscription_id",
    "newswatch.v1.EndpointHealth (internal to the alerter)",
    compacted=True,
)

ALL_TOPICS: tuple[TopicSpec, ...] = (
    FEEDS,
    ARTICLES_RAW,
    ARTICLES_ENRICHED,
    ALERTS,
    SUBSCRIPTIONS,
    WATCHLISTS,
    DELIVERIES,
    ALERTS_DLQ,
    ARTICLES_RAW_DLQ,
    POLLER_STATE,
    SCHEDULE,
    ENDPOINTS,
)


def dlq_for(topic: TopicSpec) -> TopicSpec:
    """The dead-letter topic of a consumed topic: ``newswatch.<name>.dlq.v1``."""
    for spec in ALL_TOPICS:
        if spec.name == topic.name.removesuffix(".v1") + ".dlq.v1":
            return spec
    raise KeyError(f"no dead-letter topic declared for {topic.name}")

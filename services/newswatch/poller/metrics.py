"""Every poller metric, declared once and built from an injected registry.

=====================================================  =========  ==========================================
name                                                   type       labels / meaning
=====================================================  =========  ==========================================
newswatch_poller_fetches_total                         counter    outcome: ok, not_modified, http_error,
                                                                  rate_limited, timeout, connection_error,
                                                                  too_large, too_many_redirects, refused,
                                                                  empty
newswatch_poller_fetch_duration_seconds                histogram  one fetch, any outcome
newswatch_poller_fetched_bytes_total                   counter    bytes received (before decompression)
newswatch_poller_parses_skipped_total                  counter    bodies identical to the last one handled
newswatch_poller_parse_duration_seconds                histogram  one parse (in a worker thread)
newswatch_poller_parse_errors_total                    counter    reason: hostile, empty, not_a_feed,
                                                                  too_many_entries
newswatch_poller_articles_published_total              counter    articles delivered to articles.raw
newswatch_poller_articles_unchanged_total              counter    entries already published (poll state)
newswatch_poller_publish_errors_total                  counter    articles Kafka did not accept
newswatch_poller_feeds                                 gauge      state: ok, degraded, failing
newswatch_poller_checks_in_flight                      gauge      feed checks running now
newswatch_poller_oldest_success_age_seconds            gauge      time since the least recent successful
                                                                  check of a scheduled feed (counted from
                                                                  when it was scheduled until its first
                                                                  success); 0 without feeds
newswatch_poller_stale_feeds                           gauge      scheduled feeds with no successful check
                                                                  for STALE_AFTER_INTERVALS (3) of their
                                                                  intervals (see scheduler.interval_for)
newswatch_poller_scheduler_lag_seconds                 histogram  check start minus due time
newswatch_poller_assigned_partitions                   gauge      feeds-topic partitions this poller owns
newswatch_poller_rebalances_total                      counter    assignments received from the group
newswatch_poller_interval_seconds                      histogram  interval chosen after a successful check
                                                                  (before jitter; see scheduler.interval_for)
newswatch_poller_network_down                          gauge      1 while this poller considers itself offline
                                                                  (see outage.is_offline), else 0
newswatch_poller_feed_writes_total                     counter    reason: health, redirect; outcome: ok,
                                                                  failed — Feed records written back to
                                                                  newswatch.feeds.v1 (a write for both
                                                                  reasons counts as redirect)
newswatch_poller_host_wait_seconds                     histogram  time a fetch waited for its host's slot
                                                                  (per-host pacing, see hostpace)
newswatch_poller_fulltext_pages_total                  counter    outcome: ok, fetch_failed, not_html,
                                                                  no_text, over_cap — article pages
                                                                  fetched for full-text feeds
newswatch_poller_fulltext_extract_duration_seconds     histogram  one main-text extraction (worker thread)
newswatch_poller_state_writes_total                    counter    outcome: ok, failed — poll state written
                                                                  to newswatch.poller.state.v1
newswatch_poller_websub_subscriptions                  gauge      state: pending, active — hub subscriptions
newswatch_poller_websub_requests_total                 counter    mode: subscribe, unsubscribe; outcome:
                                                                  accepted, failed — requests to hubs
newswatch_poller_websub_verifications_total            counter    outcome: confirmed, refused, denied — hub
                                                                  intent verifications answered (denied: the
                                                                  hub refused a subscription)
newswatch_poller_websub_pushes_total                   counter    outcome: accepted, bad_signature,
                                                                  unknown_feed, too_large, failed —
                                                                  content pushed by hubs, each counted
                                                                  once (accepted when deliver returned;
                                                                  see websub_server)
=====================================================  =========  ==========================================
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from newswatch.poller.fetcher import FETCH_OUTCOMES
from newswatch.poller.parser import PARSE_ERROR_REASONS

__all__ = [
    "FEED_STATES",
    "FEED_WRITE_OUTCOMES",
    "FEED_WRITE_REASONS",
    "FULLTEXT_OUTCOMES",
    "STATE_WRITE_OUTCOMES",
    "WEBSUB_PUSH_OUTCOMES",
    "WEBSUB_REQUEST_MODES",
    "WEBSUB_REQUEST_OUTCOMES",
    "WEBSUB_STATES",
    "WEBSUB_VERIFICATION_OUTCOMES",
    "PollerMetrics",
]

FEED_STATES: tuple[str, ...] = ("ok", "degraded", "failing")
FEED_WRITE_REASONS: tuple[str, ...] = ("health", "redirect")
FEED_WRITE_OUTCOMES: tuple[str, ...] = ("ok", "failed")
FULLTEXT_OUTCOMES: tuple[str, ...] = ("ok", "fetch_failed", "not_html", "no_text", "over_cap")
STATE_WRITE_OUTCOMES: tuple[str, ...] = ("ok", "failed")
WEBSUB_STATES: tuple[str, ...] = ("pending", "active")
WEBSUB_REQUEST_MODES: tuple[str, ...] = ("subscribe", "unsubscribe")
WEBSUB_REQUEST_OUTCOMES: tuple[str, ...] = ("accepted", "failed")
WEBSUB_VERIFICATION_OUTCOMES: tuple[str, ...] = ("confirmed", "refused", "denied")
WEBSUB_PUSH_OUTCOMES: tuple[str, ...] = ("accepted", "bad_signature", "unknown_feed", "too_large", "failed")
_PREFIX = "newswatch_poller_"


class PollerMetrics:
    """The poller's metrics in ``registry``; every labelled series starts at zero."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.fetches = Counter(
            _PREFIX + "fetches_total", "Feed fetches by outcome", ["outcome"], registry=registry
        )
        self.fetch_duration = Histogram(
            _PREFIX + "fetch_duration_seconds",
            "Duration of one feed fetch",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=registry,
        )
        self.fetched_bytes = Counter(
            _PREFIX + "fetched_bytes_total",
            "Bytes received from feeds before decompression",
            registry=registry,
        )
        self.parses_skipped = Counter(
            _PREFIX + "parses_skipped_total", "Bodies not parsed because unchanged", registry=registry
        )
        self.parse_duration = Histogram(
            _PREFIX + "parse_duration_seconds",
            "Duration of one feed parse",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=registry,
        )
        self.parse_errors = Counter(
            _PREFIX + "parse_errors_total", "Bodies refused by the parser", ["reason"], registry=registry
        )
        self.articles_published = Counter(
            _PREFIX + "articles_published_total", "Articles delivered to Kafka", registry=registry
        )
        self.articles_unchanged = Counter(
            _PREFIX + "articles_unchanged_total",
            "Entries already published (remembered in the poll state)",
            registry=registry,
        )
        self.publish_errors = Counter(
            _PREFIX + "publish_errors_total", "Articles Kafka did not accept", registry=registry
        )
        self.feeds = Gauge(_PREFIX + "feeds", "Scheduled feeds by health", ["state"], registry=registry)
        self.checks_in_flight = Gauge(
            _PREFIX + "checks_in_flight", "Feed checks running now", registry=registry
        )
        self.oldest_success_age = Gauge(
            _PREFIX + "oldest_success_age_seconds",
            "Seconds since the least recent successful check of a scheduled feed (0 without feeds)",
            registry=registry,
        )
        self.stale_feeds = Gauge(
            _PREFIX + "stale_feeds",
            "Scheduled feeds with no successful check for three of their intervals",
            registry=registry,
        )
        self.scheduler_lag = Histogram(
            _PREFIX + "scheduler_lag_seconds",
            "Start of a feed check minus the time it was due",
            buckets=(0.01, 0.1, 0.5, 1, 5, 15, 60, 300),
            registry=registry,
        )
        self.interval = Histogram(
            _PREFIX + "interval_seconds",
            "Interval until the next check chosen after a successful check, before jitter",
            buckets=(1, 10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400),
            registry=registry,
        )
        self.assigned_partitions = Gauge(
            _PREFIX + "assigned_partitions",
            "Partitions of the feeds topic assigned to this poller by its consumer group",
            registry=registry,
        )
        self.rebalances = Counter(
            _PREFIX + "rebalances_total",
            "Partition assignments received from the pollers' consumer group",
            registry=registry,
        )
        self.network_down = Gauge(
            _PREFIX + "network_down",
            "1 while this poller considers itself offline (most feeds failing at the network level)",
            registry=registry,
        )
        self.feed_writes = Counter(
            _PREFIX + "feed_writes_total",
            "Feed records written back to the feeds topic (health, permanent redirects) by outcome",
            ["reason", "outcome"],
            registry=registry,
        )
        self.host_wait = Histogram(
            _PREFIX + "host_wait_seconds",
            "Time a fetch waited for its host's pacing slot before starting",
            buckets=(0.001, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300),
            registry=registry,
        )
        self.fulltext_pages = Counter(
            _PREFIX + "fulltext_pages_total",
            "Article pages fetched for full-text feeds, by outcome",
            ["outcome"],
            registry=registry,
        )
        self.fulltext_extract_duration = Histogram(
            _PREFIX + "fulltext_extract_duration_seconds",
            "Duration of one main-text extraction from an article page",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=registry,
        )
        self.state_writes = Counter(
            _PREFIX + "state_writes_total",
            "Poll state records written to newswatch.poller.state.v1, by outcome",
            ["outcome"],
            registry=registry,
        )
        self.websub_subscriptions = Gauge(
            _PREFIX + "websub_subscriptions",
            "WebSub hub subscriptions by state",
            ["state"],
            registry=registry,
        )
        self.websub_requests = Counter(
            _PREFIX + "websub_requests_total",
            "Subscription requests sent to WebSub hubs, by mode and outcome",
            ["mode", "outcome"],
            registry=registry,
        )
        self.websub_verifications = Counter(
            _PREFIX + "websub_verifications_total",
            "WebSub intent verifications answered, by outcome",
            ["outcome"],
            registry=registry,
        )
        self.websub_pushes = Counter(
            _PREFIX + "websub_pushes_total",
            "Content distributions pushed by WebSub hubs, by outcome",
            ["outcome"],
            registry=registry,
        )
        for outcome in FULLTEXT_OUTCOMES:
            self.fulltext_pages.labels(outcome=outcome)
        for outcome in STATE_WRITE_OUTCOMES:
            self.state_writes.labels(outcome=outcome)
        for state in WEBSUB_STATES:
            self.websub_subscriptions.labels(state=state).set(0)
        for mode in WEBSUB_REQUEST_MODES:
            for outcome in WEBSUB_REQUEST_OUTCOMES:
                self.websub_requests.labels(mode=mode, outcome=outcome)
        for outcome in WEBSUB_VERIFICATION_OUTCOMES:
            self.websub_verifications.labels(outcome=outcome)
        for outcome in WEBSUB_PUSH_OUTCOMES:
            self.websub_pushes.labels(outcome=outcome)
        for reason in FEED_WRITE_REASONS:
            for outcome in FEED_WRITE_OUTCOMES:
                self.feed_writes.labels(reason=reason, outcome=outcome)
        for outcome in FETCH_OUTCOMES:
            self.fetches.labels(outcome=outcome)
        for reason in PARSE_ERROR_REASONS:
            self.parse_errors.labels(reason=reason)
        for state in FEED_STATES:
            self.feeds.labels(state=state).set(0)

"""Every alerter metric, declared once and built on an injected registry.

Label values come from closed sets (:data:`CHANNELS`, :data:`OUTCOMES`, :data:`DLQ_REASONS`,
:data:`API_ROUTES`, :data:`API_STATUSES`); every series
is created at zero so that dashboards and rate() see it before the first event.

==========================================================  ==========  ======================================
name                                                        type        meaning
==========================================================  ==========  ======================================
newswatch_alerter_alerts_consumed_total                     counter     records read from newswatch.alerts.v1
newswatch_alerter_consumer_lag_records                      gauge       assigned alerts records not read yet
newswatch_alerter_deliveries_total{channel,outcome}         counter     delivery attempts by outcome
newswatch_alerter_delivery_duration_seconds{channel}        histogram   time of one delivery attempt
newswatch_alerter_retries_total{channel}                    counter     attempts scheduled after a failure
newswatch_alerter_dlq_messages_total{reason}                counter     messages put on the alerts DLQ
newswatch_alerter_fanout_lag_seconds                        histogram   alert created_at → delivered
newswatch_alerter_subscriptions                             gauge       subscriptions currently known
newswatch_alerter_deliveries_in_flight                      gauge       deliveries being attempted right now
newswatch_alerter_duplicates_suppressed_total               counter     deliveries skipped: already delivered
newswatch_alerter_commit_failures_total                     counter     offset commits the broker refused
newswatch_alerter_unusable_subscriptions_total              counter     deliveries skipped: no known channel
newswatch_alerter_api_requests_total{route,status}          counter     HTTP API requests answered
newswatch_alerter_stream_clients                            gauge       Server-Sent Events clients connected
newswatch_alerter_stream_events_total                       counter     alert events written to SSE clients
newswatch_alerter_stream_clients_dropped_total{reason}      counter     SSE clients cut off by the alerter
newswatch_alerter_scheduled_deliveries{kind}                gauge       waiting on the schedule topic
newswatch_alerter_deferred_total{reason}                    counter     alerts held back by a delivery policy
newswatch_alerter_digests_total{channel}                    counter     digests delivered
newswatch_alerter_scheduled_dropped_total{reason}           counter     scheduled deliveries dropped
newswatch_alerter_dlq_depth                                 gauge       dead letters not since settled
newswatch_alerter_endpoints{state}                          gauge       subscriptions by endpoint state
newswatch_alerter_endpoints_disabled_total                  counter     endpoints disabled (failing too long)
newswatch_alerter_console_article_lookups_total{outcome}    counter     console article lookups by outcome
==========================================================  ==========  ======================================
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = [
    "API_ROUTES",
    "API_STATUSES",
    "ARTICLE_LOOKUP_OUTCOMES",
    "CHANNELS",
    "DEFER_REASONS",
    "DLQ_REASONS",
    "DROP_REASONS",
    "ENDPOINT_STATES",
    "OUTCOMES",
    "SCHEDULED_KINDS",
    "STREAM_DROP_REASONS",
    "AlerterMetrics",
]

CHANNELS = ("webhook", "slack", "email", "console", "stream")
OUTCOMES = ("delivered", "retrying", "failed", "rejected")
# invalid_message: the record does not decode; delivery_rejected: a receiver refused it for good;
# delivery_failed: every attempt failed.
# subscription_disabled: a retry or deferred alert came due for a subscription that is now disabled.
DLQ_REASONS = ("invalid_message", "delivery_rejected", "delivery_failed", "subscription_disabled")
# Schedule-topic entries: retry after a failure, held by a policy, re-sent from the DLQ.
SCHEDULED_KINDS = ("retry", "deferred", "replay")
# Why an alert was held back instead of delivered at once.
DEFER_REASONS = ("rate_limit", "digest", "quiet_hours")
# Why a scheduled delivery was dropped without a dead letter.
DROP_REASONS = ("subscription_removed", "already_delivered", "invalid_entry")
ENDPOINT_STATES = ("healthy", "failing", "disabled")
# HTTP API: route templates (never the path itself: it holds ids) and the statuses the API answers with;
# anything else is counted as "other".
API_ROUTES = (
    "/openapi.json",
    "/v1/subscriptions",
    "/v1/subscriptions/{id}",
    "/v1/subscriptions/{id}/stream",
    "/v1/alerts/stream",
    "/v1/alerts/recent",
    "/v1/alerts/{id}",
    "/v1/feeds",
    "/",
    "/console/",
    "/console/{name}",
    "other",
)
# Why an event-stream client was cut off.
STREAM_DROP_REASONS = ("slow_client", "shutdown")
API_STATUSES = ("200", "201", "204", "302", "400", "401", "404", "405", "413", "415", "500", "503", "other")

# How a console lookup of an alert's article text ended (found on the topic, from the cache, not found
# in the records read, out of time, broker error).
ARTICLE_LOOKUP_OUTCOMES = ("found", "cached", "not_found", "timeout", "error")

_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


class AlerterMetrics:
    """The alerter's metrics on ``registry`` (a fresh one per test)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        ns, sub = "newswatch", "alerter"
        self.alerts_consumed = Counter(
            "alerts_consumed",
            "Records read from newswatch.alerts.v1",
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.consumer_lag = Gauge(
            "consumer_lag",
            "Records of the alerts partitions assigned to this alerter not read yet",
            namespace=ns,
            subsystem=sub,
            unit="records",
            registry=registry,
        )
        self.deliveries = Counter(
            "deliveries",
            "Delivery attempts by channel and outcome",
            ["channel", "outcome"],
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.delivery_duration = Histogram(
            "delivery_duration",
            "Duration of one delivery attempt",
            ["channel"],
            namespace=ns,
            subsystem=sub,
            unit="seconds",
            buckets=_DURATION_BUCKETS,
            registry=registry,
        )
        self.retries = Counter(
            "retries",
            "Delivery attempts scheduled after a retriable failure",
            ["channel"],
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.dlq_messages = Counter(
            "dlq_messages",
            "Messages published to newswatch.alerts.dlq.v1",
            ["reason"],
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.fanout_lag = Histogram(
            "fanout_lag",
            "Time from an alert's created_at to its delivery",
            namespace=ns,
            subsystem=sub,
            unit="seconds",
            buckets=_LAG_BUCKETS,
            registry=registry,
        )
        self.subscriptions = Gauge(
            "subscriptions",
            "Subscriptions currently known",
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.in_flight = Gauge(
            "deliveries_in_flight",
            "Deliveries being attempted right now",
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.duplicates_suppressed = Counter(
            "duplicates_suppressed",
            "Deliveries skipped because this process already delivered them",
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.commit_failures = Counter(
            "commit_failures",
            "Offset commits the broker refused (the records will be read again)",
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.unusable_subscriptions = Counter(
            "unusable_subscriptions",
            "Deliveries skipped because the subscription names no known channel",
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.api_requests = Counter(
            "api_requests",
            "HTTP API requests answered, by route template and status",
            ["route", "status"],
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.stream_clients = Gauge(
            "stream_clients",
            "Server-Sent Events clients connected",
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.stream_events = Counter(
            "stream_events",
            "Alert events written to Server-Sent Events clients",
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.stream_clients_dropped = Counter(
            "stream_clients_dropped",
            "Server-Sent Events clients cut off by the alerter",
            ["reason"],
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.scheduled = Gauge(
            "scheduled_deliveries",
            "Deliveries waiting on newswatch.alerter.schedule.v1 in this process, by kind",
            ["kind"],
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.deferred = Counter(
            "deferred",
            "Alerts held back by a subscription's delivery policy, by reason",
            ["reason"],
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.digests = Counter(
            "digests",
            "Digests delivered (several alerts in one channel call)",
            ["channel"],
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.scheduled_dropped = Counter(
            "scheduled_dropped",
            "Scheduled deliveries given up without a dead letter, by reason",
            ["reason"],
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.dlq_depth = Gauge(
            "dlq_depth",
            "Dead letters on newswatch.alerts.dlq.v1 not since delivered or replayed",
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.endpoints = Gauge(
            "endpoints",
            "Subscriptions by endpoint state",
            ["state"],
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.endpoints_disabled = Counter(
            "endpoints_disabled",
            "Endpoints disabled after failing every delivery for endpoint_disable_after_seconds",
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.console_article_lookups = Counter(
            "console_article_lookups",
            "Console lookups of an alert's article text on newswatch.articles.enriched.v1, by outcome",
            ["outcome"],
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        for outcome in ARTICLE_LOOKUP_OUTCOMES:
            self.console_article_lookups.labels(outcome=outcome)
        for kind in SCHEDULED_KINDS:
            self.scheduled.labels(kind=kind)
        for reason in DEFER_REASONS:
            self.deferred.labels(reason=reason)
        for reason in DROP_REASONS:
            self.scheduled_dropped.labels(reason=reason)
        for state in ENDPOINT_STATES:
            self.endpoints.labels(state=state)
        for reason in STREAM_DROP_REASONS:
            self.stream_clients_dropped.labels(reason=reason)
        for route in API_ROUTES:
            for status in API_STATUSES:
                self.api_requests.labels(route=route, status=status)
        for channel in CHANNELS:
            self.delivery_duration.labels(channel=channel)
            self.retries.labels(channel=channel)
            self.digests.labels(channel=channel)
            for outcome in OUTCOMES:
                self.deliveries.labels(channel=channel, outcome=outcome)
        for reason in DLQ_REASONS:
            self.dlq_messages.labels(reason=reason)

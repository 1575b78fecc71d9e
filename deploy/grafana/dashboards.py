"""The newswatch Grafana dashboards as code: ``.venv/bin/python deploy/grafana/dashboards.py`` writes
``deploy/grafana/dashboards/<name>.json`` (overview, poller, processor, alerter); ``--check`` exits 1 when
the files on disk differ from what this script produces (a test runs the same comparison).

Every panel queries the data source chosen in the ``datasource`` variable (provisioned uid
``prometheus``); counters are read with ``rate()`` / ``increase()`` over ``$__rate_interval`` (Grafana's
window, at least four scrape intervals) and latencies with ``histogram_quantile()`` over the ``_bucket``
series. Metric names are those of ``services/newswatch/*/metrics.py`` (README, "Metrics"). Layout: panels
flow left to right in rows of 24 grid units; a row header starts each group.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DASHBOARDS", "OUT_DIR", "Board", "Panel", "main", "render"]

OUT_DIR = Path(__file__).resolve().parent / "dashboards"
SCHEMA_VERSION = 39
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RATE = "$__rate_interval"
TAG = "newswatch"

Json = dict[str, Any]


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    """One panel: ``kind`` is ``timeseries`` or ``stat``; ``unit`` is a Grafana unit id."""

    title: str
    queries: tuple[Query, ...]
    unit: str
    description: str = ""
    kind: str = "timeseries"
    width: int = 8
    height: int = 8
    stack: bool = False
    thresholds: tuple[tuple[str, float | None], ...] = (("green", None),)
    max_value: float | None = None


def ts(title: str, unit: str, description: str, *queries: Query, **kw: Any) -> Panel:
    return Panel(title, tuple(queries), unit, description, **kw)


def stat(title: str, unit: str, description: str, query: Query, **kw: Any) -> Panel:
    kw.setdefault("width", 4)
    kw.setdefault("height", 4)
    return Panel(title, (query,), unit, description, kind="stat", **kw)


def q(expr: str, legend: str = "") -> Query:
    return Query(expr, legend)


def rate(metric: str, by: str = "", selector: str = "") -> str:
    """``sum [by (labels)] (rate(metric{selector}[$__rate_interval]))``."""
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (rate({metric}{selector}[{RATE}]))"


def quantile(phi: float, histogram: str, by: str = "") -> str:
    """The ``phi`` quantile of a histogram over the rate window, kept apart by ``by`` labels."""
    labels = f"{by}, le" if by else "le"
    return f"histogram_quantile({phi}, sum by ({labels}) (rate({histogram}_bucket[{RATE}])))"


def percentiles(histogram: str, by: str = "") -> tuple[Query, ...]:
    prefix = f"{{{{{by}}}}} " if by else ""
    return tuple(q(quantile(p, histogram, by), f"{prefix}p{round(p * 100)}") for p in (0.5, 0.95, 0.99))


@dataclass
class Board:
    """A dashboard being laid out: rows of panels, ids and grid positions assigned in order."""

    uid: str
    title: str
    description: str
    panels: list[Json] = field(default_factory=list)
    _x: int = 0
    _y: int = 0
    _row_height: int = 0

    def row(self, title: str) -> None:
        self._newline()
        self.panels.append(
            {
                "id": len(self.panels) + 1,
                "type": "row",
                "title": title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": self._y},
                "panels": [],
            }
        )
        self._y += 1

    def add(self, *panels: Panel) -> None:
        for panel in panels:
            if self._x + panel.width > 24:
                self._newline()
            grid = {"h": panel.height, "w": panel.width, "x": self._x, "y": self._y}
            self.panels.append(_panel_json(len(self.panels) + 1, panel, grid))
            self._x += panel.width
            self._row_height = max(self._row_height, panel.height)

    def _newline(self) -> None:
        self._y += self._row_height
        self._x = 0
        self._row_height = 0

    def json(self) -> Json:
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": [TAG],
            "timezone": "browser",
            "editable": True,
            "graphTooltip": 1,
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "refresh": "30s",
            "time": {"from": "now-6h", "to": "now"},
            "fiscalYearStartMonth": 0,
            "liveNow": False,
            "weekStart": "",
            "annotations": {
                "list": [
                    {
                        "builtIn": 1,
                        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                        "enable": True,
                        "hide": True,
                        "iconColor": "rgba(0, 211, 255, 1)",
                        "name": "Annotations & Alerts",
                        "type": "dashboard",
                    }
                ]
            },
            "links": [
                {
                    "title": "newswatch dashboards",
                    "type": "dashboards",
                    "tags": [TAG],
                    "asDropdown": True,
                    "includeVars": True,
                    "keepTime": True,
                    "icon": "external link",
                    "targetBlank": False,
                    "tooltip": "",
                    "url": "",
                }
            ],
            "templating": {
                "list": [
                    {
                        "name": "datasource",
                        "label": "Data source",
                        "type": "datasource",
                        "query": "prometheus",
                        "current": {"selected": False, "text": "Prometheus", "value": "prometheus"},
                        "hide": 0,
                        "includeAll": False,
                        "multi": False,
                        "options": [],
                        "refresh": 1,
                        "regex": "",
                        "skipUrlSync": False,
                    }
                ]
            },
            "panels": self.panels,
        }


def _panel_json(panel_id: int, panel: Panel, grid: Json) -> Json:
    defaults: Json = {
        "unit": panel.unit,
        "min": 0,
        "color": {"mode": "palette-classic" if panel.kind == "timeseries" else "thresholds"},
        "thresholds": {
            "mode": "absolute",
            "steps": [{"color": color, "value": value} for color, value in panel.thresholds],
        },
        "mappings": [],
    }
    if panel.max_value is not None:
        defaults["max"] = panel.max_value
    options: Json
    if panel.kind == "timeseries":
        defaults["custom"] = {
            "drawStyle": "line",
            "lineInterpolation": "linear",
            "lineWidth": 1,
            "fillOpacity": 25 if panel.stack else 10,
            "gradientMode": "none",
            "showPoints": "never",
            "spanNulls": False,
            "axisPlacement": "auto",
            "axisLabel": "",
            "stacking": {"mode": "normal" if panel.stack else "none", "group": "A"},
            "thresholdsStyle": {"mode": "off"},
        }
        options = {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True, "calcs": []},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    else:
        options = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
            "justifyMode": "auto",
            "orientation": "auto",
            "textMode": "auto",
            "wideLayout": True,
            "showPercentChange": False,
        }
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": grid,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "datasource": DATASOURCE,
                "expr": query.expr,
                "legendFormat": query.legend or "__auto",
                "range": True,  # stat panels too: their sparkline
                "instant": False,
            }
            for i, query in enumerate(panel.queries)
        ],
    }


FETCH_ERROR_RATIO = (
    rate("newswatch_poller_fetches_total", selector='{outcome!~"ok|not_modified"}')
    + " / "
    + rate("newswatch_poller_fetches_total")
)
DELIVERY_FAILURE_RATIO = (
    rate("newswatch_alerter_deliveries_total", "channel", '{outcome!="delivered"}')
    + " / "
    + rate("newswatch_alerter_deliveries_total", "channel")
)
RED_AT_1 = (("green", None), ("red", 1.0))
AMBER_RED = (("green", None), ("orange", 0.05), ("red", 0.25))


# --- overview ---------------------------------------------------------------------------------------
def overview() -> Board:
    b = Board(
        "newswatch-overview",
        "newswatch / overview",
        "The pipeline at a glance: feeds → raw articles → processed articles → alerts → deliveries.",
    )
    b.row("Health")
    b.add(
        stat(
            "Services up",
            "short",
            "Scrape targets of the three services that answer (3 when poller, processor and alerter run).",
            q('sum(up{job=~"newswatch-.*"})'),
            thresholds=(("red", None), ("orange", 1.0), ("green", 3.0)),
        ),
        stat(
            "Feeds ok",
            "short",
            "Scheduled feeds whose last check succeeded.",
            q('sum(newswatch_poller_feeds{state="ok"})'),
        ),
        stat(
            "Feeds failing",
            "short",
            "Feeds that failed their last checks (failing_after in a row).",
            q('sum(newswatch_poller_feeds{state="failing"})'),
            thresholds=RED_AT_1,
        ),
        stat(
            "Stale feeds",
            "short",
            "Feeds with no successful check for three of their intervals.",
            q("sum(newswatch_poller_stale_feeds)"),
            thresholds=RED_AT_1,
        ),
        stat(
            "Processor lag",
            "short",
            "Raw articles waiting for the processor.",
            q("sum(newswatch_processor_consumer_lag_records)"),
            thresholds=(("green", None), ("orange", 100.0), ("red", 1000.0)),
        ),
        stat(
            "Alerts DLQ depth",
            "short",
            "Dead letters on newswatch.alerts.dlq.v1 not since delivered or replayed.",
            q("sum(newswatch_alerter_dlq_depth)"),
            thresholds=RED_AT_1,
        ),
    )
    b.row("Throughput")
    b.add(
        ts(
            "Pipeline throughput",
            "ops",
            "Articles published by the pollers, consumed by the processor, alerts published and delivered.",
            q(rate("newswatch_poller_articles_published_total"), "articles published"),
            q(
                rate("newswatch_processor_articles_total", selector='{outcome="processed"}'),
                "articles processed",
            ),
            q(rate("newswatch_processor_alerts_total"), "alerts published"),
            q(
                rate("newswatch_alerter_deliveries_total", selector='{outcome="delivered"}'),
                "alerts delivered",
            ),
            width=12,
        ),
        ts(
            "Alerts by watch list",
            "ops",
            "Alerts the processor published, per watch list.",
            q(rate("newswatch_processor_alerts_total", "watchlist"), "{{watchlist}}"),
            width=12,
            stack=True,
        ),
        ts(
            "Consumer lag",
            "short",
            "Records not yet read by the processor (raw articles) and the alerter (alerts).",
            q("sum by (instance) (newswatch_processor_consumer_lag_records)", "processor {{instance}}"),
            q("sum by (instance) (newswatch_alerter_consumer_lag_records)", "alerter {{instance}}"),
        ),
        ts(
            "Alert latency",
            "s",
            "From an alert's creation to its delivery (alerter fan-out lag).",
            *percentiles("newswatch_alerter_fanout_lag_seconds"),
        ),
        ts(
            "Errors",
            "ops",
            "Failed fetches, articles Kafka refused, dead letters (processor, alerter), failed deliveries.",
            q(
                rate("newswatch_poller_fetches_total", selector='{outcome!~"ok|not_modified"}'),
                "fetch errors",
            ),
            q(rate("newswatch_poller_publish_errors_total"), "publish errors"),
            q(rate("newswatch_processor_dlq_messages_total"), "processor dead letters"),
            q(rate("newswatch_alerter_dlq_messages_total"), "alerter dead letters"),
            q(
                rate("newswatch_alerter_deliveries_total", selector='{outcome=~"failed|rejected"}'),
                "deliveries failed",
            ),
        ),
    )
    return b


# --- poller ---------------------------------------------------------------------------------------
def poller() -> Board:
    b = Board(
        "newswatch-poller",
        "newswatch / poller",
        "Feed health and freshness, fetch outcomes, parsing and publishing of raw articles.",
    )
    b.row("Feeds")
    b.add(
        ts(
            "Feeds by health",
            "short",
            "Scheduled feeds by state: ok after a success, degraded after a failure, failing after several.",
            q("sum by (state) (newswatch_poller_feeds)", "{{state}}"),
            stack=True,
        ),
        ts(
            "Feed freshness",
            "s",
            "Seconds since the least recent successful check of a feed, per poller.",
            q("max by (instance) (newswatch_poller_oldest_success_age_seconds)", "{{instance}}"),
        ),
        ts(
            "Stale feeds",
            "short",
            "Feeds with no successful check for three of their intervals.",
            q("sum by (instance) (newswatch_poller_stale_feeds)", "{{instance}}"),
            thresholds=RED_AT_1,
        ),
        ts(
            "Network down",
            "short",
            "1 while a poller considers itself offline (most feeds failing at the network level).",
            q("max by (instance) (newswatch_poller_network_down)", "{{instance}}"),
            max_value=1,
        ),
        ts(
            "Checks in flight and partitions",
            "short",
            "Feed checks running now; feeds-topic partitions each poller owns.",
            q("sum by (instance) (newswatch_poller_checks_in_flight)", "in flight {{instance}}"),
            q("sum by (instance) (newswatch_poller_assigned_partitions)", "partitions {{instance}}"),
        ),
        ts(
            "Rebalances",
            "short",
            "Partition assignments received from the pollers' consumer group.",
            q(f"sum by (instance) (increase(newswatch_poller_rebalances_total[{RATE}]))", "{{instance}}"),
        ),
    )
    b.row("Fetching")
    b.add(
        ts(
            "Fetches by outcome",
            "ops",
            "Feed fetches per second by outcome (ok, not_modified, http_error, timeout, ...).",
            q(rate("newswatch_poller_fetches_total", "outcome"), "{{outcome}}"),
            stack=True,
        ),
        ts(
            "Fetch error ratio",
            "percentunit",
            "Share of fetches that ended neither ok nor not_modified.",
            q(FETCH_ERROR_RATIO, "error ratio"),
            max_value=1,
            thresholds=AMBER_RED,
        ),
        ts(
            "Fetch duration",
            "s",
            "Duration of one feed fetch, any outcome.",
            *percentiles("newswatch_poller_fetch_duration_seconds"),
        ),
        ts(
            "Bytes fetched",
            "Bps",
            "Bytes received from feeds before decompression.",
            q(rate("newswatch_poller_fetched_bytes_total"), "received"),
        ),
        ts(
            "Waits before fetching",
            "s",
            "Check start minus due time (scheduler lag) and wait for the host's pacing slot, p95.",
            q(quantile(0.95, "newswatch_poller_scheduler_lag_seconds"), "scheduler lag p95"),
            q(quantile(0.95, "newswatch_poller_host_wait_seconds"), "host wait p95"),
        ),
        ts(
            "Chosen check interval",
            "s",
            "Interval until the next check chosen after a successful check (before jitter).",
            q(quantile(0.5, "newswatch_poller_interval_seconds"), "p50"),
            q(quantile(0.95, "newswatch_poller_interval_seconds"), "p95"),
        ),
    )
    b.row("Parsing and publishing")
    b.add(
        ts(
            "Parse duration",
            "s",
            "Duration of one feed parse (worker thread).",
            *percentiles("newswatch_poller_parse_duration_seconds"),
        ),
        ts(
            "Parses skipped and parse errors",
            "ops",
            "Bodies identical to the last one handled (not parsed) and bodies the parser refused, by reason.",
            q(rate("newswatch_poller_parses_skipped_total"), "skipped (unchanged)"),
            q(rate("newswatch_poller_parse_errors_total", "reason"), "error: {{reason}}"),
        ),
        ts(
            "Articles",
            "ops",
            "Articles delivered to newswatch.articles.raw.v1, entries already published, publish errors.",
            q(rate("newswatch_poller_articles_published_total"), "published"),
            q(rate("newswatch_poller_articles_unchanged_total"), "unchanged"),
            q(rate("newswatch_poller_publish_errors_total"), "publish errors"),
        ),
        ts(
            "Writes to Kafka",
            "ops",
            "Feed records written back (health, redirect) and poll state records, by outcome.",
            q(rate("newswatch_poller_feed_writes_total", "reason, outcome"), "feed {{reason}} {{outcome}}"),
            q(rate("newswatch_poller_state_writes_total", "outcome"), "state {{outcome}}"),
        ),
        ts(
            "Full-text pages",
            "ops",
            "Article pages fetched for full-text feeds, by outcome.",
            q(rate("newswatch_poller_fulltext_pages_total", "outcome"), "{{outcome}}"),
            stack=True,
        ),
        ts(
            "Full-text extraction",
            "s",
            "Duration of one main-text extraction from an article page.",
            *percentiles("newswatch_poller_fulltext_extract_duration_seconds"),
        ),
    )
    b.row("WebSub")
    b.add(
        ts(
            "Hub subscriptions",
            "short",
            "WebSub hub subscriptions by state.",
            q("sum by (state) (newswatch_poller_websub_subscriptions)", "{{state}}"),
            width=6,
        ),
        ts(
            "Hub requests",
            "ops",
            "Subscribe and unsubscribe requests to hubs, by outcome.",
            q(rate("newswatch_poller_websub_requests_total", "mode, outcome"), "{{mode}} {{outcome}}"),
            width=6,
        ),
        ts(
            "Intent verifications",
            "ops",
            "Hub intent verifications answered, by outcome.",
            q(rate("newswatch_poller_websub_verifications_total", "outcome"), "{{outcome}}"),
            width=6,
        ),
        ts(
            "Content pushes",
            "ops",
            "Content pushed by hubs, by outcome.",
            q(rate("newswatch_poller_websub_pushes_total", "outcome"), "{{outcome}}"),
            width=6,
        ),
    )
    return b


# --- processor ------------------------------------------------------------------------------------
def processor() -> Board:
    b = Board(
        "newswatch-processor",
        "newswatch / processor",
        "Raw articles → enriched articles and alerts: throughput, matches per watch list, lag, latency.",
    )
    b.row("Throughput and lag")
    b.add(
        ts(
            "Articles by outcome",
            "ops",
            "Raw articles consumed: processed, duplicate, invalid, failed.",
            q(rate("newswatch_processor_articles_total", "outcome"), "{{outcome}}"),
            stack=True,
        ),
        ts(
            "Consumer lag",
            "short",
            "Records of the raw-article partitions assigned to each worker not processed yet.",
            q("sum by (instance) (newswatch_processor_consumer_lag_records)", "{{instance}}"),
        ),
        ts(
            "Processing duration",
            "s",
            "From decoding a raw article to its outputs being acknowledged.",
            *percentiles("newswatch_processor_processing_duration_seconds"),
        ),
        ts(
            "Batch size",
            "short",
            "Raw messages handled together (one wait for their outputs).",
            q(quantile(0.5, "newswatch_processor_batch_articles"), "p50"),
            q(quantile(0.95, "newswatch_processor_batch_articles"), "p95"),
        ),
        ts(
            "Dead letters",
            "ops",
            "Messages sent to newswatch.articles.raw.dlq.v1, by reason.",
            q(rate("newswatch_processor_dlq_messages_total", "reason"), "{{reason}}"),
            thresholds=RED_AT_1,
        ),
        ts(
            "Places tagged",
            "ops",
            "Places tagged in articles.",
            q(rate("newswatch_processor_places_total"), "places"),
        ),
    )
    b.row("Matches and alerts")
    b.add(
        ts(
            "Matches by watch list",
            "ops",
            "Watch-list term matches per watch list (the first 20 lists; the rest count as other).",
            q(rate("newswatch_processor_matches_total", "watchlist"), "{{watchlist}}"),
            stack=True,
        ),
        ts(
            "Matches by term kind",
            "ops",
            "Watch-list term matches by kind (organisation, place, person, keyword).",
            q(rate("newswatch_processor_matches_total", "kind"), "{{kind}}"),
            stack=True,
        ),
        ts(
            "Alerts by watch list",
            "ops",
            "Alerts published and alerts suppressed (another article of the cluster was alerted).",
            q(rate("newswatch_processor_alerts_total", "watchlist"), "{{watchlist}}"),
            q(rate("newswatch_processor_alerts_suppressed_total", "watchlist"), "{{watchlist}} suppressed"),
        ),
        ts(
            "Watch lists",
            "short",
            "Enabled watch lists in the matcher; rebuilds and refused lists over the window.",
            q("max by (instance) (newswatch_processor_watchlists_active)", "active {{instance}}"),
            q(f"sum(increase(newswatch_processor_watchlist_reloads_total[{RATE}]))", "reloads"),
            q(f"sum(increase(newswatch_processor_watchlist_errors_total[{RATE}]))", "refused"),
        ),
    )
    b.row("Duplicates")
    b.add(
        ts(
            "Near duplicates",
            "ops",
            "Articles found to be copies of an earlier article (exact or similar text).",
            q(rate("newswatch_processor_near_duplicates_total", "match"), "{{match}}"),
            stack=True,
        ),
        ts(
            "Remembered articles",
            "short",
            "Articles in the near-duplicate index and article ids remembered to drop re-published ones.",
            q("sum by (instance) (newswatch_processor_neardup_index_articles)", "near-duplicate index"),
            q("sum by (instance) (newswatch_processor_seen_articles)", "seen ids"),
        ),
        ts(
            "Evictions and unreadable records",
            "ops",
            "Near-duplicate index evictions by reason; changelog records that did not parse.",
            q(rate("newswatch_processor_neardup_evictions_total", "reason"), "evicted {{reason}}"),
            q(rate("newswatch_processor_neardup_invalid_records_total"), "invalid near-duplicate records"),
            q(rate("newswatch_processor_seen_invalid_records_total"), "invalid seen records"),
        ),
    )
    b.row("Enrichment processes")
    b.add(
        ts(
            "Enriched by the processes",
            "ops",
            "Articles the enrichment processes enriched; chunks they failed (the worker enriched them).",
            q(rate("newswatch_processor_enrich_pool_articles_total"), "articles"),
            q(rate("newswatch_processor_enrich_pool_failures_total"), "failed chunks"),
            width=12,
        ),
        ts(
            "Worker's share",
            "percentunit",
            "Share of each batch the worker enriches itself (1 without enrichment processes).",
            q("avg by (instance) (newswatch_processor_enrich_worker_share_ratio)", "{{instance}}"),
            width=12,
            max_value=1,
        ),
    )
    return b


# --- alerter --------------------------------------------------------------------------------------
def alerter() -> Board:
    b = Board(
        "newswatch-alerter",
        "newswatch / alerter",
        "Alerts → subscriptions → channels: delivery outcomes, latency, retries, dead letters, API.",
    )
    b.row("Deliveries")
    b.add(
        ts(
            "Alerts consumed",
            "ops",
            "Records read from newswatch.alerts.v1.",
            q(rate("newswatch_alerter_alerts_consumed_total"), "consumed"),
        ),
        ts(
            "Consumer lag",
            "short",
            "Records of the alerts partitions assigned to each alerter not read yet.",
            q("sum by (instance) (newswatch_alerter_consumer_lag_records)", "{{instance}}"),
        ),
        ts(
            "Deliveries by outcome",
            "ops",
            "Delivery attempts by outcome (delivered, retrying, failed, rejected).",
            q(rate("newswatch_alerter_deliveries_total", "outcome"), "{{outcome}}"),
            stack=True,
        ),
        ts(
            "Deliveries by channel",
            "ops",
            "Delivery attempts by channel and outcome.",
            q(rate("newswatch_alerter_deliveries_total", "channel, outcome"), "{{channel}} {{outcome}}"),
        ),
        ts(
            "Delivery failure ratio",
            "percentunit",
            "Share of delivery attempts that did not deliver, per channel.",
            q(DELIVERY_FAILURE_RATIO, "{{channel}}"),
            max_value=1,
            thresholds=AMBER_RED,
        ),
        ts(
            "Delivery duration p95",
            "s",
            "Duration of one delivery attempt, per channel.",
            q(quantile(0.95, "newswatch_alerter_delivery_duration_seconds", "channel"), "{{channel}}"),
        ),
        ts(
            "Alert latency",
            "s",
            "From an alert's creation to its delivery.",
            *percentiles("newswatch_alerter_fanout_lag_seconds"),
        ),
        ts(
            "In flight and subscriptions",
            "short",
            "Deliveries being attempted now; subscriptions known.",
            q("sum(newswatch_alerter_deliveries_in_flight)", "in flight"),
            q("max(newswatch_alerter_subscriptions)", "subscriptions"),
        ),
        ts(
            "Skipped deliveries",
            "ops",
            "Deliveries skipped: already delivered by this process, or no known channel; refused commits.",
            q(rate("newswatch_alerter_duplicates_suppressed_total"), "duplicates"),
            q(rate("newswatch_alerter_unusable_subscriptions_total"), "unusable subscription"),
            q(rate("newswatch_alerter_commit_failures_total"), "commit failures"),
        ),
    )
    b.row("Retries, policies and dead letters")
    b.add(
        ts(
            "Retries",
            "ops",
            "Attempts scheduled after a retriable failure, per channel.",
            q(rate("newswatch_alerter_retries_total", "channel"), "{{channel}}"),
        ),
        ts(
            "Scheduled deliveries",
            "short",
            "Deliveries waiting on the schedule topic by kind (retry, deferred, replay).",
            q("sum by (kind) (newswatch_alerter_scheduled_deliveries)", "{{kind}}"),
            stack=True,
        ),
        ts(
            "Held back and dropped",
            "ops",
            "Alerts held back by a policy, digests delivered, scheduled deliveries dropped.",
            q(rate("newswatch_alerter_deferred_total", "reason"), "deferred {{reason}}"),
            q(rate("newswatch_alerter_digests_total", "channel"), "digest {{channel}}"),
            q(rate("newswatch_alerter_scheduled_dropped_total", "reason"), "dropped {{reason}}"),
        ),
        ts(
            "Dead letters",
            "ops",
            "Messages put on newswatch.alerts.dlq.v1, by reason.",
            q(rate("newswatch_alerter_dlq_messages_total", "reason"), "{{reason}}"),
        ),
        ts(
            "DLQ depth",
            "short",
            "Dead letters not since delivered or replayed.",
            q("max(newswatch_alerter_dlq_depth)", "depth"),
            thresholds=RED_AT_1,
        ),
        ts(
            "Endpoints",
            "short",
            "Subscriptions by endpoint state; endpoints disabled over the window.",
            q("max by (state) (newswatch_alerter_endpoints)", "{{state}}"),
            q(f"sum(increase(newswatch_alerter_endpoints_disabled_total[{RATE}]))", "disabled (window)"),
        ),
    )
    b.row("API and streams")
    b.add(
        ts(
            "API requests by status",
            "reqps",
            "HTTP API and console requests answered, by status.",
            q(rate("newswatch_alerter_api_requests_total", "status"), "{{status}}"),
            stack=True,
        ),
        ts(
            "API server errors",
            "reqps",
            "Requests answered 5xx, by route template.",
            q(rate("newswatch_alerter_api_requests_total", "route", '{status=~"5.."}'), "{{route}}"),
        ),
        ts(
            "Event streams",
            "short",
            "Server-Sent Events clients connected; events written and clients cut off per second.",
            q("sum(newswatch_alerter_stream_clients)", "clients"),
            q(rate("newswatch_alerter_stream_events_total"), "events/s"),
            q(rate("newswatch_alerter_stream_clients_dropped_total", "reason"), "dropped/s {{reason}}"),
        ),
        ts(
            "Console article lookups",
            "ops",
            "Console lookups of an alert's article text, by outcome.",
            q(rate("newswatch_alerter_console_article_lookups_total", "outcome"), "{{outcome}}"),
            stack=True,
        ),
    )
    return b


DASHBOARDS = {"overview": overview, "poller": poller, "processor": processor, "alerter": alerter}


def render() -> dict[str, str]:
    """File name → JSON text of every dashboard."""
    return {
        f"{name}.json": json.dumps(build().json(), indent=2, ensure_ascii=False) + "\n"
        for name, build in DASHBOARDS.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 when the files on disk are stale")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="folder of the JSON files")
    args = parser.parse_args(argv)
    rendered = render()
    out: Path = args.out
    if args.check:
        on_disk = {p.name: p.read_text() for p in out.glob("*.json")}
        if on_disk != rendered:
            stale = sorted(n for n in rendered.keys() | on_disk.keys() if on_disk.get(n) != rendered.get(n))
            sys.stderr.write(f"stale dashboards: {', '.join(stale)}; run {Path(__file__).name}\n")
            return 1
        return 0
    out.mkdir(parents=True, exist_ok=True)
    for name, text in rendered.items():
        (out / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

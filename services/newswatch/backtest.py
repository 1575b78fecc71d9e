"""``newswatch watchlists backtest FILE --since 7d``: what the watch lists of FILE would have flagged.

Raw articles stored on ``newswatch.articles.raw.v1`` since a time (:func:`newswatch.stored.read_since`)
go through the processor's own enrichment and alert rule (:func:`~newswatch.processor.enrich.enrich`,
:func:`~newswatch.processor.enrich.alerts_for`, the processor's matcher factory, the full gazetteer) with
the enabled watch lists of FILE only. Nothing is produced to Kafka and no offset is committed.

Skipped and counted: messages that do not decode, copies re-published by ``newswatch replay`` (their
originals are read), and an article id seen before in the run (the processor alerts once per article;
the last :data:`SEEN_IDS_MAX` ids are remembered, so memory stays bounded).

Output: one line per (article, watch list) that would alert — article time (published, else fetched,
else stored; UTC), watch list, score, terms, title, URL — in the order articles are read; then a summary
per watch list and term (alerts; matches and articles per term) and the totals. ``as_json`` prints one
JSON object per line instead, ``"type"`` being ``alert``, ``watchlist_summary`` or ``summary``. A run
reads up to the end offsets the topic had when it started; one that needs more than
:data:`MAX_BACKTEST_SECONDS` stops there and its summary says it is incomplete.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict

from newswatch import contracts
from newswatch.processor.enrich import alerts_for, enrich
from newswatch.processor.keywords import build_matcher
from newswatch.processor.places import Gazetteer, default_gazetteer
from newswatch.processor.regions import RegionTable
from newswatch.processor.runtime import region_table
from newswatch.processor.watchlist import WatchlistError, load_watchlists_yaml
from newswatch.settings import Settings
from newswatch.stored import ReadProgress, SkipCounts, stored_articles
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.article_pb2 import Article
from newswatch.v1.watchlist_pb2 import Watchlist

__all__ = [
    "MAX_BACKTEST_SECONDS",
    "SEEN_IDS_MAX",
    "BacktestReport",
    "Backtester",
    "alert_line",
    "backtest",
    "load_backtest_watchlists",
]

SEEN_IDS_MAX = 100_000
MAX_BACKTEST_SECONDS = 3600.0  # reading stops there; the summary then says the run is incomplete


def load_backtest_watchlists(path: str | Path) -> list[Watchlist]:
    """The enabled watch lists of a YAML file. Raises WatchlistError (not retriable) when the file is
    unreadable or invalid, or enables no watch list."""
    lists = [w for w in load_watchlists_yaml(path) if w.enabled]
    if not lists:
        raise WatchlistError(f"{path}: no enabled watch list to back-test")
    return lists


@dataclass
class TermTally:
    label: str
    matches: int = 0
    articles: int = 0


@dataclass
class WatchlistTally:
    name: str
    threshold: float
    alerts: int = 0
    terms: dict[str, TermTally] = field(default_factory=dict)


@dataclass
class BacktestReport:
    """Counts of one run; ``watchlists`` is keyed by watchlist_id, in the file's order."""

    since: datetime
    watchlists: dict[str, WatchlistTally]
    scanned: int = 0
    alerts: int = 0
    skipped_invalid: int = 0
    skipped_replays: int = 0
    skipped_repeats: int = 0
    stopped_at_limit: bool = False
    complete: bool = False

    def summary_lines(self, as_json: bool = False) -> list[str]:
        if as_json:
            return self._summary_json()
        out: list[str] = []
        for wid, wl in self.watchlists.items():
            out.append(f"watch list {wid} ({wl.name}), threshold {wl.threshold:g}: {wl.alerts} alerts")
            out.extend(
                f"  {tid}  {t.label}: {t.matches} matches in {t.articles} articles"
                for tid, t in wl.terms.items()
            )
        if self.stopped_at_limit:
            limit = "; stopped early at --limit"
        elif not self.complete:
            limit = f"; INCOMPLETE: stopped after {MAX_BACKTEST_SECONDS:g} s before the end of the topic"
        else:
            limit = ""
        out.append(
            f"scanned {self.scanned} articles stored since {self.since.isoformat()}: {self.alerts} alerts "
            f"(skipped {self.skipped_invalid} undecodable, {self.skipped_replays} replay copies, "
            f"{self.skipped_repeats} repeated ids){limit}; nothing was published"
        )
        return out

    def _summary_json(self) -> list[str]:
        rows: list[dict[str, Any]] = [
            {
                "type": "watchlist_summary",
                "watchlist_id": wid,
                "watchlist_name": wl.name,
                "threshold": wl.threshold,
                "alerts": wl.alerts,
                "terms": [
                    {"term_id": tid, "label": t.label, "matches": t.matches, "articles": t.articles}
                    for tid, t in wl.terms.items()
                ],
            }
            for wid, wl in self.watchlists.items()
        ]
        rows.append(
            {
                "type": "summary",
                "since": self.since.isoformat(),
                "articles_scanned": self.scanned,
                "alerts": self.alerts,
                "skipped_undecodable": self.skipped_invalid,
                "skipped_replay_copies": self.skipped_replays,
                "skipped_repeated_ids": self.skipped_repeats,
                "stopped_at_limit": self.stopped_at_limit,
                "complete": self.complete,
            }
        )
        return [json.dumps(row, ensure_ascii=False) for row in rows]


def _article_time(article: Article, stored_ms: int) -> datetime:
    for name in ("published_at", "fetched_at"):
        if article.HasField(name):
            when = contracts.to_datetime(getattr(article, name))
            if when is not None:
                return when
    return datetime.fromtimestamp(stored_ms / 1000, UTC)


def alert_line(alert: Alert, when: datetime, as_json: bool = False) -> str:
    """The output line of one alert the back-test would raise."""
    terms = sorted({m.term_label for m in alert.matches})
    if as_json:
        row = {
            "type": "alert",
            "time": when.isoformat(),
            "watchlist_id": alert.watchlist_id,
            "watchlist_name": alert.watchlist_name,
            "article_id": alert.article_id,
            "score": alert.score,
            "terms": terms,
            "title": alert.title,
            "url": alert.url,
            "matches": [
                MessageToDict(m, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
                for m in alert.matches
            ],
        }
        return json.dumps(row, ensure_ascii=False)
    return (
        f"{when.strftime('%Y-%m-%d %H:%M:%S')} [{alert.watchlist_name or alert.watchlist_id}] "
        f"score={alert.score:g} terms={','.join(terms)} | {alert.title or '(untitled)'} | {alert.url}"
    )


class Backtester:
    """The pure part: articles in, alerts out, tallies kept. No I/O; one instance per run."""

    def __init__(
        self,
        watchlists: Sequence[Watchlist],
        gazetteer: Gazetteer,
        since: datetime,
        regions: RegionTable | None = None,
    ) -> None:
        """``regions``: the country -> regions table (default: the packaged one)."""
        self._lists = list(watchlists)
        self._matcher = build_matcher(self._lists)
        self._gazetteer = gazetteer
        self._regions = regions
        self._seen: dict[str, None] = {}
        tallies = {
            w.watchlist_id: WatchlistTally(
                w.name, w.threshold, terms={t.term_id: TermTally(t.label) for t in w.terms}
            )
            for w in self._lists
        }
        self.report = BacktestReport(since=since, watchlists=tallies)

    def repeated(self, article_id: str) -> bool:
        """True if ``article_id`` was examined before in this run (among the last SEEN_IDS_MAX)."""
        if article_id in self._seen:
            return True
        self._seen[article_id] = None
        if len(self._seen) > SEEN_IDS_MAX:
            del self._seen[next(iter(self._seen))]
        return False

    def examine(self, article: Article) -> list[Alert]:
        """Enrich ``article``, count its matches per term, return the alerts it would raise."""
        enriched = enrich(article, self._matcher, self._gazetteer, self._regions)
        self.report.scanned += 1
        per_term: dict[tuple[str, str], int] = {}
        for m in enriched.matches:
            per_term[(m.watchlist_id, m.term_id)] = per_term.get((m.watchlist_id, m.term_id), 0) + 1
        for (wid, tid), count in per_term.items():
            tally = self.report.watchlists[wid].terms[tid]
            tally.matches += count
            tally.articles += 1
        alerts = alerts_for(enriched, self._lists)
        for alert in alerts:
            self.report.watchlists[alert.watchlist_id].alerts += 1
        self.report.alerts += len(alerts)
        return alerts


async def backtest(
    settings: Settings,
    watchlists: Sequence[Watchlist],
    since: datetime,
    emit: Callable[[str], None],
    *,
    as_json: bool = False,
    limit: int | None = None,
    gazetteer: Gazetteer | None = None,
) -> BacktestReport:
    """Emit one line per alert the ``watchlists`` would raise on articles stored since ``since``, then
    the summary lines. Reading stops once ``limit`` alert lines were emitted (the summary then counts
    the articles read so far). Regions come from ``regions_file`` (SettingsError before any other work
    when it is bad). Kafka errors propagate."""
    regions = region_table(settings)
    tester = Backtester(watchlists, gazetteer or default_gazetteer(), since, regions)
    report = tester.report
    printed = 0
    progress = ReadProgress()
    skipped = SkipCounts()
    articles = stored_articles(
        settings, since, skipped, role="backtest", max_seconds=MAX_BACKTEST_SECONDS, progress=progress
    )
    async with contextlib.aclosing(articles):
        async for record, article in articles:
            if tester.repeated(article.article_id):
                report.skipped_repeats += 1
                continue
            when = _article_time(article, record.timestamp)
            for alert in tester.examine(article):
                if limit is not None and printed >= limit:
                    break
                emit(alert_line(alert, when, as_json))
                printed += 1
            if limit is not None and printed >= limit:
                report.stopped_at_limit = True
                break
    report.complete = progress.complete
    report.skipped_invalid, report.skipped_replays = skipped.invalid, skipped.replays
    for line in report.summary_lines(as_json):
        emit(line)
    return report

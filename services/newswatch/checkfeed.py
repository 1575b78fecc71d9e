"""``newswatch check-feed URL``: fetch, parse and match one feed, and say what would be flagged.

Nothing is published: the feed is fetched with the poller's fetcher and parser (same caps, same URL
rules) and every entry goes through the processor's enrichment with the built-in watch list, plus the
lists of ``--watchlists FILE`` when given, and the regions table of ``NEWSWATCH_REGIONS_FILE``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf.json_format import MessageToDict

from newswatch.poller.checker import check_feed
from newswatch.processor.enrich import alerts_for, enrich
from newswatch.processor.keywords import build_matcher
from newswatch.processor.places import default_gazetteer
from newswatch.processor.runtime import region_table
from newswatch.processor.watchlist import default_watchlist, load_watchlists_yaml
from newswatch.settings import Settings
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.enriched_pb2 import EnrichedArticle

__all__ = ["CheckReport", "check_feed_report"]


@dataclass
class CheckReport:
    url: str
    feed_title: str
    feed_format: str
    entries: list[tuple[EnrichedArticle, list[Alert]]] = field(default_factory=list)

    @property
    def flagged(self) -> int:
        return sum(1 for _, alerts in self.entries if alerts)

    def lines(self, as_json: bool = False) -> list[str]:
        if as_json:
            return [
                json.dumps(
                    {
                        "article": MessageToDict(e, preserving_proto_field_name=True),
                        "alerts": [MessageToDict(a, preserving_proto_field_name=True) for a in alerts],
                    },
                    ensure_ascii=False,
                )
                for e, alerts in self.entries
            ]
        out = [
            f"{self.url}: {self.feed_format or 'unknown format'} feed {self.feed_title!r}, "
            f"{len(self.entries)} entries, {self.flagged} would alert"
        ]
        for enriched, alerts in self.entries:
            mark = "ALERT" if alerts else "     "
            terms = sorted({m.term_label for m in enriched.matches})
            out.append(f"{mark} {enriched.article.title or '(untitled)'}")
            out.append(f"      {enriched.article.url}")
            if terms or enriched.regions:
                out.append(
                    f"      terms={','.join(terms) or '-'} countries={','.join(enriched.countries) or '-'} "
                    f"regions={','.join(enriched.regions) or '-'} language={enriched.language or '-'}"
                )
            out.extend(f"      -> {a.watchlist_name or a.watchlist_id} score={a.score:g}" for a in alerts)
        return out


async def check_feed_report(
    settings: Settings, url: str, watchlists_file: Path | None = None, *, full_text: bool = False
) -> CheckReport:
    """Fetch and parse ``url`` (with ``full_text``, each entry's page too) and enrich every entry; raises
    the fetch / parse / URL errors as they are, and SettingsError (before fetching) when
    ``regions_file`` is bad; countries map to regions by that table."""
    regions = region_table(settings)
    parsed, articles = await check_feed(settings, url, full_text=full_text)
    lists = [default_watchlist()]
    if watchlists_file is not None:
        lists += load_watchlists_yaml(watchlists_file)
    active = [w for w in lists if w.enabled]
    matcher = build_matcher(active)
    gazetteer = default_gazetteer()
    report = CheckReport(url=url, feed_title=parsed.title, feed_format=parsed.version)
    for article in articles:
        enriched = enrich(article, matcher, gazetteer, regions)
        report.entries.append((enriched, alerts_for(enriched, active)))
    return report

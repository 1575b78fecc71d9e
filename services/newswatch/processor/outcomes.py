"""What became of each message of a batch (:class:`_Done`: its outcome and what to record once its
outputs are acknowledged) and what a batch of them adds to the processor's metrics and debug logs
(:func:`_account`, once per batch). Internal to :mod:`newswatch.processor.agents`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from newswatch.processor.dedupe import Assessment
from newswatch.processor.dupindex import Entry
from newswatch.processor.messages import RawMessage
from newswatch.processor.metrics import NEAR_DUPLICATE_MATCHES, ProcessorMetrics
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.enriched_pb2 import EnrichedArticle

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Done:
    """What to record once a message's outputs are acknowledged."""

    message: RawMessage
    outcome: str
    started: float
    seen_key: str = ""
    entry: Entry | None = None
    enriched: EnrichedArticle | None = None
    alerts: Sequence[Alert] = ()
    assessment: Assessment | None = None
    dlq_reason: str = ""


def _account(metrics: ProcessorMetrics, done: Sequence[_Done], finished: float, batch_size: int) -> None:
    """Metrics (added up per batch) and debug logs once the batch's outputs are acknowledged."""
    outcomes: Counter[str] = Counter()
    dlq: Counter[str] = Counter()
    matches: Counter[tuple[str, str]] = Counter()
    alerts: Counter[str] = Counter()
    near: Counter[str] = Counter()
    places = 0
    debug = log.isEnabledFor(logging.DEBUG)
    observe = metrics.processing_duration.observe
    for item in done:
        outcomes[item.outcome] += 1
        if item.dlq_reason:
            dlq[item.dlq_reason] += 1
        enriched = item.enriched
        if enriched is None or item.assessment is None:
            continue
        matches.update((m.kind, m.watchlist_id) for m in enriched.matches)
        alerts.update(a.watchlist_id for a in item.alerts)
        if item.assessment.match in NEAR_DUPLICATE_MATCHES:
            near[item.assessment.match] += 1
        places += len(enriched.places)
        observe(finished - item.started)
        if debug:
            log.debug(
                "article processed",
                extra={
                    "article_id": item.assessment.article_id,
                    "alerts": len(item.alerts),
                    "matches": len(enriched.matches),
                    "duplicate_of": enriched.duplicate_of,
                },
            )
    for outcome, n in outcomes.items():
        metrics.article(outcome, n)
    for reason, n in dlq.items():
        metrics.dlq_messages.labels(reason=reason).inc(n)
    for (kind, watchlist_id), n in matches.items():
        metrics.match(kind, watchlist_id, n)
    for watchlist_id, n in alerts.items():
        metrics.alert(watchlist_id, n)
    for match, n in near.items():
        metrics.near_duplicates.labels(match=match).inc(n)
    if places:
        metrics.places.inc(places)
    metrics.batch_articles.observe(batch_size)

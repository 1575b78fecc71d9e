"""The processing step, independent of Faust: raw messages in → enriched articles + alerts out.

:meth:`ArticleProcessor.process_batch` handles a batch of messages from ``newswatch.articles.raw.v1``
(:meth:`~ArticleProcessor.process` is a batch of one). For each message, in order:

1. decode it (``contracts.decode``); a message that does not decode or has no ``article_id`` goes,
   bytes and headers as received, to ``newswatch.articles.raw.dlq.v1`` with the headers
   ``newswatch-dlq-reason`` (``invalid_message``) and ``newswatch-dlq-error`` (the detail);
2. skip it if its article_id was processed before, or earlier in the batch (outcome ``duplicate``);
3. enrich it (the batch's articles to process are enriched together beforehand, step by step:
   :func:`~newswatch.processor.enrich.enrich_batch`; with enrichment processes,
   :mod:`~newswatch.processor.enrichpool`, the later ones there while the worker enriches and decides
   the first ones), find its near-duplicate cluster
   (:class:`~newswatch.processor.dedupe.Deduplicator`), derive alerts from the current
   :class:`WatchlistRegistry` snapshot and drop those for watch lists another article of the cluster
   was already alerted for ("alerted once"); index it locally;
4. encode the EnrichedArticle (``duplicate_of`` = the cluster's first article, empty for the first) and
   every Alert (key = article_id) once, into the batch's outputs.

Then it publishes the batch's outputs in one call (:meth:`Outputs.publish`), WAITS for all of them to be
acknowledged, and only then records the articles as seen and writes the batch's changelog records (per
source partition one chunk of seen keys and one chunk of near-duplicate entries;
:meth:`~newswatch.processor.dedupe.Deduplicator.commit`) — a crash before that may repeat alerts, never
lose one. Those records are not waited for: Faust flushes the producer
before it commits the batch's offsets, and the next batch raises if one of them failed (what such a
failure can cost: a later re-publication of those articles is processed again, under the same alert
ids). Metrics are added up per batch.

Alert ids are ``alert_id(cluster_id, watchlist_id)`` and ``duplicate_cluster_id`` is the cluster id
(the first article's id; for the first article its own, so its alert id is ``alert_id(article_id,
watchlist_id)``); :func:`~newswatch.processor.enrich.alerts_for` sets both from ``duplicate_of``. An
alert repeated after a crash, or by a copy whose cluster's first alert was not recorded yet, carries
the same id as the first, and the alerter delivers an alert id once.

An unexpected error in step 3 sends the message to the DLQ (``processing_error``) and is logged; Kafka
send errors propagate (the worker stops and the batch is consumed again after a restart).

The records in and out and the :class:`Outputs` protocol live in :mod:`newswatch.processor.messages`,
the watch lists in :mod:`newswatch.processor.registry` (their names are importable from here too),
and the outcomes of a batch with the metrics they add up to in :mod:`newswatch.processor.outcomes`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Sequence
from typing import Any

from newswatch.processor.dedupe import Deduplicator, Done
from newswatch.processor.enrich import alerts_for, enrich, enrich_batch
from newswatch.processor.enrichpool import Enriched, EnrichPool, Pending
from newswatch.processor.messages import (
    DLQ_ERROR_HEADER,
    DLQ_REASON_HEADER,
    Outgoing,
    Outputs,
    RawMessage,
    _dead_letter,
    _decode,
    _Decoded,
    _encoded,
)
from newswatch.processor.metrics import ProcessorMetrics
from newswatch.processor.outcomes import _account, _Done
from newswatch.processor.places import Gazetteer
from newswatch.processor.regions import RegionTable, default_regions
from newswatch.processor.registry import Snapshot, WatchlistRegistry
from newswatch.topics import ALERTS, ARTICLES_ENRICHED

__all__ = [
    "DLQ_ERROR_HEADER",
    "DLQ_REASON_HEADER",
    "ArticleProcessor",
    "Outgoing",
    "Outputs",
    "RawMessage",
    "Snapshot",
    "WatchlistRegistry",
]

log = logging.getLogger(__name__)


class ArticleProcessor:
    """See the module docstring. One instance per worker; one batch at a time."""

    def __init__(
        self,
        registry: WatchlistRegistry,
        gazetteer: Gazetteer,
        dedupe: Deduplicator,
        outputs: Outputs,
        metrics: ProcessorMetrics,
        regions: RegionTable | None = None,
        pool: EnrichPool | None = None,
    ) -> None:
        """``regions``: the country -> regions table (default: the packaged one); ``pool``: processes
        that enrich beside the worker (default: the worker enriches alone)."""
        self._registry = registry
        self._gazetteer = gazetteer
        self._dedupe = dedupe
        self._outputs = outputs
        self._metrics = metrics
        self._regions = regions or default_regions()
        self._pool = pool
        self._changelog: Awaitable[Any] | None = None  # the previous batch's changelog writes

    async def process(
        self, key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]], partition: int = 0
    ) -> str:
        """Handle one raw message; return its outcome (processed | duplicate | invalid | failed)."""
        (outcome,) = await self.process_batch([RawMessage(key, value, headers, partition)])
        return outcome

    async def process_batch(self, messages: Sequence[RawMessage]) -> list[str]:
        """Handle messages in order with one wait for all their outputs; return their outcomes.

        Raises what a failed delivery raises, before recording any message of the batch as done —
        including a failed changelog write of the previous batch, checked first.
        """
        await self._check_changelog()
        outgoing: list[Outgoing] = []
        in_batch: set[str] = set()
        started = time.monotonic()
        decoded = [_decode(message, started) for message in messages]
        snapshot = self._registry.snapshot
        firsts = self._firsts(decoded)
        enriched, pending = self._enrich_ahead(decoded, firsts, snapshot)
        # Without enrichment processes every result is there; with them, the messages before the first
        # one they enrich are decided while they work.
        until = len(decoded)
        if pending is not None and len(pending.ready) < len(firsts):
            until = firsts[len(pending.ready)]

        def decide(start: int, end: int) -> list[_Done]:
            return [
                self._prepare(item, enriched.pop(at, None), in_batch, outgoing, snapshot)
                for at, item in enumerate(decoded[start:end], start)
            ]

        done = decide(0, until)
        if until < len(decoded) and pending is not None:
            enriched.update(await self._enrich_rest(firsts, pending))
            done += decide(until, len(decoded))
        if outgoing:
            await (await self._outputs.publish(outgoing))
        records = self._dedupe.commit(
            [
                Done(item.entry, item.message.partition, item.seen_key)
                for item in done
                if item.entry is not None
            ]
        )
        # Not awaited here: the next batch checks them, and Faust flushes the producer before it
        # commits this batch's offsets.
        if records:
            self._changelog = await self._outputs.publish(
                [Outgoing(r.topic, r.key, r.value, (), r.partition) for r in records]
            )
        _account(self._metrics, done, time.monotonic(), len(messages))
        return [item.outcome for item in done]

    async def _check_changelog(self) -> None:
        changelog, self._changelog = self._changelog, None
        if changelog is not None:
            await changelog

    def _firsts(self, decoded: Sequence[_Decoded]) -> list[int]:
        """The positions of the messages to enrich: the first of each seen key not seen before. Later
        copies in the batch are enriched only if needed (their first failed), as one by one they always
        were."""
        first: dict[str, int] = {}
        for at, item in enumerate(decoded):
            key = item.seen_key
            if item.article is not None and key not in first and not self._dedupe.seen(key):
                first[key] = at
        return list(first.values())

    def _enrich_ahead(
        self, decoded: Sequence[_Decoded], firsts: Sequence[int], snapshot: Snapshot
    ) -> tuple[dict[int, Enriched], Pending | None]:
        """The enrichment of the messages at ``firsts``, by position, for the whole batch at once
        (``enrich_batch``: step by step, faster than article by article). With a pool: the results of
        the first ones (enriched here, with their signatures) and the rest under way, else all of them
        and None. A fault outside any one article's steps leaves the articles to be enriched one by one
        (no results)."""
        if not firsts:
            return {}, None
        articles = [article for at in firsts if (article := decoded[at].article) is not None]
        try:
            if self._pool is not None:
                raws = [decoded[at].message.value or b"" for at in firsts]
                pending = self._pool.begin(articles, raws, snapshot)
                return dict(zip(firsts, pending.ready, strict=False)), pending
            enriched = enrich_batch(articles, snapshot.matcher, self._gazetteer, self._regions)
        except Exception:
            log.exception("batch enrichment failed; enriching article by article")
            return {}, None
        return {at: (out, None) for at, out in zip(firsts, enriched, strict=True)}, None

    async def _enrich_rest(self, firsts: Sequence[int], pending: Pending) -> dict[int, Enriched]:
        """The results ``pending`` had not yet, by position (none after a fault outside any one
        article's steps: those are enriched one by one)."""
        try:
            rest = await pending.rest()
        except Exception:
            log.exception("batch enrichment failed; enriching article by article")
            return {}
        return dict(zip(firsts[len(pending.ready) :], rest, strict=True))

    def _prepare(
        self,
        item: _Decoded,
        ahead: Enriched | None,
        in_batch: set[str],
        outgoing: list[Outgoing],
        snapshot: Snapshot,
    ) -> _Done:
        """Decide one message and add its outputs to ``outgoing``; ``ahead``: its enrichment computed
        with the batch's (None: computed here when needed)."""
        message, started, article, seen_key = item.message, item.started, item.article, item.seen_key
        if article is None:
            log.warning(
                "invalid raw article sent to the DLQ", extra={"key": _text(message.key), "error": item.error}
            )
            outgoing.append(_dead_letter(message, "invalid_message", item.error))
            return _Done(message, "invalid", started, dlq_reason="invalid_message")
        if seen_key in in_batch or self._dedupe.seen(seen_key):
            return _Done(message, "duplicate", started)
        try:
            sig: bytes | None = None
            if ahead is None:
                enriched = enrich(article, snapshot.matcher, self._gazetteer, self._regions)
            else:
                done, sig = ahead
                if isinstance(done, Exception):
                    raise done
                enriched = done
            assessment = self._dedupe.assess(article, sig)
            enriched.duplicate_of = assessment.duplicate_of
            alerts = []
            for alert in alerts_for(enriched, snapshot.watchlists, weights=snapshot.weights):
                if alert.watchlist_id in assessment.already_alerted:
                    self._metrics.alert_suppressed(alert.watchlist_id)
                    continue
                alerts.append(alert)
        except Exception as exc:
            log.exception("article could not be processed", extra={"article_id": article.article_id})
            outgoing.append(_dead_letter(message, "processing_error", repr(exc)))
            return _Done(message, "failed", started, dlq_reason="processing_error")
        in_batch.add(seen_key)
        entry = self._dedupe.remember(assessment, (a.watchlist_id for a in alerts))
        article_key = article.article_id.encode("utf-8")
        outgoing.append(_encoded(ARTICLES_ENRICHED, article_key, enriched))
        outgoing += [_encoded(ALERTS, article_key, alert) for alert in alerts]
        return _Done(message, "processed", started, seen_key, entry, enriched, alerts, assessment)


def _text(key: bytes | None) -> str:
    return key.decode("utf-8", "replace")[:200] if key else ""

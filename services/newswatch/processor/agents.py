"""The processing step, independent of Faust: raw messages in → enriched articles + alerts out.

:meth:`ArticleProcessor.process_batch` handles a batch of messages from ``newswatch.articles.raw.v1``
(:meth:`~ArticleProcessor.process` is a batch of one). For each message, in order:

1. decode it (``contracts.decode``); a message that does not decode or has no ``article_id`` goes,
   bytes and headers as received, to ``newswatch.articles.raw.dlq.v1`` with the headers
   ``newswatch-dlq-reason`` (``invalid_message``) and ``newswatch-dlq-error`` (the detail);
2. skip it if its article_id was processed before, or earlier in the batch (outcome ``duplicate``);
3. enrich it (the batch's articles to process are enriched together beforehand, step by step:
   :func:`~newswatch.processor.enrich.enrich_batch`), find its near-duplicate cluster
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
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from newswatch import contracts
from newswatch.errors import InvalidMessageError
from newswatch.processor.dedupe import Assessment, Deduplicator, Done
from newswatch.processor.dupindex import Entry
from newswatch.processor.enrich import alerts_for, enrich, enrich_batch, term_weights
from newswatch.processor.keywords import Matcher, build_matcher
from newswatch.processor.metrics import NEAR_DUPLICATE_MATCHES, ProcessorMetrics
from newswatch.processor.places import Gazetteer
from newswatch.processor.regions import RegionTable, default_regions
from newswatch.processor.watchlist import validate_watchlist
from newswatch.replay import REPLAY_HEADER
from newswatch.topics import ALERTS, ARTICLES_ENRICHED, ARTICLES_RAW_DLQ, TopicSpec
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.article_pb2 import Article
from newswatch.v1.enriched_pb2 import EnrichedArticle
from newswatch.v1.watchlist_pb2 import Watchlist

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

DLQ_REASON_HEADER = "newswatch-dlq-reason"
DLQ_ERROR_HEADER = "newswatch-dlq-error"
_MAX_ERROR_BYTES = 1000


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One record to write. ``partition`` None = by key (the producer's partitioner)."""

    topic: TopicSpec
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = ()
    partition: int | None = None


class Outputs(Protocol):
    """Where the processor writes. ``publish`` queues records (in order per partition) and returns one
    awaitable that completes once every one of them is acknowledged, raising the first failure; it may
    wait while the producer's buffer is full (backpressure)."""

    async def publish(self, records: Sequence[Outgoing]) -> Awaitable[Any]: ...


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A matcher and the enabled watch lists it was built from; replaced as a whole on reload.
    ``weights``: watch-list id -> ``term_weights`` of that list (computed once per reload)."""

    matcher: Matcher
    watchlists: tuple[Watchlist, ...]
    weights: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


class WatchlistRegistry:
    """The built-in default list plus every list on ``newswatch.watchlists.v1``.

    A list on Kafka with the default's id replaces it; a disabled list takes part in nothing; an invalid
    one is logged, counted and ignored (its previous version stays). ``snapshot`` is swapped in one
    assignment, so a reader always sees a matcher and lists that belong together.
    """

    def __init__(self, default: Watchlist, metrics: ProcessorMetrics) -> None:
        self._default = default
        self._metrics = metrics
        self._remote: dict[str, Watchlist] = {}
        self._loaded = False
        self.snapshot = self._build()

    def mark_loaded(self) -> None:
        """The topic was read to its end: from now on, enabled lists get their metric label at once
        (not the lists only seen while replaying the topic's history, which may be deleted ones)."""
        self._loaded = True
        self._metrics.watchlist_label.register(w.watchlist_id for w in self.snapshot.watchlists)

    def on_change(self, watchlist_id: str, watchlist: Watchlist | None) -> None:
        """Apply one record of the watch-list topic (None = removed) and rebuild the matcher."""
        if watchlist is not None:
            problems = validate_watchlist(watchlist)
            if watchlist.watchlist_id and watchlist.watchlist_id != watchlist_id:
                problems.append(f"key {watchlist_id!r} differs from watchlist_id {watchlist.watchlist_id!r}")
            if problems:
                self._metrics.watchlist_errors.inc()
                log.warning("watch list refused", extra={"watchlist_id": watchlist_id, "problems": problems})
                return
            self._remote[watchlist_id] = watchlist
        else:
            self._remote.pop(watchlist_id, None)
        self.snapshot = self._build()
        self._metrics.watchlist_reloads.inc()
        log.info(
            "watch lists reloaded",
            extra={"watchlist_ids": [w.watchlist_id for w in self.snapshot.watchlists]},
        )

    def _build(self) -> Snapshot:
        merged = {self._default.watchlist_id: self._default, **self._remote}
        active = tuple(w for _, w in sorted(merged.items()) if w.enabled)
        self._metrics.watchlists_active.set(len(active))
        if self._loaded:
            self._metrics.watchlist_label.register(w.watchlist_id for w in active)
        weights = {w.watchlist_id: term_weights(w) for w in active}
        return Snapshot(build_matcher(active), active, weights)


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One record of ``newswatch.articles.raw.v1`` as consumed (``partition`` is its source partition)."""

    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]
    partition: int = 0


@dataclass(frozen=True, slots=True)
class _Decoded:
    """A message as decoded: its article and seen key, or the reason it is invalid (``error``)."""

    message: RawMessage
    started: float
    article: Article | None = None
    seen_key: str = ""
    error: str = ""


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
    ) -> None:
        """``regions``: the country -> regions table (default: the packaged one)."""
        self._registry = registry
        self._gazetteer = gazetteer
        self._dedupe = dedupe
        self._outputs = outputs
        self._metrics = metrics
        self._regions = regions or default_regions()
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
        decoded = [self._decode(message, started) for message in messages]
        snapshot = self._registry.snapshot
        enriched = self._enrich_ahead(decoded, snapshot)
        done = [
            self._prepare(item, enriched.pop(at, None), in_batch, outgoing, snapshot)
            for at, item in enumerate(decoded)
        ]
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
        self._account(done, time.monotonic(), len(messages))
        return [item.outcome for item in done]

    async def _check_changelog(self) -> None:
        changelog, self._changelog = self._changelog, None
        if changelog is not None:
            await changelog

    def _decode(self, message: RawMessage, started: float) -> _Decoded:
        """The message's article and seen key, or why it goes to the DLQ."""
        value, headers = message.value, message.headers
        try:
            article = contracts.decode(Article, value, headers)
            if not article.article_id:
                raise InvalidMessageError("article_id is empty")
        except InvalidMessageError as exc:
            return _Decoded(message, started, error=str(exc))
        # A replayed article (`newswatch replay`) is examined again once per replay id; alert ids stay
        # derived from (cluster, watch list), so subscribers are not told twice about the same alert.
        replay = contracts.header(headers, REPLAY_HEADER)
        seen_key = article.article_id if replay is None else f"{article.article_id}@replay:{replay}"
        return _Decoded(message, started, article, seen_key)

    def _enrich_ahead(
        self, decoded: Sequence[_Decoded], snapshot: Snapshot
    ) -> dict[int, EnrichedArticle | Exception]:
        """The enrichment of the first message of each seen key not seen before, for the whole batch at
        once (``enrich_batch``: step by step, faster than article by article), keyed by the message's
        position. Later copies in the batch are enriched only if needed (their first failed), as one
        by one they always were."""
        first: dict[str, tuple[int, Article]] = {}
        for at, item in enumerate(decoded):
            key, article = item.seen_key, item.article
            if article is not None and key not in first and not self._dedupe.seen(key):
                first[key] = (at, article)
        if not first:
            return {}
        positions = [at for at, _ in first.values()]
        try:
            results = enrich_batch(
                [article for _, article in first.values()], snapshot.matcher, self._gazetteer, self._regions
            )
        except Exception:  # a fault outside any one article's steps: each is enriched alone instead
            log.exception("batch enrichment failed; enriching article by article")
            return {}
        return dict(zip(positions, results, strict=True))

    def _prepare(
        self,
        item: _Decoded,
        ahead: EnrichedArticle | Exception | None,
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
            outgoing.append(self._dead_letter(message, "invalid_message", item.error))
            return _Done(message, "invalid", started, dlq_reason="invalid_message")
        if seen_key in in_batch or self._dedupe.seen(seen_key):
            return _Done(message, "duplicate", started)
        try:
            if ahead is None:
                enriched = enrich(article, snapshot.matcher, self._gazetteer, self._regions)
            elif isinstance(ahead, Exception):
                raise ahead
            else:
                enriched = ahead
            assessment = self._dedupe.assess(article)
            enriched.duplicate_of = assessment.duplicate_of
            alerts = []
            for alert in alerts_for(enriched, snapshot.watchlists, weights=snapshot.weights):
                if alert.watchlist_id in assessment.already_alerted:
                    self._metrics.alert_suppressed(alert.watchlist_id)
                    continue
                alerts.append(alert)
        except Exception as exc:
            log.exception("article could not be processed", extra={"article_id": article.article_id})
            outgoing.append(self._dead_letter(message, "processing_error", repr(exc)))
            return _Done(message, "failed", started, dlq_reason="processing_error")
        in_batch.add(seen_key)
        entry = self._dedupe.remember(assessment, (a.watchlist_id for a in alerts))
        article_key = article.article_id.encode("utf-8")
        outgoing.append(_encoded(ARTICLES_ENRICHED, article_key, enriched))
        outgoing += [_encoded(ALERTS, article_key, alert) for alert in alerts]
        return _Done(message, "processed", started, seen_key, entry, enriched, alerts, assessment)

    def _account(self, done: Sequence[_Done], finished: float, batch_size: int) -> None:
        """Metrics (added up per batch) and debug logs once the batch's outputs are acknowledged."""
        metrics = self._metrics
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

    @staticmethod
    def _dead_letter(message: RawMessage, reason: str, error: str) -> Outgoing:
        kept = [(k, v) for k, v in message.headers if k not in (DLQ_REASON_HEADER, DLQ_ERROR_HEADER)]
        kept.append((DLQ_REASON_HEADER, reason.encode()))
        kept.append((DLQ_ERROR_HEADER, error.encode("utf-8", "replace")[:_MAX_ERROR_BYTES]))
        return Outgoing(ARTICLES_RAW_DLQ, message.key, message.value, kept)


def _encoded(topic: TopicSpec, key: bytes, message: Any) -> Outgoing:
    value, headers = contracts.encode(message)
    return Outgoing(topic, key, value, headers)


def _text(key: bytes | None) -> str:
    return key.decode("utf-8", "replace")[:200] if key else ""

"""The processing step, independent of Faust: raw message in → enriched article + alerts out.

:class:`ArticleProcessor.process` handles one message from ``newswatch.articles.raw.v1``:

1. decode it (``contracts.decode``); a message that does not decode or has no ``article_id`` goes,
   bytes and headers as received, to ``newswatch.articles.raw.dlq.v1`` with the headers
   ``newswatch-dlq-reason`` (``invalid_message``) and ``newswatch-dlq-error`` (the detail);
2. skip it if its article_id was processed before (outcome ``duplicate``);
3. enrich it, derive alerts from the current :class:`WatchlistRegistry` snapshot;
4. publish the EnrichedArticle and every Alert (key = article_id) and WAIT for their acknowledgements;
5. only then mark the article as seen — a crash between 4 and 5 may duplicate alerts, never lose one.

An unexpected error in step 3 sends the message to the DLQ (``processing_error``) and is logged; Kafka
send errors propagate (the worker stops and the message is consumed again after a restart).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from newswatch import contracts
from newswatch.errors import InvalidMessageError
from newswatch.processor.dedupe import Deduplicator
from newswatch.processor.enrich import alerts_for, enrich
from newswatch.processor.keywords import Matcher, RegexMatcher
from newswatch.processor.metrics import ProcessorMetrics
from newswatch.processor.places import Gazetteer
from newswatch.processor.watchlist import validate_watchlist
from newswatch.replay import REPLAY_HEADER
from newswatch.topics import ALERTS, ARTICLES_ENRICHED, ARTICLES_RAW_DLQ, TopicSpec
from newswatch.v1.article_pb2 import Article
from newswatch.v1.watchlist_pb2 import Watchlist

__all__ = [
    "DLQ_ERROR_HEADER",
    "DLQ_REASON_HEADER",
    "ArticleProcessor",
    "Outputs",
    "Snapshot",
    "WatchlistRegistry",
]

log = logging.getLogger(__name__)

DLQ_REASON_HEADER = "newswatch-dlq-reason"
DLQ_ERROR_HEADER = "newswatch-dlq-error"
_MAX_ERROR_BYTES = 1000


class Outputs(Protocol):
    """Where the processor writes. ``send`` queues one record and returns its delivery future."""

    async def send(
        self, topic: TopicSpec, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
    ) -> Awaitable[Any]: ...


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A matcher and the enabled watch lists it was built from; replaced as a whole on reload."""

    matcher: Matcher
    watchlists: tuple[Watchlist, ...]


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
        self.snapshot = self._build()

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
        return Snapshot(RegexMatcher(active), active)


class ArticleProcessor:
    """See the module docstring. One instance per worker; ``process`` is called for one message at a time."""

    def __init__(
        self,
        registry: WatchlistRegistry,
        gazetteer: Gazetteer,
        dedupe: Deduplicator,
        outputs: Outputs,
        metrics: ProcessorMetrics,
    ) -> None:
        self._registry = registry
        self._gazetteer = gazetteer
        self._dedupe = dedupe
        self._outputs = outputs
        self._metrics = metrics

    async def process(
        self, key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]
    ) -> str:
        """Handle one raw message; return its outcome (processed | duplicate | invalid | failed)."""
        started = time.monotonic()
        try:
            article = contracts.decode(Article, value, headers)
            if not article.article_id:
                raise InvalidMessageError("article_id is empty")
        except InvalidMessageError as exc:
            log.warning("invalid raw article sent to the DLQ", extra={"key": _text(key), "error": str(exc)})
            await self._dead_letter(key, value, headers, "invalid_message", str(exc))
            self._metrics.articles.labels(outcome="invalid").inc()
            return "invalid"
        # A replayed article (`newswatch replay`) is examined again once per replay id; alert ids stay
        # derived from (article, watch list), so subscribers are not told twice about the same alert.
        replay = contracts.header(headers, REPLAY_HEADER)
        seen_key = article.article_id if replay is None else f"{article.article_id}@replay:{replay}"
        if self._dedupe.seen(seen_key):
            self._metrics.articles.labels(outcome="duplicate").inc()
            return "duplicate"
        snapshot = self._registry.snapshot
        try:
            enriched = enrich(article, snapshot.matcher, self._gazetteer)
            enriched.duplicate_of = self._dedupe.duplicate_of(article)
            alerts = alerts_for(enriched, snapshot.watchlists)
        except Exception as exc:
            log.exception("article could not be processed", extra={"article_id": article.article_id})
            await self._dead_letter(key, value, headers, "processing_error", repr(exc))
            self._metrics.articles.labels(outcome="failed").inc()
            return "failed"
        article_key = article.article_id.encode("utf-8")
        pending = [await self._send(ARTICLES_ENRICHED, article_key, enriched)]
        pending += [await self._send(ALERTS, article_key, alert) for alert in alerts]
        for fut in pending:
            await fut
        self._dedupe.mark(article, seen_key=seen_key)
        for match in enriched.matches:
            self._metrics.match(match.kind)
        self._metrics.places.inc(len(enriched.places))
        self._metrics.alerts.inc(len(alerts))
        self._metrics.articles.labels(outcome="processed").inc()
        self._metrics.processing_duration.observe(time.monotonic() - started)
        log.debug(
            "article processed",
            extra={"article_id": article.article_id, "alerts": len(alerts), "matches": len(enriched.matches)},
        )
        return "processed"

    async def _send(self, topic: TopicSpec, key: bytes, message: Any) -> Awaitable[Any]:
        value, headers = contracts.encode(message)
        return await self._outputs.send(topic, key, value, headers)

    async def _dead_letter(
        self,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]],
        reason: str,
        error: str,
    ) -> None:
        kept = [(k, v) for k, v in headers if k not in (DLQ_REASON_HEADER, DLQ_ERROR_HEADER)]
        kept.append((DLQ_REASON_HEADER, reason.encode()))
        kept.append((DLQ_ERROR_HEADER, error.encode("utf-8", "replace")[:_MAX_ERROR_BYTES]))
        fut = await self._outputs.send(ARTICLES_RAW_DLQ, key, value, kept)
        await fut
        self._metrics.dlq_messages.labels(reason=reason).inc()


def _text(key: bytes | None) -> str:
    return key.decode("utf-8", "replace")[:200] if key else ""

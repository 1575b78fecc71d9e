"""Enrichment in worker processes beside the processor's event loop (``processor_enrich_processes``).

A worker enriches a batch in one thread, and the Python parts of enrichment hold the GIL: two threads
enriched no faster than one (1,797 against 1,757 articles/s). :class:`EnrichPool` forks N processes
once, after the gazetteer is loaded and before Faust starts its threads; they share the gazetteer's
pages with the worker (copy on write: it is not loaded again).

For each batch (:meth:`EnrichPool.begin`) the worker hands the later articles, as their raw records'
bytes, to the processes in N equal chunks, and enriches the first ones itself meanwhile. The agent then
decides those first messages (near-duplicates, alerts, outputs) while the processes still work, and
only then waits for the rest (:meth:`Pending.rest`, without blocking the event loop). The worker's
share is learnt: after each batch it moves a fifth of the way towards the share that would have
balanced that batch (the worker's articles per second, enriched and decided, against the processes'),
between 0.05 and 0.95 (``newswatch_processor_enrich_worker_share_ratio``). Each chunk is enriched as
:func:`~newswatch.processor.enrich.enrich_batch` does it in process, with its near-duplicate signatures
(MinHash, :func:`~newswatch.processor.neardup.signature`). A process returns each article's enrichment
without the article (the worker has it), serialised, or the error that article's enrichment raised.

Watch lists: the worker sends the current snapshot's lists (serialised once per reload) with every
chunk, under a version number; a process builds its matcher again when the version changes, so a
reload reaches every process at its next chunk.

Metrics: ``newswatch_processor_enrich_pool_articles_total`` counts the articles the processes enriched.
Faults: when a process dies (killed, out of memory), or a chunk is not answered within
:data:`CHUNK_TIMEOUT_SECONDS` of its submission (its processes are then killed), the pool is broken;
the worker logs it, counts
``newswatch_processor_enrich_pool_failures_total``, enriches the chunks that did not come back itself
and forks a new pool (then from a threaded process: the children only run enrichment). Any other error
of a chunk as a whole is handled the same way without the new pool. The pool's processes ignore SIGINT
(the worker stops them in order) and exit when the worker closes the pool; on Linux the kernel kills
them when the worker ends without closing it (``PR_SET_PDEATHSIG``: SIGKILL).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from newswatch.lifecycle import signal_when_parent_dies
from newswatch.processor.enrich import enrich_batch
from newswatch.processor.keywords import Matcher, build_matcher
from newswatch.processor.metrics import ProcessorMetrics
from newswatch.processor.neardup import article_text, signature
from newswatch.processor.places import Gazetteer
from newswatch.processor.regions import RegionTable
from newswatch.processor.registry import Snapshot
from newswatch.v1.article_pb2 import Article
from newswatch.v1.enriched_pb2 import EnrichedArticle
from newswatch.v1.watchlist_pb2 import Watchlist

__all__ = [
    "CHUNK_TIMEOUT_SECONDS",
    "CLOSE_GRACE_SECONDS",
    "EnrichPool",
    "Enriched",
    "Pending",
    "enrich_with_signatures",
]

log = logging.getLogger(__name__)

#: An article's enrichment (or what its enrichment raised) and its near-duplicate signature
#: (``b""``: too short for one; None: not computed).
Enriched = tuple[EnrichedArticle | Exception, bytes | None]


@dataclass(frozen=True, slots=True)
class _Inherited:
    """What the pool's processes inherit from the worker when they are forked."""

    gazetteer: Gazetteer
    regions: RegionTable


#: How long the worker waits for a chunk's answer, from its submission (a normal one takes tens of
#: milliseconds; the first after a watch-list reload also builds the process's matcher).
CHUNK_TIMEOUT_SECONDS = 60.0
#: How long closing the pool waits for its processes before it kills them.
CLOSE_GRACE_SECONDS = 5.0
#: Bounds of the worker's share of a batch, and how far one batch moves it towards its balance.
_SHARE_MIN, _SHARE_MAX, _SHARE_SMOOTHING = 0.05, 0.95, 0.2

# Set in the worker just before it forks; read in the processes only.
_inherited: _Inherited | None = None
# In a process of the pool: the matcher of the last watch-list version it was sent.
_matcher: tuple[int, Matcher] | None = None


def enrich_with_signatures(
    articles: Sequence[Article], matcher: Matcher, gazetteer: Gazetteer, regions: RegionTable
) -> list[Enriched]:
    """``enrich_batch`` of the articles and the signature of each article it enriched."""
    results = enrich_batch(articles, matcher, gazetteer, regions)
    return [
        (out, None if isinstance(out, Exception) else signature(article_text(article)) or b"")
        for article, out in zip(articles, results, strict=True)
    ]


def _start_process(worker: int) -> None:
    """Initializer of a pool process: the worker's signal handling is not its own, and the process
    ends with the worker (``worker``: its pid), even when the worker is killed."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal_when_parent_dies(signal.SIGKILL)
    if os.getppid() != worker:  # the worker died before the line above
        os._exit(1)


def _ready() -> bool:
    return _inherited is not None


def _enrich_chunk(
    version: int, lists: tuple[bytes, ...], raws: Sequence[bytes]
) -> list[tuple[bytes | str, bytes | None]]:
    """In a pool process: each raw Article's enrichment without the article, serialised (or the
    ``repr`` of what it raised, as a str) and its signature."""
    global _matcher
    if _inherited is None:
        raise RuntimeError("enrichment process started without the worker's gazetteer")
    if _matcher is None or _matcher[0] != version:
        watchlists = [Watchlist.FromString(b) for b in lists]
        _matcher = (version, build_matcher(watchlists))
    articles = [Article.FromString(raw) for raw in raws]
    out: list[tuple[bytes | str, bytes | None]] = []
    for enriched, sig in enrich_with_signatures(
        articles, _matcher[1], _inherited.gazetteer, _inherited.regions
    ):
        if isinstance(enriched, Exception):
            out.append((repr(enriched), None))
            continue
        enriched.ClearField("article")
        out.append((enriched.SerializeToString(), sig))
    return out


class EnrichPool:
    """See the module docstring. ``metrics``: where chunks the processes did not enrich, and the
    articles they did, are counted."""

    def __init__(
        self,
        processes: int,
        gazetteer: Gazetteer,
        regions: RegionTable,
        metrics: ProcessorMetrics | None = None,
        chunk_timeout: float = CHUNK_TIMEOUT_SECONDS,
    ) -> None:
        if processes < 1:
            raise ValueError("an enrichment pool needs at least one process")
        self.processes = processes
        self.chunk_timeout = chunk_timeout
        self._gazetteer = gazetteer
        self._regions = regions
        self._metrics = metrics
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False
        self._lists: tuple[Snapshot, int, tuple[bytes, ...]] | None = None
        self._version = 0
        self._share = 1 / (processes + 1)  # of each batch, enriched by the worker itself
        if metrics is not None:
            metrics.enrich_worker_share.set(self._share)

    def start(self) -> None:
        """Fork the processes now and wait until each has answered, at most ``chunk_timeout`` seconds
        (call before Faust starts). Raises RuntimeError or OSError (TimeoutError) if they do not."""
        global _inherited
        if self._closed:
            raise RuntimeError("the enrichment pool is closed")
        _inherited = _Inherited(self._gazetteer, self._regions)
        executor = ProcessPoolExecutor(
            self.processes,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_start_process,
            initargs=(os.getpid(),),
        )
        try:
            # The fork context starts every process at the first submit.
            for done in [executor.submit(_ready) for _ in range(self.processes)]:
                if not done.result(timeout=self.chunk_timeout):
                    raise RuntimeError("enrichment process started without the worker's gazetteer")
        except BaseException:
            _stop(executor)
            raise
        self._executor = executor
        log.info("enrichment processes started", extra={"processes": self.processes})

    @property
    def pids(self) -> list[int]:
        """The process ids of the pool's processes (none before start, after close or a failed restart)."""
        executor = self._executor
        if executor is None:
            return []
        return sorted(p.pid for p in executor._processes.values() if p.pid is not None)

    def close(self, grace: float = CLOSE_GRACE_SECONDS) -> None:
        """Stop the processes: a chunk under way may finish within ``grace`` seconds, then they are
        killed; idempotent."""
        self._closed = True
        executor, self._executor = self._executor, None
        if executor is None:
            return
        processes = list(executor._processes.values())
        executor.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + grace
        killed = 0
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
                killed += 1
        log.info("enrichment processes stopped", extra={"processes": self.processes, "killed": killed})

    async def enrich(
        self, articles: Sequence[Article], raws: Sequence[bytes], snapshot: Snapshot
    ) -> list[Enriched]:
        """Each article's enrichment and signature, in order; ``raws``: each article's record bytes."""
        pending = self.begin(articles, raws, snapshot)
        return pending.ready + await pending.rest()

    def begin(self, articles: Sequence[Article], raws: Sequence[bytes], snapshot: Snapshot) -> Pending:
        """Hand the later articles to the processes, enrich the first ones here, and return at once: the
        caller uses :attr:`Pending.ready` while the processes work, then awaits :meth:`Pending.rest`."""
        executor = self._executor
        if executor is None or len(articles) < 2:
            return Pending(self, self._here(articles, snapshot), [], snapshot)
        version, lists = self._watchlists(snapshot)
        mine = min(len(articles) - 1, max(1, round(self._share * len(articles))))
        size = -(-(len(articles) - mine) // self.processes)
        chunks: list[_Chunk] = []
        for start in range(mine, len(articles), size):
            end = min(start + size, len(articles))
            try:
                future = executor.submit(_enrich_chunk, version, lists, raws[start:end])
            except (BrokenProcessPool, RuntimeError) as exc:
                self._failed(exc, executor)
                future = None
            chunks.append(_Chunk(articles[start:end], future, executor))
        started = time.perf_counter()
        try:
            here = self._here(articles[:mine], snapshot)
        except BaseException:
            for chunk in chunks:
                if chunk.future is not None:
                    chunk.future.cancel()
            raise
        return Pending(self, here, chunks, snapshot, started)

    def _learn(self, mine: int, theirs: int, busy: float, away: float) -> None:
        """Move the worker's share of the next batches towards what balances the last one: ``mine``
        articles took the worker ``busy`` seconds (enriched and used), ``theirs`` took the processes
        ``away`` seconds (from submission to the last answer)."""
        if busy <= 0 or away <= 0 or not mine or not theirs:
            return
        here, there = mine / busy, theirs / away
        self._share += _SHARE_SMOOTHING * (here / (here + there) - self._share)
        self._share = min(_SHARE_MAX, max(_SHARE_MIN, self._share))
        if self._metrics is not None:
            self._metrics.enrich_worker_share.set(self._share)

    def _here(self, articles: Sequence[Article], snapshot: Snapshot) -> list[Enriched]:
        return enrich_with_signatures(articles, snapshot.matcher, self._gazetteer, self._regions)

    def _watchlists(self, snapshot: Snapshot) -> tuple[int, tuple[bytes, ...]]:
        if self._lists is None or self._lists[0] is not snapshot:
            self._version += 1
            lists = tuple(w.SerializeToString() for w in snapshot.watchlists)
            self._lists = (snapshot, self._version, lists)
        return self._lists[1], self._lists[2]

    def _failed(self, exc: BaseException, executor: ProcessPoolExecutor) -> None:
        """Count and log a chunk ``executor`` did not enrich; replace ``executor`` if it is broken
        and still the pool's (the other chunks of a batch it broke find it replaced)."""
        if self._metrics is not None:
            self._metrics.enrich_pool_failures.inc()
        hung = isinstance(exc, TimeoutError)
        broken = hung or isinstance(exc, BrokenProcessPool)
        log.error(
            "enrichment chunk not enriched by the pool; enriched in the worker",
            extra={"error": repr(exc), "pool_broken": broken, "timeout_seconds": self.chunk_timeout},
        )
        if not broken or self._executor is not executor:
            return
        self._executor = None
        if hung:  # its processes may never answer: they go, and the pool's other chunks fail at once
            _stop(executor)
        else:
            executor.shutdown(wait=False, cancel_futures=True)
        if self._closed:
            return
        try:
            self.start()
        except Exception:  # the worker enriches alone from now on
            log.exception("enrichment processes could not be restarted; the worker enriches alone")


@dataclass(slots=True)
class _Chunk:
    """Articles handed to the processes, with their future (None: could not be submitted)."""

    articles: Sequence[Article]
    future: Future[list[tuple[bytes | str, bytes | None]]] | None
    executor: ProcessPoolExecutor
    done_at: float = 0.0

    def __post_init__(self) -> None:
        if self.future is not None:
            self.future.add_done_callback(self._done)

    def _done(self, _: object) -> None:
        self.done_at = time.perf_counter()


class Pending:
    """A batch's enrichment under way (:meth:`EnrichPool.begin`): ``ready`` holds the results of the
    batch's first articles, :meth:`rest` those of the others, once."""

    def __init__(
        self,
        pool: EnrichPool,
        ready: list[Enriched],
        chunks: list[_Chunk],
        snapshot: Snapshot,
        started: float = 0.0,
    ) -> None:
        self.ready = ready
        self._pool, self._chunks, self._snapshot, self._started = pool, chunks, snapshot, started

    async def rest(self) -> list[Enriched]:
        """The results of the articles after ``ready``, in order (a chunk the processes did not enrich
        is enriched here); the first call takes them, later calls return none."""
        chunks, self._chunks = self._chunks, []
        asked = time.perf_counter()
        pool, results, answered = self._pool, [], 0
        for chunk in chunks:
            if chunk.future is None:  # counted when its submit failed
                results += pool._here(chunk.articles, self._snapshot)
                continue
            try:
                wait = self._started + pool.chunk_timeout - time.perf_counter()
                answers = await asyncio.wait_for(asyncio.wrap_future(chunk.future), max(0.0, wait))
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                # The pool was closed before the chunk ran: it is enriched here.
                results += pool._here(chunk.articles, self._snapshot)
                continue
            except Exception as exc:  # noqa: BLE001 - the chunk is enriched here instead
                pool._failed(exc, chunk.executor)
                results += pool._here(chunk.articles, self._snapshot)
                continue
            results += [_read(a, answer) for a, answer in zip(chunk.articles, answers, strict=True)]
            answered += len(chunk.articles)
        if chunks and answered == len(results):
            last = max(chunk.done_at for chunk in chunks) or time.perf_counter()
            pool._learn(len(self.ready), answered, asked - self._started, last - self._started)
        if answered and pool._metrics is not None:
            pool._metrics.enrich_pool_articles.inc(answered)
        return results


def _stop(executor: ProcessPoolExecutor) -> None:
    """Kill the executor's processes and shut it down without waiting."""
    for process in list(executor._processes.values()):
        process.kill()
    executor.shutdown(wait=False, cancel_futures=True)


def _read(article: Article, answer: tuple[bytes | str, bytes | None]) -> Enriched:
    data, sig = answer
    if isinstance(data, str):
        return RuntimeError(f"enrichment failed in a pool process: {data}"), None
    enriched = EnrichedArticle.FromString(data)
    enriched.article.CopyFrom(article)
    return enriched, sig

"""EnrichPool: enrichment in forked processes gives what the worker gives alone, follows watch-list
reloads, survives a dead process and an article or chunk that fails, and stops its processes."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from newswatch import contracts
from newswatch.processor import enrichpool
from newswatch.processor.agents import RawMessage
from newswatch.processor.enrichpool import Enriched, EnrichPool, enrich_with_signatures
from newswatch.processor.metrics import ProcessorMetrics
from newswatch.processor.places import default_gazetteer
from newswatch.processor.regions import default_regions
from newswatch.processor.registry import Snapshot, WatchlistRegistry
from newswatch.processor.watchlist import default_watchlist, parse_watchlists
from newswatch.v1.article_pb2 import Article
from newswatch.v1.enriched_pb2 import EnrichedArticle
from tests.helpers import kill_parent_of, process_alive, wait_gone
from tests.processor.test_agents import Rig, syndicated_pair

TEXTS = [
    "Heavy clashes with ISIS fighters near Palmyra, Syria, on Sunday.",
    "Les combattants de l'État islamique ont quitté Palmyre, selon l'OSDH.",
    "Iraqi forces retook the town of Hit, west of Ramadi in Anbar province.",
    "The airstrike hit a convoy; the song was a smash hit in Paris, France.",
    "A harvest festival drew a large crowd in Lyon.",
    "Daech a revendiqué l'attentat de Bagdad, en Irak.",
    "",
]


def articles(texts: Sequence[str] = TEXTS, prefix: str = "a") -> list[Article]:
    return [
        Article(article_id=f"{prefix}-{i}", feed_id="f", title=f"Report {i}", content=" ".join([text] * 8))
        for i, text in enumerate(texts)
    ]


def comparable(result: Enriched) -> tuple[bytes | str, bytes | None]:
    """An enrichment without its processing time, serialised (or the text of what it raised)."""
    enriched, sig = result
    if isinstance(enriched, Exception):
        return str(enriched), sig
    copy = EnrichedArticle()
    copy.CopyFrom(enriched)
    copy.ClearField("processed_at")
    return copy.SerializeToString(deterministic=True), sig


class Pool:
    """A pool over the full gazetteer with its own metrics."""

    def __init__(self, processes: int) -> None:
        self.registry = CollectorRegistry()
        self.metrics = ProcessorMetrics(self.registry)
        self.gazetteer = default_gazetteer()
        self.regions = default_regions()
        self.watchlists = WatchlistRegistry(default_watchlist(), self.metrics)
        self.pool = EnrichPool(processes, self.gazetteer, self.regions, self.metrics)

    def value(self, name: str) -> float:
        return self.registry.get_sample_value(name) or 0.0

    async def enrich(self, batch: Sequence[Article], snapshot: Snapshot | None = None) -> list[Enriched]:
        raws = [a.SerializeToString() for a in batch]
        return await self.pool.enrich(batch, raws, snapshot or self.watchlists.snapshot)

    def here(self, batch: Sequence[Article], snapshot: Snapshot | None = None) -> list[Enriched]:
        matcher = (snapshot or self.watchlists.snapshot).matcher
        return enrich_with_signatures(batch, matcher, self.gazetteer, self.regions)


@pytest.fixture
def pool() -> Iterator[Pool]:
    rig = Pool(2)
    rig.pool.start()
    try:
        yield rig
    finally:
        rig.pool.close()


async def test_processes_enrich_as_the_worker_does(pool: Pool) -> None:
    batch = articles()
    got = await pool.enrich(batch)
    assert [comparable(r) for r in got] == [comparable(r) for r in pool.here(batch)]
    # 7 articles, a third of them first (2) here, then chunks of 3 and 2 in the processes.
    assert pool.value("newswatch_processor_enrich_pool_articles_total") == 5
    assert pool.value("newswatch_processor_enrich_pool_failures_total") == 0
    enriched = [e for e, _ in got]
    assert all(isinstance(e, EnrichedArticle) for e in enriched)
    first = enriched[0]
    assert isinstance(first, EnrichedArticle) and first.article == batch[0]
    assert {m.term_id for m in first.matches} == {"isis", "palmyra"}
    assert all(sig for _, sig in got[:-1]) and got[-1][1] == b""  # the empty article has none


async def test_a_batch_of_one_is_enriched_in_the_worker(pool: Pool) -> None:
    (got,) = await pool.enrich(articles(TEXTS[:1]))
    assert comparable(got) == comparable(pool.here(articles(TEXTS[:1]))[0])
    assert pool.value("newswatch_processor_enrich_pool_articles_total") == 0


async def test_processes_follow_a_watch_list_reload(pool: Pool) -> None:
    batch = articles(["Zenobia's statue stood in the square."] * 3, prefix="z")
    before = await pool.enrich(batch)
    assert all(not e.matches for e, _ in before if isinstance(e, EnrichedArticle))
    (extra,) = parse_watchlists({"id": "queens", "terms": [{"id": "zenobia", "aliases": ["Zenobia"]}]})
    pool.watchlists.on_change("queens", extra)
    after = await pool.enrich(batch)
    assert [comparable(r) for r in after] == [comparable(r) for r in pool.here(batch)]
    for enriched, _ in after:
        assert isinstance(enriched, EnrichedArticle)
        assert {m.term_id for m in enriched.matches} == {"zenobia"}


async def test_a_dead_process_is_replaced_and_its_chunk_enriched_in_the_worker(pool: Pool) -> None:
    batch = articles()
    before = pool.pool.pids
    assert len(before) == 2
    os.kill(before[0], signal.SIGKILL)
    wait_gone(before[0])
    got = await pool.enrich(batch)
    assert [comparable(r) for r in got] == [comparable(r) for r in pool.here(batch)]
    assert pool.value("newswatch_processor_enrich_pool_failures_total") >= 1
    after = pool.pool.pids
    assert len(after) == 2 and not set(after) & set(before)
    failures = pool.value("newswatch_processor_enrich_pool_failures_total")
    pooled = pool.value("newswatch_processor_enrich_pool_articles_total")
    again = await pool.enrich(batch)
    assert [comparable(r) for r in again] == [comparable(r) for r in pool.here(batch)]
    assert pool.value("newswatch_processor_enrich_pool_failures_total") == failures
    assert pool.value("newswatch_processor_enrich_pool_articles_total") > pooled


async def test_an_article_that_fails_in_a_process_fails_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    real = enrichpool.enrich_batch

    def failing(batch: Sequence[Article], *args: object) -> list[EnrichedArticle | Exception]:
        out = real(batch, *args)  # type: ignore[arg-type]
        return [ValueError("boom") if a.title == "Report 3" else e for a, e in zip(batch, out, strict=True)]

    monkeypatch.setattr(enrichpool, "enrich_batch", failing)  # before the fork: the processes have it
    rig = Pool(1)
    rig.pool.start()
    try:
        got = await rig.enrich(articles(TEXTS[:4]))
    finally:
        rig.pool.close()
    # 4 articles: the first 2 here, the last 2 in the process.
    failed = got[3][0]
    assert isinstance(failed, RuntimeError) and "in a pool process" in str(failed) and "boom" in str(failed)
    assert got[3][1] is None
    assert all(isinstance(e, EnrichedArticle) for e, _ in got[:3])
    assert rig.value("newswatch_processor_enrich_pool_failures_total") == 0
    assert rig.value("newswatch_processor_enrich_pool_articles_total") == 2


async def test_a_chunk_that_fails_in_a_process_is_enriched_in_the_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("no matcher here")

    monkeypatch.setattr(enrichpool, "build_matcher", broken)  # the processes cannot build theirs
    rig = Pool(2)
    rig.pool.start()
    try:
        pids = rig.pool.pids
        batch = articles()
        got = await rig.enrich(batch)
        assert [comparable(r) for r in got] == [comparable(r) for r in rig.here(batch)]
        assert rig.value("newswatch_processor_enrich_pool_failures_total") == 2
        assert rig.value("newswatch_processor_enrich_pool_articles_total") == 0
        assert rig.pool.pids == pids  # not broken: not replaced
    finally:
        rig.pool.close()


async def test_a_chunk_not_answered_in_time_is_enriched_in_the_worker_and_the_pool_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def stuck(*_: object) -> None:
        time.sleep(600)  # as a process that never answers

    monkeypatch.setattr(enrichpool, "build_matcher", stuck)  # in the processes only: the worker has its own
    rig = Pool(1)
    rig.pool = EnrichPool(1, rig.gazetteer, rig.regions, rig.metrics, chunk_timeout=1.0)
    rig.pool.start()
    try:
        (pid,) = rig.pool.pids
        batch = articles()
        started = time.monotonic()
        got = await rig.enrich(batch)
        assert time.monotonic() - started < 30
        assert [comparable(r) for r in got] == [comparable(r) for r in rig.here(batch)]
        assert rig.value("newswatch_processor_enrich_pool_failures_total") == 1
        wait_gone(pid)
        (replaced,) = rig.pool.pids
        assert replaced != pid
    finally:
        rig.pool.close()


async def test_close_stops_the_processes_and_is_idempotent() -> None:
    rig = Pool(2)
    rig.pool.start()
    pids = rig.pool.pids
    rig.pool.close()
    rig.pool.close()
    assert rig.pool.pids == []
    assert not [pid for pid in pids if process_alive(pid)]
    batch = articles(TEXTS[:3])
    got = await rig.enrich(batch)  # enriched in the worker
    assert [comparable(r) for r in got] == [comparable(r) for r in rig.here(batch)]
    with pytest.raises(RuntimeError, match="closed"):
        rig.pool.start()


async def test_close_kills_a_process_that_does_not_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    def stuck(*_: object) -> None:
        time.sleep(600)

    monkeypatch.setattr(enrichpool, "build_matcher", stuck)
    rig = Pool(1)
    rig.pool = EnrichPool(1, rig.gazetteer, rig.regions, rig.metrics, chunk_timeout=600.0)
    rig.pool.start()
    (pid,) = rig.pool.pids
    batch = articles()
    raws = [a.SerializeToString() for a in batch]
    pending = rig.pool.begin(batch, raws, rig.watchlists.snapshot)
    await asyncio.sleep(0.5)  # the process is in its chunk now
    queued = [rig.pool.begin(batch, raws, rig.watchlists.snapshot) for _ in range(3)]  # behind it
    started = time.monotonic()
    rig.pool.close(grace=1.0)
    assert time.monotonic() - started < 10
    assert not process_alive(pid)
    expected = [comparable(r) for r in rig.here(batch)]
    # The chunk the process never answered, and those it never began (cancelled), are enriched here.
    for under_way in (pending, *queued):
        rest = await under_way.rest()
        assert [comparable(r) for r in under_way.ready + rest] == expected


def test_a_pool_needs_a_process() -> None:
    with pytest.raises(ValueError, match="at least one process"):
        EnrichPool(0, default_gazetteer(), default_regions())


def test_processes_exit_when_the_worker_is_killed(tmp_path: Path) -> None:
    script = (
        "import time\n"
        "from newswatch.processor.enrichpool import EnrichPool\n"
        "from newswatch.processor.places import default_gazetteer\n"
        "from newswatch.processor.regions import default_regions\n"
        "pool = EnrichPool(2, default_gazetteer(), default_regions())\n"
        "pool.start()\n"
        "print(*pool.pids, flush=True)\n"
        "time.sleep(120)\n"
    )
    pids = kill_parent_of(script, tmp_path)
    assert len(pids) == 2
    for pid in pids:
        wait_gone(pid)


async def test_the_processor_with_processes_publishes_what_it_publishes_alone(seed_text: str) -> None:
    """The agent's outputs for a batch (enriched articles, alerts, near-duplicate clusters) are the
    same with two enrichment processes as without."""
    original, copy = syndicated_pair(seed_text, "sf-1", "mondo-1")
    batch = [original, copy, *articles()]
    alone = Rig()
    pooled = Rig(pool=lambda metrics: EnrichPool(2, default_gazetteer(), default_regions(), metrics))
    try:
        for rig in (alone, pooled):
            messages = []
            for article in batch:
                value, headers = contracts.encode(article)
                messages.append(RawMessage(article.article_id.encode(), value, headers))
            await rig.processor.process_batch(messages)
        assert pooled.value("newswatch_processor_enrich_pool_articles_total") > 0
        assert alone.enriched() and [e.SerializeToString() for e in _cleared(alone.enriched())] == [
            e.SerializeToString() for e in _cleared(pooled.enriched())
        ]
        assert [(a.alert_id, a.score) for a in alone.alerts()] == [
            (a.alert_id, a.score) for a in pooled.alerts()
        ]
        assert [e.duplicate_of for e in pooled.enriched()] == ["", "sf-1", *[""] * len(TEXTS)]
    finally:
        if pooled.pool is not None:
            pooled.pool.close()


def _cleared(items: list[EnrichedArticle]) -> list[EnrichedArticle]:
    for item in items:
        item.ClearField("processed_at")
    return items


@pytest.mark.parametrize(
    ("mine", "theirs", "busy", "away", "direction"),
    [
        (50, 100, 1.0, 1.0, "down"),  # the worker did 50/s, the processes 100/s: balanced at a third
        (50, 100, 0.5, 2.0, "up"),  # the worker (100/s) waited for the processes (50/s)
        (50, 100, 2.0, 0.5, "down"),  # the processes (200/s) waited for the worker (25/s)
        (50, 100, 1.0, 2.0, "same"),  # 50/s each: balanced at one half
        (0, 100, 1.0, 1.0, "same"),  # nothing to learn from
        (50, 100, 0.0, 1.0, "same"),
    ],
)
def test_the_worker_share_moves_towards_the_balance(
    mine: int, theirs: int, busy: float, away: float, direction: str
) -> None:
    rig = Pool(1)
    pool = rig.pool
    pool._share = 0.5
    pool._learn(mine, theirs, busy, away)
    moved = {True: "up", False: "down"}[pool._share > 0.5] if pool._share != 0.5 else "same"
    assert moved == direction
    assert rig.value("newswatch_processor_enrich_worker_share_ratio") == pool._share


def test_the_worker_share_stays_within_its_bounds() -> None:
    pool = Pool(1).pool
    for _ in range(100):
        pool._learn(1, 1000, 10.0, 0.001)
    assert pool._share == pytest.approx(0.05)
    for _ in range(100):
        pool._learn(1000, 1, 0.001, 10.0)
    assert pool._share == pytest.approx(0.95)


async def test_begin_gives_the_first_results_at_once_and_the_rest_once(pool: Pool) -> None:
    batch = articles()
    raws = [a.SerializeToString() for a in batch]
    pending = pool.pool.begin(batch, raws, pool.watchlists.snapshot)
    assert len(pending.ready) == 2  # a third of 7, rounded
    rest = await pending.rest()
    expected = [comparable(r) for r in pool.here(batch)]
    assert [comparable(r) for r in pending.ready + rest] == expected
    assert await pending.rest() == []

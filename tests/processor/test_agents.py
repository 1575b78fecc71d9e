"""ArticleProcessor and WatchlistRegistry with fake outputs, dict stores and an in-memory index (no Kafka)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from newswatch import contracts
from newswatch.errors import SettingsError
from newswatch.processor.agents import (
    DLQ_ERROR_HEADER,
    DLQ_REASON_HEADER,
    ArticleProcessor,
    Outgoing,
    RawMessage,
    WatchlistRegistry,
)
from newswatch.processor.app import consumer_lag, run_worker
from newswatch.processor.dedupe import Deduplicator
from newswatch.processor.dupindex import Entry, NearDupIndex
from newswatch.processor.duprecords import decode_record
from newswatch.processor.enrich import alert_id
from newswatch.processor.enrichpool import EnrichPool
from newswatch.processor.metrics import MAX_WATCHLIST_LABELS, ProcessorMetrics
from newswatch.processor.places import default_gazetteer
from newswatch.processor.runtime import region_table
from newswatch.processor.seen import SeenLog
from newswatch.processor.watchlist import default_watchlist, parse_watchlists
from newswatch.replay import REPLAY_HEADER
from newswatch.settings import Settings
from newswatch.topics import ALERTS, ARTICLES_ENRICHED, ARTICLES_RAW_DLQ, TopicSpec
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.article_pb2 import Article
from newswatch.v1.enriched_pb2 import EnrichedArticle

SEEN_LOG = TopicSpec("test-processor-seen-changelog", "chunk id", "seen chunk", compacted=True)
INDEX_LOG = TopicSpec("test-processor-neardup-changelog", "chunk id", "index entries", compacted=True)
Sent = tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]], int | None]


class FakeOutputs:
    """Records what is published; deliveries succeed unless ``fail`` is set (then the awaitable raises)."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.calls = 0
        self.fail: Exception | None = None

    async def publish(self, records: Sequence[Outgoing]) -> Awaitable[Any]:
        self.calls += 1
        self.sent += [(r.topic.name, r.key, r.value, list(r.headers), r.partition) for r in records]
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.fail is not None:
            fut.set_exception(self.fail)
        else:
            fut.set_result(None)
        return fut

    def on(self, topic: TopicSpec) -> list[Sent]:
        return [s for s in self.sent if s[0] == topic.name]


class Rig:
    def __init__(
        self,
        index: NearDupIndex | None = None,
        seen: SeenLog | None = None,
        pool: Callable[[ProcessorMetrics], EnrichPool] | None = None,
    ) -> None:
        """``pool``: makes the enrichment processes (started here) from the rig's metrics."""
        self.registry = CollectorRegistry()
        self.metrics = ProcessorMetrics(self.registry)
        self.watchlists = WatchlistRegistry(default_watchlist(), self.metrics)
        self.watchlists.mark_loaded()
        self.seen = seen if seen is not None else SeenLog(100_000, 3)
        self.index = index if index is not None else NearDupIndex()
        self.outputs = FakeOutputs()
        self.pool = pool(self.metrics) if pool is not None else None
        if self.pool is not None:
            self.pool.start()
        self.processor = ArticleProcessor(
            self.watchlists,
            default_gazetteer(),
            Deduplicator(self.seen, self.index, SEEN_LOG, INDEX_LOG),
            self.outputs,
            self.metrics,
            pool=self.pool,
        )

    def value(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels or None) or 0.0

    async def feed(self, article: Article, partition: int = 0) -> str:
        value, headers = contracts.encode(article)
        return await self.processor.process(article.article_id.encode(), value, headers, partition)

    def alerts(self) -> list[Alert]:
        return [contracts.decode(Alert, a[2], a[3]) for a in self.outputs.on(ALERTS)]

    def enriched(self) -> list[EnrichedArticle]:
        return [contracts.decode(EnrichedArticle, e[2], e[3]) for e in self.outputs.on(ARTICLES_ENRICHED)]

    def index_log(self) -> dict[str, Entry]:
        """The near-duplicate changelog's entries in order of writing (article_id -> last entry)."""
        entries: dict[str, Entry] = {}
        for _, key, value, _, _ in self.outputs.on(INDEX_LOG):
            assert key is not None and value is not None
            entries.update((e.article_id, e) for e in decode_record(key, value))
        return entries

    def restarted(self) -> Rig:
        """A new worker whose seen set and index are rebuilt from this one's changelog records."""
        seen = SeenLog(self.seen.max_articles, self.seen.partitions)
        index = NearDupIndex()
        for _, key, value, _, partition in self.outputs.on(SEEN_LOG):
            seen.apply(partition or 0, key, value)
        for entry in self.index_log().values():
            index.add(entry, now=time.time())
        return Rig(index, seen)


@pytest.fixture
def rig() -> Rig:
    return Rig()


def _article(aid: str, title: str, content: str = "") -> Article:
    return Article(article_id=aid, feed_id="f", title=title, content=content)


async def test_processed_article_yields_enriched_and_alert(rig: Rig) -> None:
    assert await rig.feed(_article("a1", "Daesh fighters near Palmyra")) == "processed"
    (enriched,) = rig.outputs.on(ARTICLES_ENRICHED)
    (alert,) = rig.outputs.on(ALERTS)
    assert enriched[1] == alert[1] == b"a1"
    decoded = contracts.decode(EnrichedArticle, enriched[2], enriched[3])
    assert {m.term_id for m in decoded.matches} == {"isis", "palmyra"}
    assert contracts.decode(Alert, alert[2], alert[3]).watchlist_id == "default"
    assert "a1" in rig.seen
    ((_, chunk_id, chunk, headers, partition),) = rig.outputs.on(SEEN_LOG)
    assert chunk_id is not None and len(chunk_id) == 8
    assert partition == 0 and chunk is not None and headers == []
    assert rig.value("newswatch_processor_articles_total", outcome="processed") == 1
    assert rig.value("newswatch_processor_alerts_total", watchlist="default") == 1
    assert rig.value("newswatch_processor_matches_total", kind="organisation", watchlist="default") == 1
    assert rig.value("newswatch_processor_matches_total", kind="place", watchlist="default") == 1
    assert rig.value("newswatch_processor_processing_duration_seconds_count") == 1
    assert rig.value("newswatch_processor_batch_articles_count") == 1


async def test_same_article_twice_produces_nothing_the_second_time(rig: Rig) -> None:
    article = _article("a1", "Daesh")
    assert await rig.feed(article) == "processed"
    assert await rig.feed(article) == "duplicate"
    assert len(rig.outputs.on(ALERTS)) == 1 and len(rig.outputs.on(ARTICLES_ENRICHED)) == 1
    assert rig.value("newswatch_processor_articles_total", outcome="duplicate") == 1


async def test_exact_copy_under_another_id_points_to_the_first_and_is_alerted_once(rig: Rig) -> None:
    await rig.feed(_article("a1", "Daesh", "same body"))
    await rig.feed(_article("a2", "Daesh", "same body"), partition=2)
    (first,) = rig.alerts()
    assert first.article_id == "a1" and first.duplicate_cluster_id == "a1"
    assert first.alert_id == alert_id("a1", "default")
    assert [e.duplicate_of for e in rig.enriched()] == ["", "a1"]
    assert rig.value("newswatch_processor_near_duplicates_total", match="exact") == 1
    assert rig.value("newswatch_processor_alerts_suppressed_total", watchlist="default") == 1
    # Both were recorded durably, each on its own source partition.
    chunks = [
        (s[4], [e.article_id for e in decode_record(s[1] or b"", s[2] or b"")])
        for s in rig.outputs.on(INDEX_LOG)
    ]
    assert chunks == [(0, ["a1"]), (2, ["a2"])]
    assert [s[4] for s in rig.outputs.on(SEEN_LOG)] == [0, 2]
    assert rig.index_log()["a2"].cluster_id == "a1"


async def test_a_batch_writes_one_index_chunk_per_source_partition(rig: Rig) -> None:
    messages = []
    for n, partition in enumerate((0, 1, 0, 1, 0)):
        article = _article(f"batch-{n}", f"Report {n}", f"Body number {n} of the batch, all different.")
        value, headers = contracts.encode(article)
        messages.append(RawMessage(article.article_id.encode(), value, headers, partition))
    assert await rig.processor.process_batch(messages) == ["processed"] * 5
    chunks = rig.outputs.on(INDEX_LOG)
    assert sorted(-1 if s[4] is None else s[4] for s in chunks) == [0, 1]  # explicit partitions
    assert all(len(s[1] or b"") == 8 for s in chunks)
    by_partition = {s[4]: [e.article_id for e in decode_record(s[1] or b"", s[2] or b"")] for s in chunks}
    assert by_partition == {0: ["batch-0", "batch-2", "batch-4"], 1: ["batch-1", "batch-3"]}
    assert len({s[1] for s in chunks}) == 2  # distinct chunk ids
    assert sorted(-1 if s[4] is None else s[4] for s in rig.outputs.on(SEEN_LOG)) == [0, 1]


CT = [("content-type", contracts.content_type_for(Article).encode())]


@pytest.mark.parametrize(
    ("value", "headers"),
    [
        (b"\xff\xffjunk", CT),
        (Article(article_id="x").SerializeToString(), []),
        (Article(article_id="x").SerializeToString(), [("content-type", b"application/json")]),
        (Article(title="no id").SerializeToString(), CT),
        (None, CT),
    ],
)  # fmt: skip
async def test_invalid_messages_go_to_the_dlq_as_received(
    rig: Rig, value: bytes | None, headers: list[tuple[str, bytes]]
) -> None:
    assert await rig.processor.process(b"k1", value, headers) == "invalid"
    (dlq,) = rig.outputs.on(ARTICLES_RAW_DLQ)
    assert dlq[1] == b"k1" and dlq[2] == value
    assert contracts.header(dlq[3], DLQ_REASON_HEADER) == "invalid_message"
    assert contracts.header(dlq[3], DLQ_ERROR_HEADER)
    assert dlq[3][: len(headers)] == headers
    assert rig.value("newswatch_processor_dlq_messages_total", reason="invalid_message") == 1
    assert rig.value("newswatch_processor_articles_total", outcome="invalid") == 1
    assert rig.outputs.on(ARTICLES_ENRICHED) == []


async def test_failed_delivery_leaves_the_article_unseen(rig: Rig) -> None:
    rig.outputs.fail = ConnectionError("broker gone")
    with pytest.raises(ConnectionError):
        await rig.feed(_article("a1", "Daesh"))
    assert len(rig.seen) == 0 and rig.outputs.on(SEEN_LOG) == []
    rig.outputs.fail = None
    assert await rig.feed(_article("a1", "Daesh")) == "processed"


async def test_processing_error_goes_to_the_dlq(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr("newswatch.processor.agents.enrich", broken)
    monkeypatch.setattr("newswatch.processor.agents.enrich_batch", broken)  # then article by article
    assert await rig.feed(_article("a1", "Daesh")) == "failed"
    (dlq,) = rig.outputs.on(ARTICLES_RAW_DLQ)
    assert contracts.header(dlq[3], DLQ_REASON_HEADER) == "processing_error"
    assert len(rig.seen) == 0


async def test_an_article_failing_in_the_batch_enrichment_alone_goes_to_the_dlq(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    gazetteer = rig.processor._gazetteer
    tag = gazetteer.tag_fields

    def tag_unless_poisoned(texts: Sequence[str]) -> Any:
        if "poison" in texts[0]:
            raise RuntimeError("bug")
        return tag(texts)

    monkeypatch.setattr(gazetteer, "tag_fields", tag_unless_poisoned)
    messages = []
    for n, title in enumerate(("Daesh near Palmyra", "poison", "Daesh again")):
        value, headers = contracts.encode(_article(f"mix-{n}", title))
        messages.append(RawMessage(f"mix-{n}".encode(), value, headers))
    # Also a copy of the poisoned article later in the batch: its first failed, so it is tried alone.
    messages.append(messages[1])
    assert await rig.processor.process_batch(messages) == ["processed", "failed", "processed", "failed"]
    assert len(rig.outputs.on(ARTICLES_RAW_DLQ)) == 2
    assert "mix-0" in rig.seen and "mix-2" in rig.seen and "mix-1" not in rig.seen


async def test_watchlist_hot_reload_swaps_the_matcher(rig: Rig) -> None:
    (extra,) = parse_watchlists({"id": "extra", "terms": [{"id": "z", "aliases": ["zorblax"]}]})
    before = rig.watchlists.snapshot
    rig.watchlists.on_change("extra", extra)
    assert rig.watchlists.snapshot is not before
    assert [w.watchlist_id for w in rig.watchlists.snapshot.watchlists] == ["default", "extra"]
    await rig.feed(_article("a1", "zorblax and Daesh"))
    alerts = [contracts.decode(Alert, a[2], a[3]).watchlist_id for a in rig.outputs.on(ALERTS)]
    assert alerts == ["default", "extra"]
    assert rig.watchlists.snapshot.weights["extra"] == {"z": 1.0}  # kept per reload for scoring
    (heavier,) = parse_watchlists(
        {"id": "extra", "threshold": 3, "terms": [{"id": "z", "aliases": ["zorblax"], "weight": 2}]}
    )
    rig.watchlists.on_change("extra", heavier)
    assert rig.watchlists.snapshot.weights["extra"] == {"z": 2.0}
    await rig.feed(_article("a2", "zorblax"))  # 2 < 3: the reloaded weights are the ones counted
    assert len(rig.outputs.on(ALERTS)) == 2
    rig.watchlists.on_change("extra", None)
    assert [w.watchlist_id for w in rig.watchlists.snapshot.watchlists] == ["default"]
    assert set(rig.watchlists.snapshot.weights) == {"default"}
    assert rig.value("newswatch_processor_watchlist_reloads_total") == 3
    assert rig.value("newswatch_processor_watchlists_active") == 1


async def test_default_list_can_be_replaced_or_disabled_from_kafka(rig: Rig) -> None:
    disabled = default_watchlist()
    disabled.enabled = False
    rig.watchlists.on_change("default", disabled)
    assert rig.watchlists.snapshot.watchlists == ()
    await rig.feed(_article("a1", "Daesh"))
    assert rig.outputs.on(ALERTS) == []


async def test_invalid_watchlist_from_kafka_is_refused(rig: Rig) -> None:
    (bad,) = parse_watchlists({"id": "bad", "terms": [{"id": "z", "aliases": ["zorblax"]}]})
    del bad.terms[0].aliases[:]
    before = rig.watchlists.snapshot
    rig.watchlists.on_change("bad", bad)
    (mismatch,) = parse_watchlists({"id": "other", "terms": [{"id": "z", "aliases": ["zorblax"]}]})
    rig.watchlists.on_change("bad", mismatch)
    assert rig.watchlists.snapshot is before
    assert rig.value("newswatch_processor_watchlist_errors_total") == 2


def test_metric_series_start_at_zero(rig: Rig) -> None:
    for outcome in ("processed", "duplicate", "invalid", "failed"):
        assert rig.registry.get_sample_value("newswatch_processor_articles_total", {"outcome": outcome}) == 0
    for reason in ("invalid_message", "processing_error"):
        assert (
            rig.registry.get_sample_value("newswatch_processor_dlq_messages_total", {"reason": reason}) == 0
        )


# --- near-duplicates across feeds -------------------------------------------------------------------


def syndicated_pair(
    seed_text: str, first_id: str, copy_id: str, body: list[str] | None = None
) -> tuple[Article, Article]:
    """The seed article as South Front published it, and as Mondialisation.ca republished it (its own
    header lines and French footer) with a changed title and a few edited words. ``body`` (paragraphs)
    replaces the seed's body, header and footer staying those of the seed."""
    lines = [line for line in seed_text.splitlines() if line.strip()]
    footer_at = next(i for i, line in enumerate(lines) if line.startswith("La source originale"))
    paragraphs = body or lines[7:footer_at]
    original = Article(
        article_id=first_id, feed_id="southfront", title=lines[0], content="\n\n".join(paragraphs)
    )
    republished = "\n".join([*lines[1:7], *paragraphs, *lines[footer_at:]])
    copy = Article(
        article_id=copy_id,
        feed_id="mondialisation",
        title="Syrie, Irak : " + lines[0],
        content=republished.replace("liberated", "freed").replace("April 3", "3 April"),
    )
    return original, copy


async def test_syndicated_copy_is_duplicate_of_the_first_and_not_alerted_again(
    rig: Rig, seed_text: str
) -> None:
    original, copy = syndicated_pair(seed_text, "sf-1", "mondo-1")
    assert await rig.feed(original, partition=1) == "processed"
    assert await rig.feed(copy, partition=2) == "processed"
    first, second = rig.enriched()
    assert (first.duplicate_of, second.duplicate_of) == ("", "sf-1")
    assert {m.term_id for m in second.matches} >= {"isis", "palmyra"}  # enriched all the same
    (alert,) = rig.alerts()
    assert (alert.article_id, alert.duplicate_cluster_id) == ("sf-1", "sf-1")
    assert rig.value("newswatch_processor_near_duplicates_total", match="similar") == 1
    assert rig.value("newswatch_processor_alerts_suppressed_total", watchlist="default") == 1
    assert rig.value("newswatch_processor_alerts_total", watchlist="default") == 1


async def test_unrelated_articles_are_not_clustered(rig: Rig, seed_text: str) -> None:
    original, _ = syndicated_pair(seed_text, "sf-1", "unused")
    other = Article(
        article_id="other-1",
        title="Daesh claims attack near Palmyra",
        content=" ".join(
            f"Report {i}: officials in Damascus said the road to Palmyra was closed after Daesh fighters "
            f"attacked checkpoint number {i} overnight, and residents described heavy shelling."
            for i in range(12)
        ),
    )
    await rig.feed(original)
    await rig.feed(other)
    assert [e.duplicate_of for e in rig.enriched()] == ["", ""]
    assert [(a.article_id, a.duplicate_cluster_id) for a in rig.alerts()] == [
        ("sf-1", "sf-1"),
        ("other-1", "other-1"),
    ]
    assert rig.value("newswatch_processor_near_duplicates_total", match="similar") == 0


async def test_a_copy_alerts_for_a_watch_list_the_cluster_was_not_alerted_for(
    rig: Rig, seed_text: str
) -> None:
    (extra,) = parse_watchlists({"id": "extra", "terms": [{"id": "z", "aliases": ["zorblax"]}]})
    rig.watchlists.on_change("extra", extra)
    original, copy = syndicated_pair(seed_text, "sf-1", "mondo-1")
    copy.title += " zorblax"
    await rig.feed(original)
    await rig.feed(copy)
    alerts = {(a.article_id, a.watchlist_id): a for a in rig.alerts()}
    assert set(alerts) == {("sf-1", "default"), ("mondo-1", "extra")}
    # Named after the cluster: a repeat of this alert by another copy would carry the same id.
    assert alerts["mondo-1", "extra"].alert_id == alert_id("sf-1", "extra")
    assert alerts["mondo-1", "extra"].duplicate_cluster_id == "sf-1"
    third = Article(article_id="third", title=copy.title, content=copy.content + " Updated.")
    await rig.feed(third)
    assert len(rig.alerts()) == 2 and rig.enriched()[-1].duplicate_of == "sf-1"


async def test_a_copy_in_the_same_batch_is_found(rig: Rig, seed_text: str) -> None:
    original, copy = syndicated_pair(seed_text, "sf-1", "mondo-1")
    messages = []
    for article in (original, copy, original):
        value, headers = contracts.encode(article)
        messages.append(RawMessage(article.article_id.encode(), value, headers, 0))
    outcomes = await rig.processor.process_batch(messages)
    assert outcomes == ["processed", "processed", "duplicate"]
    assert [e.duplicate_of for e in rig.enriched()] == ["", "sf-1"]
    assert len(rig.alerts()) == 1
    assert rig.value("newswatch_processor_batch_articles_sum") == 3


async def test_failed_delivery_of_the_first_never_costs_its_alert(rig: Rig, seed_text: str) -> None:
    """The first article is indexed before its outputs are acknowledged; if they fail, it is consumed
    again and alerts again under the same id (its own entry never suppresses its own alerts)."""
    original, copy = syndicated_pair(seed_text, "sf-1", "mondo-1")
    rig.outputs.fail = ConnectionError("broker gone")
    with pytest.raises(ConnectionError):
        await rig.feed(original)
    assert rig.index_log() == {} and len(rig.seen) == 0
    rig.outputs.fail = None
    await rig.feed(copy)  # meanwhile: the copy takes the (unconfirmed) first as its cluster
    assert await rig.feed(original) == "processed"
    alerts = [a for a in rig.alerts() if a.article_id == "sf-1"]
    assert len(alerts) == 2 and {a.alert_id for a in alerts} == {alert_id("sf-1", "default")}
    assert rig.enriched()[-1].duplicate_of == ""
    assert [a.article_id for a in rig.alerts()].count("mondo-1") == 0


async def test_decisions_survive_a_restart_through_the_log(rig: Rig, seed_text: str) -> None:
    """A new worker whose index is rebuilt from the log records (what IndexFollower reads) still knows
    the cluster and what it was alerted for."""
    original, copy = syndicated_pair(seed_text, "sf-1", "mondo-1")
    await rig.feed(original)
    restarted = rig.restarted()
    await restarted.feed(copy)
    assert restarted.enriched()[0].duplicate_of == "sf-1"
    assert restarted.alerts() == []


async def test_replayed_first_article_alerts_again_under_the_same_id(rig: Rig, seed_text: str) -> None:
    original, copy = syndicated_pair(seed_text, "sf-1", "mondo-1")
    await rig.feed(original)
    await rig.feed(copy)
    value, headers = contracts.encode(original)
    headers.append((REPLAY_HEADER, b"r1"))
    assert await rig.processor.process(b"sf-1", value, headers) == "processed"
    assert [a.alert_id for a in rig.alerts()] == [alert_id("sf-1", "default")] * 2
    assert rig.enriched()[-1].duplicate_of == ""


def test_watchlist_labels_are_bounded(rig: Rig) -> None:
    for n in range(MAX_WATCHLIST_LABELS + 5):
        rig.metrics.alert(f"list-{n}")
    rig.metrics.alert("Not A Safe Label!")
    labels = {
        s.labels["watchlist"]
        for family in rig.registry.collect()
        if family.name == "newswatch_processor_alerts"
        for s in family.samples
    }
    assert len(labels) == MAX_WATCHLIST_LABELS + 1 and "other" in labels and "default" in labels
    # "default" took a label first: list-19 .. list-24 and the unsafe id share "other".
    assert rig.value("newswatch_processor_alerts_total", watchlist="other") == 7
    assert rig.value("newswatch_processor_matches_total", kind="place", watchlist="list-0") == 0


@pytest.mark.parametrize(
    ("highwaters", "positions", "lag"),
    [
        ({"p0": 10, "p1": 5}, {"p0": 4, "p1": 5}, 6),
        ({"p0": 10}, {}, 0),  # position unknown yet
        ({"p0": None}, {"p0": 3}, 0),  # nothing fetched yet
        ({"p0": 3}, {"p0": 7}, 0),  # processed past a stale high-water mark
    ],
)
def test_consumer_lag_sums_what_is_left_on_each_partition(
    highwaters: dict[str, int | None], positions: dict[str, int], lag: int
) -> None:
    assert consumer_lag(highwaters, positions) == lag


# --- the seen set's bound, and settings ---------------------------------------------------------------


async def test_republished_article_inside_the_bound_is_dropped_after_a_restart_too() -> None:
    rig = Rig(seen=SeenLog(3, 1))
    for n in range(6):
        assert await rig.feed(_article(f"s{n}", "weather report"), partition=0) == "processed"
    assert len(rig.seen) == 3
    assert await rig.feed(_article("s5", "weather report")) == "duplicate"
    restarted = rig.restarted()
    assert len(restarted.seen) == 3
    assert await restarted.feed(_article("s4", "weather report")) == "duplicate"
    # Beyond the bound an id is forgotten: consumed again, it is processed again (same alert ids).
    assert await restarted.feed(_article("s0", "weather report")) == "processed"


async def test_one_seen_chunk_per_partition_and_batch(rig: Rig) -> None:
    messages = []
    for n, partition in enumerate([0, 1, 0, 2, 1]):
        value, headers = contracts.encode(_article(f"b{n}", "weather report"))
        messages.append(RawMessage(f"b{n}".encode(), value, headers, partition))
    assert await rig.processor.process_batch(messages) == ["processed"] * 5
    assert sorted(s[4] or 0 for s in rig.outputs.on(SEEN_LOG)) == [0, 1, 2]
    assert rig.value("newswatch_processor_articles_total", outcome="processed") == 5
    # One publication for the batch's outputs, one for its changelog records.
    assert rig.outputs.calls == 2


async def test_a_failed_changelog_write_stops_the_next_batch(rig: Rig) -> None:
    await rig.feed(_article("c1", "weather report"))
    failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    failed.set_exception(ConnectionError("changelog write failed"))
    rig.processor._changelog = failed
    with pytest.raises(ConnectionError):
        await rig.feed(_article("c2", "weather report"))
    assert "c2" not in rig.seen


def test_a_bad_regions_file_is_a_settings_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bad = tmp_path / "regions.yaml"
    bad.write_text("regions:\n  mena:\n    countries: [Syria]\n")
    for path in (bad, tmp_path / "missing.yaml"):
        with pytest.raises(SettingsError, match="NEWSWATCH_REGIONS_FILE") as caught:
            region_table(Settings(regions_file=str(path)))
        assert caught.value.name == "NEWSWATCH_REGIONS_FILE" and str(path) in str(caught.value)
    # The worker stops with exit code 2 before it waits for a broker (none is at this address).
    assert run_worker(Settings(regions_file=str(bad), kafka_bootstrap="127.0.0.1:1")) == 2
    assert "bad setting NEWSWATCH_REGIONS_FILE" in caplog.text and "alpha-2" in caplog.text


def test_a_regions_file_replaces_the_packaged_table(tmp_path: Path) -> None:
    own = tmp_path / "regions.yaml"
    own.write_text("regions:\n  levant_only:\n    countries: [SY, LB]\n")
    table = region_table(Settings(regions_file=str(own)))
    assert table.regions_for("SY") == ("levant_only",) and table.regions_for("IQ") == ()
    assert region_table(Settings()).regions_for("SY")  # empty: the packaged table

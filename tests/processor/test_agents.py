"""ArticleProcessor and WatchlistRegistry with fake outputs and dict stores (no Kafka)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from newswatch import contracts
from newswatch.processor.agents import (
    DLQ_ERROR_HEADER,
    DLQ_REASON_HEADER,
    ArticleProcessor,
    WatchlistRegistry,
)
from newswatch.processor.dedupe import Deduplicator
from newswatch.processor.metrics import ProcessorMetrics
from newswatch.processor.places import default_gazetteer
from newswatch.processor.watchlist import default_watchlist, parse_watchlists
from newswatch.topics import ALERTS, ARTICLES_ENRICHED, ARTICLES_RAW_DLQ, TopicSpec
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.article_pb2 import Article
from newswatch.v1.enriched_pb2 import EnrichedArticle


class FakeOutputs:
    """Records sends; deliveries succeed unless ``fail`` is set (then the future raises)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]] = []
        self.fail: Exception | None = None

    async def send(
        self, topic: TopicSpec, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
    ) -> Awaitable[Any]:
        self.sent.append((topic.name, key, value, headers))
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.fail is not None:
            fut.set_exception(self.fail)
        else:
            fut.set_result(None)
        return fut

    def on(self, topic: TopicSpec) -> list[tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]]:
        return [s for s in self.sent if s[0] == topic.name]


class Rig:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.metrics = ProcessorMetrics(self.registry)
        self.watchlists = WatchlistRegistry(default_watchlist(), self.metrics)
        self.seen: dict[bytes, bytes] = {}
        self.content: dict[bytes, bytes] = {}
        self.outputs = FakeOutputs()
        self.processor = ArticleProcessor(
            self.watchlists,
            default_gazetteer(),
            Deduplicator(self.seen, self.content),
            self.outputs,
            self.metrics,
        )

    def value(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels or None) or 0.0

    async def feed(self, article: Article) -> str:
        value, headers = contracts.encode(article)
        return await self.processor.process(article.article_id.encode(), value, headers)


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
    assert b"a1" in rig.seen
    assert rig.value("newswatch_processor_articles_total", outcome="processed") == 1
    assert rig.value("newswatch_processor_alerts_total") == 1
    assert rig.value("newswatch_processor_matches_total", kind="organisation") == 1
    assert rig.value("newswatch_processor_matches_total", kind="place") == 1
    assert rig.value("newswatch_processor_processing_duration_seconds_count") == 1


async def test_same_article_twice_produces_nothing_the_second_time(rig: Rig) -> None:
    article = _article("a1", "Daesh")
    assert await rig.feed(article) == "processed"
    assert await rig.feed(article) == "duplicate"
    assert len(rig.outputs.on(ALERTS)) == 1 and len(rig.outputs.on(ARTICLES_ENRICHED)) == 1
    assert rig.value("newswatch_processor_articles_total", outcome="duplicate") == 1


async def test_copy_under_another_id_points_to_the_first(rig: Rig) -> None:
    await rig.feed(_article("a1", "Daesh", "same body"))
    await rig.feed(_article("a2", "Daesh", "same body"))
    second = rig.outputs.on(ALERTS)[1]
    assert contracts.decode(Alert, second[2], second[3]).duplicate_cluster_id == "a1"


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
    assert rig.seen == {}
    rig.outputs.fail = None
    assert await rig.feed(_article("a1", "Daesh")) == "processed"


async def test_processing_error_goes_to_the_dlq(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr("newswatch.processor.agents.enrich", broken)
    assert await rig.feed(_article("a1", "Daesh")) == "failed"
    (dlq,) = rig.outputs.on(ARTICLES_RAW_DLQ)
    assert contracts.header(dlq[3], DLQ_REASON_HEADER) == "processing_error"
    assert rig.seen == {}


async def test_watchlist_hot_reload_swaps_the_matcher(rig: Rig) -> None:
    (extra,) = parse_watchlists({"id": "extra", "terms": [{"id": "z", "aliases": ["zorblax"]}]})
    before = rig.watchlists.snapshot
    rig.watchlists.on_change("extra", extra)
    assert rig.watchlists.snapshot is not before
    assert [w.watchlist_id for w in rig.watchlists.snapshot.watchlists] == ["default", "extra"]
    await rig.feed(_article("a1", "zorblax and Daesh"))
    alerts = [contracts.decode(Alert, a[2], a[3]).watchlist_id for a in rig.outputs.on(ALERTS)]
    assert alerts == ["default", "extra"]
    rig.watchlists.on_change("extra", None)
    assert [w.watchlist_id for w in rig.watchlists.snapshot.watchlists] == ["default"]
    assert rig.value("newswatch_processor_watchlist_reloads_total") == 2
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

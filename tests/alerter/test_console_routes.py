"""The console's routes on fakes: static files and their headers, feeds, recent alerts, an alert's detail;
and the article lookup on the real broker."""

from __future__ import annotations

import importlib.resources
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from jsonschema import Draft202012Validator
from prometheus_client import CollectorRegistry

from newswatch import kafka
from newswatch.alerter.api import SubscriptionsApi
from newswatch.alerter.console import ArticleLookup
from newswatch.alerter.console.articles import partition_for
from newswatch.alerter.console.static import CONTENT_SECURITY_POLICY, ConsoleFiles
from newswatch.alerter.eventstream import BUFFER_SIZE
from newswatch.alerter.metrics import AlerterMetrics
from newswatch.alerter.openapi import document
from newswatch.contracts import timestamp
from newswatch.settings import Settings
from newswatch.topics import ARTICLES_ENRICHED
from tests.console.fakes import TOKEN, Console, article_for, make_alert

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def schema(name: str) -> Draft202012Validator:
    doc = document()
    return Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": doc["components"]})


@pytest.fixture
async def served() -> AsyncIterator[tuple[Console, TestClient[web.Request, web.Application]]]:
    console = Console()
    async with TestClient(TestServer(console.app())) as client:
        yield console, client


async def get(client: TestClient[web.Request, web.Application], path: str, **kw: Any) -> tuple[int, Any]:
    async with client.get(path, headers=kw.pop("headers", AUTH), allow_redirects=False, **kw) as resp:
        text = await resp.text()
        return resp.status, json.loads(text) if resp.content_type == "application/json" else text


# ---------------------------------------------------------------- the page


async def test_the_page_is_served_without_a_token_with_strict_headers(served: Any) -> None:
    console, client = served
    async with client.get("/", allow_redirects=False) as resp:
        assert resp.status == 302 and resp.headers["Location"] == "/console/"
    for path, kind in [("/console/", "text/html"), ("/console/js/main.js", "text/javascript"),
                       ("/console/console.css", "text/css")]:  # fmt: skip
        async with client.get(path) as resp:
            assert resp.status == 200, path
            assert resp.content_type == kind
            assert resp.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
            assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert (
        "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY
    )
    counted = console.registry.get_sample_value(
        "newswatch_alerter_api_requests_total", {"route": "/console/{name}", "status": "200"}
    )
    assert counted == 2


async def test_data_routes_need_the_token_and_so_do_unknown_console_paths(served: Any) -> None:
    _console, client = served
    for path in ("/v1/feeds", "/v1/alerts/recent", "/v1/alerts/x", "/console/../openapi.json.bak"):
        status, body = await get(client, path, headers={})
        assert status == 401, path
        assert body["error"]["code"] == "missing_token"
    status, body = await get(client, "/console/nope.js")
    assert status == 404 and body["error"]["code"] == "not_found"


def test_the_packaged_files_hold_no_inline_script_or_style_and_no_outside_url() -> None:
    files = ConsoleFiles()
    assert {"index.html", "console.css", "js/main.js", "js/sse.js"} <= set(files.names)
    root = importlib.resources.files("newswatch.alerter.console") / "static"
    html = (root / "index.html").read_text()
    assert "<script>" not in html and "<style" not in html and " style=" not in html
    assert re.search(r"\son[a-z]+=", html) is None  # no inline event handler
    for name in files.names:
        text = (root / name).read_text()
        assert "innerHTML" not in text and "insertAdjacentHTML" not in text, name
        assert "//" + "cdn" not in text and "fonts.googleapis" not in text and "@import" not in text, name


# ---------------------------------------------------------------- feeds


async def test_feeds_with_their_health_and_without_credentials(served: Any) -> None:
    _console, client = served
    status, body = await get(client, "/v1/feeds")
    assert status == 200
    schema("FeedList").validate(body)
    by_title = {f["title"]: f for f in body["feeds"]}
    assert list(by_title) == ["Broken feed", "Good feed"]
    assert by_title["Good feed"]["url"] == "https://news.example.org/rss"  # no user, password or query
    assert by_title["Good feed"]["health"]["state"] == "ok"
    assert by_title["Good feed"]["health"]["last_success_at"].endswith("Z")
    broken = by_title["Broken feed"]["health"]
    assert broken == {
        **broken,
        "state": "failing",
        "last_error": "http_status: 503",
        "consecutive_failures": 4,
    }


# ---------------------------------------------------------------- recent alerts and the detail


async def test_recent_alerts_newest_first_filtered_and_limited(served: Any) -> None:
    console, client = served
    older = console.publish(make_alert("older", language="fr"))
    newer = console.publish(make_alert("newer"))
    console.publish(newer)  # a redelivery is listed once
    status, body = await get(client, "/v1/alerts/recent")
    assert status == 200
    schema("AlertList").validate(body)
    assert [a["alert_id"] for a in body["alerts"]] == [newer.alert_id, older.alert_id]
    _, french = await get(client, "/v1/alerts/recent", params={"language": "fr"})
    assert [a["title"] for a in french["alerts"]] == ["older"]
    _, one = await get(client, "/v1/alerts/recent", params={"limit": "1", "region": "mena"})
    assert [a["title"] for a in one["alerts"]] == ["newer"]


@pytest.mark.parametrize(
    ("query", "code", "field"),
    [
        ({"limit": "0"}, "invalid_value", "limit"),
        ({"limit": str(BUFFER_SIZE + 1)}, "invalid_value", "limit"),
        ({"limit": "ten"}, "invalid_value", "limit"),
        ({"region": "atlantis"}, "invalid_value", "region"),
        ({"colour": "red"}, "unknown_field", "colour"),
    ],
)
async def test_bad_recent_queries_are_400_naming_the_parameter(
    served: Any, query: dict[str, str], code: str, field: str
) -> None:
    _console, client = served
    status, body = await get(client, "/v1/alerts/recent", params=query)
    assert status == 400, body
    assert body["error"]["code"] == code and body["error"]["field"] == field


async def test_the_detail_carries_the_article_text_and_the_duplicates(served: Any) -> None:
    console, client = served
    alert = console.publish(make_alert("main story", cluster="c-1"))
    twin = console.publish(make_alert("twin story", cluster="c-1"))
    console.publish(make_alert("same article, other watch list", cluster="c-1", article_id=alert.article_id))
    console.publish(make_alert("unrelated", cluster="c-2"))
    status, body = await get(client, f"/v1/alerts/{alert.alert_id}")
    assert status == 200
    schema("AlertDetail").validate(body)
    assert body["alert"]["alert_id"] == alert.alert_id
    content = body["article"]["content"]
    match = next(m for m in body["alert"]["matches"] if m["term_id"] == "palmyra")
    assert content[match["start"] : match["end"]] == "Palmyra"
    assert [d["alert_id"] for d in body["duplicates"]] == [twin.alert_id]


async def test_without_the_article_the_detail_says_null_and_unknown_ids_are_404(served: Any) -> None:
    console, client = served
    alert = console.publish(make_alert("no body found"), with_article=False)
    status, body = await get(client, f"/v1/alerts/{alert.alert_id}")
    assert status == 200 and body["article"] is None and body["duplicates"] == []
    status, body = await get(client, "/v1/alerts/no-such-alert")
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body = await get(client, "/v1/alerts/" + "x" * 500)
    assert status == 404


async def test_an_alerter_without_the_sources_answers_503() -> None:
    console = Console()
    bare = SubscriptionsApi(console.store, token=TOKEN, allow_private=False, metrics=console.metrics)
    async with TestClient(TestServer(bare.app())) as client:
        for path in ("/v1/feeds", "/v1/alerts/recent", "/v1/alerts/x"):
            status, body = await get(client, path)
            assert status == 503 and body["error"]["code"] == "console_unavailable", path


# ---------------------------------------------------------------- the article lookup on the real broker


def test_the_partition_is_the_producers() -> None:
    partitioner = kafka.CachedPartitioner()
    for i in range(200):
        key = f"article-{i}".encode()
        assert partition_for(key, [2, 0, 1]) == partitioner(key, [0, 1, 2], [0, 1, 2])


@pytest.mark.integration
async def test_the_article_is_found_on_the_enriched_topic_by_key_and_time(settings: Settings) -> None:
    await kafka.ensure_topics(settings)
    registry = CollectorRegistry()
    metrics = AlerterMetrics(registry)
    run = uuid.uuid4().hex[:10]
    alert = make_alert(f"lookup {run}", article_id=f"console-lookup-{run}")
    decoy = make_alert(f"decoy {run}", article_id=f"console-decoy-{run}")
    producer = kafka.make_producer(settings, "console-test")
    await producer.start()
    try:
        for one in (decoy, alert):
            enriched = article_for(one, body=f"{one.title}: Palmyra and ISIS.")
            await (await kafka.publish(producer, ARTICLES_ENRICHED, one.article_id, enriched))
    finally:
        await producer.stop()
    lookup = ArticleLookup(settings, metrics, timeout_seconds=15)
    await lookup.start()
    try:
        found = await lookup.find(alert)
        assert found is not None and found.article.article_id == alert.article_id
        assert found.article.content == f"lookup {run}: Palmyra and ISIS."
        assert await lookup.find(alert) is found  # cached
        stale = make_alert("old", article_id=f"console-missing-{run}")
        stale.created_at.CopyFrom(timestamp(datetime.now(UTC) - timedelta(minutes=30)))
        assert await lookup.find(stale) is None  # never written: read to the end, not found
    finally:
        await lookup.stop()
        await lookup.stop()
    outcomes = {
        o: registry.get_sample_value("newswatch_alerter_console_article_lookups_total", {"outcome": o})
        for o in ("found", "cached", "not_found", "timeout", "error")
    }
    assert outcomes == {"found": 1, "cached": 1, "not_found": 1, "timeout": 0, "error": 0}

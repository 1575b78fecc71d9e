"""The live alert stream (Server-Sent Events): unit tests on a hub fed by hand, then the real broker."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from newswatch import kafka
from newswatch.alerter import eventstream
from newswatch.alerter.api import SubscriptionsApi
from newswatch.alerter.eventstream import EventStream, format_event
from newswatch.alerter.metrics import AlerterMetrics
from newswatch.alerter.store import MemorySubscriptionStore
from newswatch.alerter.subscriptions import new_subscription
from newswatch.settings import Settings
from newswatch.tail import TailError, tail_alerts
from newswatch.topics import ALERTS
from newswatch.v1.alert_pb2 import Alert
from tests.alerter.test_webhook import ALERT
from tests.helpers import wait_until

TOKEN = "stream-token-" + "y" * 24
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GUARD_SECONDS = 20.0  # a hang guard, not a speed assertion


def alert(alert_id: str, **fields: Any) -> Alert:
    out = Alert()
    out.CopyFrom(ALERT)
    out.alert_id = alert_id
    for name, value in fields.items():
        if isinstance(value, list):
            del getattr(out, name)[:]
            getattr(out, name).extend(value)
        else:
            setattr(out, name, value)
    return out


@dataclass
class Event:
    id: str | None
    event: str | None
    data: str


class SseReader:
    """Reads events and comments from an open text/event-stream response."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.comments: list[str] = []

    async def next(self) -> Event | None:
        """The next event, or None when the stream ended."""
        fields: dict[str, str] = {}
        data: list[str] = []
        async with asyncio.timeout(GUARD_SECONDS):
            while raw := await self.response.content.readline():
                line = raw.decode().rstrip("\n")
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                    continue
                if not line:
                    if data:
                        return Event(fields.get("id"), fields.get("event"), "\n".join(data))
                    continue
                name, _, value = line.partition(": ")
                if name == "data":
                    data.append(value)
                else:
                    fields[name] = value
        return None

    async def ids(self, count: int) -> list[str]:
        out = []
        for _ in range(count):
            event = await self.next()
            assert event is not None, f"stream ended after {out}"
            out.append(str(event.id))
        return out


@dataclass
class Served:
    client: TestClient[web.Request, web.Application]
    hub: EventStream
    store: MemorySubscriptionStore
    registry: CollectorRegistry

    def sample(self, name: str, labels: dict[str, str] | None = None) -> float:
        value = self.registry.get_sample_value(name, labels or {})
        assert value is not None
        return value


async def serving(settings: Settings, store: MemorySubscriptionStore | None = None) -> AsyncIterator[Served]:
    registry = CollectorRegistry()
    metrics = AlerterMetrics(registry)
    hub = EventStream(settings, metrics)
    store = store or MemorySubscriptionStore()
    api = SubscriptionsApi(store, token=TOKEN, allow_private=True, metrics=metrics, stream=hub)
    async with TestClient(TestServer(api.app())) as client:
        yield Served(client, hub, store, registry)
    await hub.stop()


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    async for s in serving(Settings()):
        yield s


# ---------------------------------------------------------------- unit: a hub fed by hand


async def test_a_filtered_stream_gets_only_matching_alerts_as_events(served: Served) -> None:
    async with served.client.get("/v1/alerts/stream?region=MENA&min_score=0.5", headers=AUTH) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        assert served.sample("newswatch_alerter_stream_clients") == 1
        served.hub.offer(alert("a-low", score=0.1))
        served.hub.offer(alert("a-levant", regions=["levant"]))
        served.hub.offer(alert("a-1"))
        reader = SseReader(resp)
        first = await reader.next()
        assert first is not None and (first.id, first.event) == ("a-1", "alert")
        doc = json.loads(first.data)
        assert (
            doc["schema"] == "newswatch.alert.v1" and doc["alert_id"] == "a-1" and doc["regions"] == ["mena"]
        )
        served.hub.offer(alert("a-2", countries=["IQ"]))
        assert await reader.ids(1) == ["a-2"]
    assert served.sample("newswatch_alerter_stream_events_total") == 2


async def test_replay_by_last_n_and_resume_by_last_event_id(served: Served) -> None:
    for i in range(5):
        served.hub.offer(alert(f"r-{i}", watchlist_id="wl-a" if i != 3 else "wl-b"))
    async with served.client.get("/v1/alerts/stream?last=2&watchlist=wl-a", headers=AUTH) as resp:
        assert await SseReader(resp).ids(2) == ["r-2", "r-4"]
    headers = {**AUTH, "Last-Event-ID": "r-1"}
    async with served.client.get("/v1/alerts/stream", headers=headers) as resp:
        reader = SseReader(resp)
        assert await reader.ids(3) == ["r-2", "r-3", "r-4"]
        served.hub.offer(alert("r-5"))
        assert await reader.ids(1) == ["r-5"]
    async with served.client.get("/v1/alerts/stream?last_event_id=gone", headers=AUTH) as resp:
        reader = SseReader(resp)
        served.hub.offer(alert("r-6"))
        assert await reader.ids(1) == ["r-6"]
        assert any("no longer buffered" in c for c in reader.comments)


async def test_a_subscription_stream_applies_its_current_filters(served: Served) -> None:
    sub = new_subscription("live", stream=True, watchlists=["wl-x"], allow_private=False)
    served.store.items[sub.subscription_id] = sub
    async with served.client.get(f"/v1/subscriptions/{sub.subscription_id}/stream", headers=AUTH) as resp:
        assert resp.status == 200
        reader = SseReader(resp)
        served.hub.offer(alert("s-0", watchlist_id="wl-other"))
        served.hub.offer(alert("s-1", watchlist_id="wl-x"))
        assert await reader.ids(1) == ["s-1"]
        sub.watchlists[:] = ["wl-y"]  # a PATCH applies to the open stream
        served.hub.offer(alert("s-2", watchlist_id="wl-x"))
        served.hub.offer(alert("s-3", watchlist_id="wl-y"))
        assert await reader.ids(1) == ["s-3"]


@pytest.mark.parametrize(
    ("path", "headers", "status", "code", "field"),
    [
        ("/v1/alerts/stream", {}, 401, "missing_token", None),
        ("/v1/alerts/stream?colour=red", AUTH, 400, "unknown_field", "colour"),
        ("/v1/alerts/stream?region=atlantis", AUTH, 400, "invalid_value", "region"),
        ("/v1/alerts/stream?country=SYR", AUTH, 400, "invalid_value", "country"),
        ("/v1/alerts/stream?min_score=high", AUTH, 400, "invalid_type", "min_score"),
        ("/v1/alerts/stream?min_score=-1", AUTH, 400, "invalid_value", "min_score"),
        ("/v1/alerts/stream?last=-1", AUTH, 400, "invalid_value", "last"),
        ("/v1/alerts/stream?last=100000", AUTH, 400, "invalid_value", "last"),
        ("/v1/alerts/stream", {**AUTH, "Last-Event-ID": "x" * 300}, 400, "invalid_value", "Last-Event-ID"),
        ("/v1/subscriptions/nope/stream", AUTH, 404, "not_found", None),
    ],
)
async def test_bad_stream_requests_are_clear_4xx(
    served: Served, path: str, headers: dict[str, str], status: int, code: str, field: str | None
) -> None:
    async with served.client.get(path, headers=headers) as resp:
        data = await resp.json()
    assert resp.status == status
    assert data["error"]["code"] == code and data["error"].get("field") == field
    assert served.hub.clients == 0


async def test_past_the_client_limit_is_503() -> None:
    async for s in serving(Settings().replace(sse_max_clients=1)):
        async with s.client.get("/v1/alerts/stream", headers=AUTH) as first:
            assert first.status == 200
            async with s.client.get("/v1/alerts/stream", headers=AUTH) as second:
                assert second.status == 503
                assert (await second.json())["error"]["code"] == "too_many_streams"
                assert "Retry-After" in second.headers


async def test_a_slow_client_is_cut_off_and_counted(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eventstream, "CLIENT_QUEUE_SIZE", 4)
    async with served.client.get("/v1/alerts/stream", headers=AUTH) as resp:
        for i in range(10):  # all at once: the client cannot have read any yet
            served.hub.offer(alert(f"slow-{i}"))
        reader = SseReader(resp)
        assert await reader.next() is None  # the stream ends
    labels = {"reason": "slow_client"}
    assert served.sample("newswatch_alerter_stream_clients_dropped_total", labels) == 1
    assert served.hub.clients == 0


async def test_shutdown_ends_streams_cleanly_and_refuses_new_ones(served: Served) -> None:
    async with served.client.get("/v1/alerts/stream", headers=AUTH) as resp:
        reader = SseReader(resp)
        await served.hub.close_clients()
        assert await reader.next() is None
        assert any("shutting down" in c for c in reader.comments)
    assert served.sample("newswatch_alerter_stream_clients_dropped_total", {"reason": "shutdown"}) == 1
    async with served.client.get("/v1/alerts/stream", headers=AUTH) as again:
        assert again.status == 503


async def test_idle_streams_get_keep_alive_comments() -> None:
    async for s in serving(Settings().replace(sse_keepalive_seconds=1)):
        async with s.client.get("/v1/alerts/stream", headers=AUTH) as resp:
            line = b""
            async with asyncio.timeout(GUARD_SECONDS):
                while not line.startswith(b": keep-alive"):
                    line = await resp.content.readline()
            assert line.strip() == b": keep-alive"


async def test_without_a_hub_streams_are_unavailable() -> None:
    api = SubscriptionsApi(
        MemorySubscriptionStore(),
        token=TOKEN,
        allow_private=True,
        metrics=AlerterMetrics(CollectorRegistry()),
    )
    async with (
        TestClient(TestServer(api.app())) as client,
        client.get("/v1/alerts/stream", headers=AUTH) as r,
    ):
        assert r.status == 503 and (await r.json())["error"]["code"] == "stream_unavailable"


def test_an_event_is_three_lines_and_data_stays_on_one() -> None:
    wire = format_event(alert("e\n1", title="two\nlines\r\nhere")).decode()
    lines = wire.split("\n")
    assert lines[0] == "id: e1" and lines[1] == "event: alert" and lines[2].startswith("data: {")
    assert lines[3:] == ["", ""]
    assert json.loads(lines[2][6:])["title"] == "two\nlines\r\nhere"


# ---------------------------------------------------------------- tail through the stream (unit)


async def test_tail_prints_from_the_stream_and_stops_at_max_alerts(served: Served) -> None:
    for i in range(3):
        served.hub.offer(alert(f"t-{i}", watchlist_id="wl-tail", title=f"Title {i}"))
    lines: list[str] = []
    url = str(served.client.make_url("/"))
    settings = Settings().replace(api_token=TOKEN)
    printed = await tail_alerts(
        settings,
        lines.append,
        last=2,
        watchlist="wl-tail",
        max_alerts=2,
        timeout_seconds=GUARD_SECONDS,
        api_url=url,
    )
    assert printed == 2
    assert "Title 1" in lines[0] and "Title 2" in lines[1] and "[Default]" in lines[0]
    as_json: list[str] = []
    await tail_alerts(settings, as_json.append, last=1, as_json=True, max_alerts=1, api_url=url)
    assert json.loads(as_json[0])["alert_id"] == "t-2"


async def test_tail_says_what_is_wrong(served: Served) -> None:
    url = str(served.client.make_url("/"))
    with pytest.raises(TailError, match="refused the token"):
        await tail_alerts(
            Settings().replace(api_token="w" * 20), print, api_url=url, timeout_seconds=GUARD_SECONDS
        )
    with pytest.raises(TailError, match="no API token"):
        await tail_alerts(Settings(), print, api_url=url, source="api")
    free = served.client.port  # the same host, a port nobody listens on once closed
    await served.client.close()
    with pytest.raises(TailError, match="cannot reach the alerter API"):
        await tail_alerts(
            Settings().replace(api_token=TOKEN),
            print,
            api_url=f"http://127.0.0.1:{free}",
            timeout_seconds=GUARD_SECONDS,
        )


# ---------------------------------------------------------------- the real broker


async def publish_alerts(settings: Settings, alerts: list[Alert]) -> None:
    producer = kafka.make_producer(settings, "test-stream")
    await producer.start()
    try:
        for a in alerts:
            await (await kafka.publish(producer, ALERTS, a.alert_id, a))
    finally:
        await producer.stop()


async def until_buffered(hub: EventStream, alert_id: str) -> None:
    await wait_until(
        lambda: alert_id in {a.alert_id for a in hub.recent()}, GUARD_SECONDS, f"{alert_id} in the hub"
    )


@pytest.mark.integration
async def test_the_stream_follows_the_alerts_topic_with_filters_and_resume(settings: Settings) -> None:
    await kafka.ensure_topics(settings, [ALERTS])
    run = uuid.uuid4().hex[:12]
    mine, other = f"wl-{run}", f"wl-other-{run}"
    early = alert(f"early-{run}", watchlist_id=mine)
    await publish_alerts(settings, [early])  # on the topic before the hub starts: loaded into its buffer
    async for s in serving(settings):
        await s.hub.start()
        assert early.alert_id in {a.alert_id for a in s.hub.recent()}
        path = f"/v1/alerts/stream?watchlist={mine}"
        async with s.client.get(path, headers=AUTH) as resp:
            reader = SseReader(resp)
            first = [alert(f"a1-{run}", watchlist_id=other), alert(f"a2-{run}", watchlist_id=mine)]
            await publish_alerts(settings, first)
            event = await reader.next()
            assert event is not None and event.id == f"a2-{run}"
            assert json.loads(event.data)["watchlist"]["id"] == mine
        # Disconnected: two more arrive; a reconnect with Last-Event-ID gets exactly those, in order.
        later = [alert(f"a3-{run}", watchlist_id=mine), alert(f"a4-{run}", watchlist_id=mine)]
        await publish_alerts(settings, later)
        await until_buffered(s.hub, f"a4-{run}")
        async with s.client.get(path, headers={**AUTH, "Last-Event-ID": f"a2-{run}"}) as resp:
            assert await SseReader(resp).ids(2) == [f"a3-{run}", f"a4-{run}"]
        # newswatch tail reads the same stream.
        lines: list[str] = []
        printed = await tail_alerts(
            settings.replace(api_token=TOKEN),
            lines.append,
            last=10,
            as_json=True,
            watchlist=mine,
            max_alerts=4,
            timeout_seconds=GUARD_SECONDS,
            api_url=str(s.client.make_url("/")),
        )
        assert printed == 4
        assert [json.loads(line)["alert_id"] for line in lines] == [
            f"{p}-{run}" for p in ("early", "a2", "a3", "a4")
        ]

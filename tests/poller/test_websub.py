"""WebSub subscriber against a hub written here (aiohttp on 127.0.0.1): subscribe, verify, push, renew.

The hub accepts subscription requests, verifies the intent against the callback with a random challenge
(on demand, or by itself right after answering) and pushes signed content. ``deliver`` is a fake.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace

import aiohttp
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from yarl import URL

from newswatch.feeds import make_feed
from newswatch.poller import websub_server
from newswatch.poller.metrics import PollerMetrics
from newswatch.poller.websub import WebSub
from newswatch.poller.websub_server import PUSH_QUEUE_SIZE, SIGNATURE_ALGORITHMS, signature_ok
from newswatch.poller.websub_state import VERIFY_TIMEOUT_SECONDS, backoff_seconds, renewal_margin
from newswatch.settings import Settings, load_settings
from newswatch.v1.feed_pb2 import Feed
from tests.helpers import free_port, wait_until

from .conftest import ServeFn

SECRET = "websub-test-secret"
CAP_BYTES = 4096
FEED = make_feed("https://news.example.org/feed.xml", feed_id="feed-a")
SELF_URL = "https://news.example.org/self.xml"
RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'


def _settings(*, callback: bool = True, allow_private: bool = True) -> Settings:
    port = free_port()
    return load_settings(
        environ={
            "NEWSWATCH_ALLOW_PRIVATE_NETWORKS": "true" if allow_private else "false",
            "NEWSWATCH_FETCH_TIMEOUT_SECONDS": "3",
            "NEWSWATCH_FETCH_CONNECT_TIMEOUT_SECONDS": "1",
            "NEWSWATCH_FETCH_MAX_BODY_BYTES": str(CAP_BYTES),
            "NEWSWATCH_WEBSUB_CALLBACK_URL": f"http://127.0.0.1:{port}/websub" if callback else "",
            "NEWSWATCH_WEBSUB_HOST": "127.0.0.1",
            "NEWSWATCH_WEBSUB_PORT": str(port),
            "NEWSWATCH_WEBSUB_SECRET": SECRET,
            "NEWSWATCH_WEBSUB_LEASE_SECONDS": "3600",
        }
    )


def _sign(body: bytes, secret: str, algo: str = "sha256") -> str:
    return f"{algo}={hmac.new(secret.encode(), body, algo).hexdigest()}"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Deliveries:
    calls: list[tuple[str, bytes, str | None]] = field(default_factory=list)
    gate: asyncio.Event | None = None  # when set up, deliver waits for it
    failures: int = 0  # the first calls raise

    async def __call__(self, feed: Feed, body: bytes, content_type: str | None) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise RuntimeError("publish failed")
        self.calls.append((feed.feed_id, body, content_type))


class Hub:
    """A WebSub hub: records (un)subscription requests, verifies intent against callbacks, pushes."""

    def __init__(self, *, status: int = 202, auto_verify: bool = False) -> None:
        self.status = status
        self.auto_verify = auto_verify
        self.requests: list[dict[str, str]] = []
        self.verifications: list[tuple[int, str, str]] = []  # (status, body, challenge)
        self.url = ""
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[object]] = set()

    async def start(self, serve: ServeFn) -> Hub:
        app = web.Application()
        app.router.add_post("/hub", self._request)
        self.url = await serve(app) + "/hub"
        self._session = aiohttp.ClientSession()
        return self

    async def close(self) -> None:
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def _request(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.requests.append(form)
        if self.status == 202 and self.auto_verify:
            task = asyncio.create_task(self.verify(form))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.Response(status=self.status)

    async def get(self, callback: str, params: dict[str, str]) -> tuple[int, str]:
        assert self._session is not None
        async with self._session.get(URL(callback).extend_query(params)) as resp:
            return resp.status, await resp.text()

    async def verify(self, form: dict[str, str], **override: str) -> tuple[int, str, str]:
        """Intent verification of a recorded request (fields overridable), as §5.3 describes it."""
        challenge = secrets.token_urlsafe(16)
        params = {"hub.mode": form["hub.mode"], "hub.topic": form["hub.topic"], "hub.challenge": challenge}
        if form["hub.mode"] == "subscribe":
            params["hub.lease_seconds"] = form.get("hub.lease_seconds", "3600")
        params.update({k.replace("_", ".", 1): v for k, v in override.items()})
        status, body = await self.get(form["hub.callback"], params)
        self.verifications.append((status, body, challenge))
        return status, body, challenge

    async def push(self, callback: str, body: bytes | AsyncIterator[bytes], signature: str | None) -> int:
        assert self._session is not None
        headers = {"Content-Type": "application/rss+xml"}
        if signature is not None:
            headers["X-Hub-Signature"] = signature
        async with self._session.post(callback, data=body, headers=headers) as resp:
            return resp.status


@dataclass
class Rig:
    websub: WebSub
    registry: CollectorRegistry
    deliveries: Deliveries
    catalogue: dict[str, Feed]
    clock: FakeClock

    def value(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(f"newswatch_poller_websub_{name}", labels) or 0.0


MakeRig = Callable[..., Awaitable[Rig]]


@pytest.fixture
async def hubs(serve: ServeFn) -> AsyncIterator[Callable[..., Awaitable[Hub]]]:
    made: list[Hub] = []

    async def make(**kwargs: object) -> Hub:
        hub = await Hub(**kwargs).start(serve)  # type: ignore[arg-type]
        made.append(hub)
        return hub

    yield make
    for hub in made:
        await hub.close()


@pytest.fixture
async def rig() -> AsyncIterator[MakeRig]:
    made: list[WebSub] = []

    async def make(settings: Settings | None = None, start: bool = True) -> Rig:
        registry, clock, deliveries = CollectorRegistry(), FakeClock(), Deliveries()
        catalogue = {FEED.feed_id: FEED}
        websub = WebSub(
            settings or _settings(), PollerMetrics(registry), deliveries, catalogue.get, clock=clock
        )
        made.append(websub)
        if start:
            await websub.start()
        return Rig(websub, registry, deliveries, catalogue, clock)

    yield make
    for websub in made:
        await websub.stop()


async def _subscribed(r: Rig, hub: Hub, lease: str = "3600") -> dict[str, str]:
    await r.websub.advertised(FEED, hub.url, SELF_URL)
    form = hub.requests[-1]
    status, body, challenge = await hub.verify(form, hub_lease_seconds=lease)
    assert (status, body) == (200, challenge)
    return form


async def test_subscribe_request_fields_then_verification_makes_it_active(rig: MakeRig, hubs) -> None:
    r, hub = await rig(), await hubs()
    await r.websub.advertised(FEED, hub.url, SELF_URL)
    (form,) = hub.requests
    assert form["hub.mode"] == "subscribe"
    assert form["hub.topic"] == SELF_URL
    assert form["hub.callback"].startswith(f"http://127.0.0.1:{r.websub.port}/websub/feed-a?token=")
    assert form["hub.secret"] == hmac.new(SECRET.encode(), b"feed-a", hashlib.sha256).hexdigest()
    assert form["hub.lease_seconds"] == "3600"
    assert r.value("requests_total", mode="subscribe", outcome="accepted") == 1
    assert r.value("subscriptions", state="pending") == 1
    assert not r.websub.active("feed-a")
    status, body, challenge = await hub.verify(form)
    assert (status, body) == (200, challenge)
    assert r.websub.active("feed-a")
    assert r.value("subscriptions", state="active") == 1
    assert r.value("subscriptions", state="pending") == 0
    assert r.value("verifications_total", outcome="confirmed") == 1
    await r.websub.advertised(FEED, hub.url, SELF_URL)  # live subscription: nothing to ask
    assert len(hub.requests) == 1


async def test_hub_verifying_by_itself_after_answering(rig: MakeRig, hubs) -> None:
    r, hub = await rig(), await hubs(auto_verify=True)
    await r.websub.advertised(FEED, hub.url, None)
    await wait_until(lambda: bool(hub.verifications), 5, "the hub's verification")
    (status, body, challenge), form = hub.verifications[0], hub.requests[0]
    assert (status, body) == (200, challenge)
    assert form["hub.topic"] == FEED.url  # no self link: the feed URL is the topic
    assert r.websub.active("feed-a")


async def test_verifications_for_other_topics_modes_or_feeds_are_refused(rig: MakeRig, hubs) -> None:
    r, hub = await rig(), await hubs()
    await r.websub.advertised(FEED, hub.url, SELF_URL)
    form = hub.requests[0]
    assert (await hub.verify(form, hub_topic="https://news.example.org/other.xml"))[0] == 404
    assert (await hub.verify(form, hub_mode="unsubscribe"))[0] == 404  # still wanted
    stranger = {**form, "hub.callback": form["hub.callback"].replace("feed-a?", "feed-x?")}
    assert (await hub.verify(stranger))[0] == 404  # not in the catalogue
    assert (await hub.verify(form, hub_mode="bogus"))[0] == 400
    assert r.value("verifications_total", outcome="refused") == 4
    assert not r.websub.active("feed-a")


@pytest.mark.parametrize("algo", SIGNATURE_ALGORITHMS)
async def test_signed_push_reaches_deliver(rig: MakeRig, hubs, algo: str) -> None:
    r, hub = await rig(), await hubs()
    form = await _subscribed(r, hub)
    status = await hub.push(form["hub.callback"], RSS, _sign(RSS, form["hub.secret"], algo.upper()))
    assert status == 202
    await wait_until(lambda: bool(r.deliveries.calls), 5, "a delivery")
    assert r.deliveries.calls == [("feed-a", RSS, "application/rss+xml")]
    await wait_until(lambda: r.value("pushes_total", outcome="accepted") == 1, 5, "the count")


async def test_bad_or_missing_signatures_are_answered_2xx_and_dropped(rig: MakeRig, hubs) -> None:
    r, hub = await rig(), await hubs()
    form = await _subscribed(r, hub)
    callback, secret = form["hub.callback"], form["hub.secret"]
    bad = [None, _sign(RSS, "wrong-secret"), _sign(RSS + b" ", secret), "md5=" + "0" * 32, "sha256", ""]
    for signature in bad:
        assert await hub.push(callback, RSS, signature) == 202
    assert r.value("pushes_total", outcome="bad_signature") == len(bad)
    good = RSS.replace(b"<title>T", b"<title>good")
    assert await hub.push(callback, good, _sign(good, secret)) == 202
    await wait_until(lambda: bool(r.deliveries.calls), 5, "a delivery")  # handled in order
    assert [body for _id, body, _ct in r.deliveries.calls] == [good]


async def test_oversized_push_is_refused_with_or_without_content_length(rig: MakeRig, hubs) -> None:
    r, hub = await rig(), await hubs()
    form = await _subscribed(r, hub)
    big = b"x" * (CAP_BYTES + 1)

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: counted while reading
        for _ in range(4):
            yield b"y" * (CAP_BYTES // 2)

    assert await hub.push(form["hub.callback"], big, _sign(big, form["hub.secret"])) == 413
    assert await hub.push(form["hub.callback"], chunked(), None) == 413
    assert r.value("pushes_total", outcome="too_large") == 2
    assert r.deliveries.calls == []


async def test_push_for_a_feed_not_in_the_catalogue_is_gone(rig: MakeRig, hubs) -> None:
    r, hub = await rig(), await hubs()
    form = await _subscribed(r, hub)
    del r.catalogue["feed-a"]
    assert await hub.push(form["hub.callback"], RSS, _sign(RSS, form["hub.secret"])) == 410
    r.catalogue["feed-a"] = make_feed(FEED.url, feed_id="feed-a", enabled=False)
    assert await hub.push(form["hub.callback"], RSS, _sign(RSS, form["hub.secret"])) == 410
    assert r.value("pushes_total", outcome="unknown_feed") == 2
    assert r.deliveries.calls == []


async def test_full_push_queue_answers_503_so_the_hub_retries(rig: MakeRig, hubs) -> None:
    r, hub = await rig(), await hubs()
    r.deliveries.gate = asyncio.Event()
    form = await _subscribed(r, hub)
    signature = _sign(RSS, form["hub.secret"])
    statuses = [await hub.push(form["hub.callback"], RSS, signature) for _ in range(PUSH_QUEUE_SIZE + 3)]
    assert 503 in statuses
    assert r.value("pushes_total", outcome="failed") == statuses.count(503)
    r.deliveries.gate.set()
    await wait_until(lambda: len(r.deliveries.calls) == statuses.count(202), 5, "deliveries")
    await wait_until(lambda: r.value("pushes_total", outcome="accepted") == statuses.count(202), 5, "counts")


async def test_deliver_raising_is_counted_and_the_worker_carries_on(rig: MakeRig, hubs) -> None:
    r, hub = await rig(), await hubs()
    r.deliveries.failures = 1
    form = await _subscribed(r, hub)
    for _ in range(2):
        assert await hub.push(form["hub.callback"], RSS, _sign(RSS, form["hub.secret"])) == 202
    await wait_until(lambda: r.value("pushes_total", outcome="accepted") == 1, 5, "the second push")
    assert r.value("pushes_total", outcome="failed") == 1
    assert len(r.deliveries.calls) == 1


async def test_stop_drops_what_deliver_did_not_take_in_time(
    rig: MakeRig, hubs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(websub_server, "DRAIN_SECONDS", 0.2)
    r, hub = await rig(), await hubs()
    r.deliveries.gate = asyncio.Event()  # never set: deliver hangs
    form = await _subscribed(r, hub)
    for _ in range(3):
        assert await hub.push(form["hub.callback"], RSS, _sign(RSS, form["hub.secret"])) == 202
    await r.websub.stop()
    assert r.value("pushes_total", outcome="failed") == 3  # one in deliver, two queued
    assert r.value("pushes_total", outcome="accepted") == 0


async def test_renewal_before_the_lease_ends(rig: MakeRig, hubs) -> None:
    r, hub = await rig(), await hubs()
    await _subscribed(r, hub, lease="3600")
    margin = renewal_margin(3600)
    r.clock.now += 3600 - margin - 10
    await r.websub.advertised(FEED, hub.url, SELF_URL)
    assert await r.websub.renew_due() == 0
    assert len(hub.requests) == 1
    r.clock.now += 20  # within the margin
    await r.websub.advertised(FEED, hub.url, SELF_URL)
    assert [f["hub.mode"] for f in hub.requests] == ["subscribe", "subscribe"]
    assert hub.requests[1]["hub.callback"] == hub.requests[0]["hub.callback"]
    assert r.websub.active("feed-a")  # still active while the renewal waits for verification
    r.clock.now += margin
    assert not r.websub.active("feed-a")  # the lease ended unrenewed
    status, _body, _challenge = await hub.verify(hub.requests[1])
    assert status == 200 and r.websub.active("feed-a")


async def test_tiny_leases_are_renewed_at_most_once_a_minute(rig: MakeRig, hubs) -> None:
    r, hub = await rig(), await hubs()
    await _subscribed(r, hub, lease="2")
    r.clock.now += 30
    assert not r.websub.active("feed-a")
    assert await r.websub.renew_due() == 0
    r.clock.now += 30
    assert await r.websub.renew_due() == 1


async def test_background_renewal_does_not_need_a_poll(rig: MakeRig, hubs) -> None:
    r, hub = await rig(), await hubs()
    await _subscribed(r, hub, lease="3600")
    r.clock.now += 3600 - renewal_margin(3600) + 1
    assert await r.websub.renew_due() == 1
    assert len(hub.requests) == 2


async def test_unverified_request_is_asked_again_with_a_growing_wait(rig: MakeRig, hubs) -> None:
    r, hub = await rig(), await hubs()
    await r.websub.advertised(FEED, hub.url, SELF_URL)
    assert await r.websub.renew_due() == 0
    sent = []
    for _ in range(5):
        r.clock.now += VERIFY_TIMEOUT_SECONDS
        sent.append(await r.websub.renew_due())
    assert sent == [1, 1, 1, 0, 1]  # silences count as failures: 600 s, 600 s, 600 s, then 1200 s
    assert len(hub.requests) == 5
    assert r.value("subscriptions", state="pending") == 1


async def test_unsubscribe_when_the_feed_is_removed(rig: MakeRig, hubs) -> None:
    r, hub = await rig(), await hubs()
    form = await _subscribed(r, hub)
    await r.websub.forget("feed-a", removed=True)
    unsubscribe = hub.requests[-1]
    assert unsubscribe["hub.mode"] == "unsubscribe"
    assert (unsubscribe["hub.topic"], unsubscribe["hub.callback"]) == (SELF_URL, form["hub.callback"])
    assert "hub.secret" not in unsubscribe
    status, body, challenge = await hub.verify(unsubscribe)
    assert (status, body) == (200, challenge)
    assert not r.websub.active("feed-a")
    assert r.value("requests_total", mode="unsubscribe", outcome="accepted") == 1
    assert r.value("subscriptions", state="active") == 0


async def test_feed_moving_to_another_poller_is_not_unsubscribed(rig: MakeRig, hubs) -> None:
    r, hub = await rig(), await hubs()
    await _subscribed(r, hub)
    await r.websub.forget("feed-a", removed=False)
    assert [f["hub.mode"] for f in hub.requests] == ["subscribe"]
    assert not r.websub.active("feed-a")


async def test_hub_or_topic_change_unsubscribes_the_old_and_subscribes_the_new(rig: MakeRig, hubs) -> None:
    r, old, new = await rig(), await hubs(), await hubs()
    await _subscribed(r, old)
    await r.websub.advertised(FEED, new.url, SELF_URL)
    assert [f["hub.mode"] for f in old.requests] == ["subscribe", "unsubscribe"]
    assert (await old.verify(old.requests[-1]))[0] == 200
    assert [f["hub.mode"] for f in new.requests] == ["subscribe"]
    assert (await new.verify(new.requests[0]))[0] == 200
    await r.websub.advertised(FEED, new.url, "https://news.example.org/moved.xml")
    assert [f["hub.mode"] for f in new.requests] == ["subscribe", "unsubscribe", "subscribe"]
    assert new.requests[-1]["hub.topic"] == "https://news.example.org/moved.xml"


async def test_feed_no_longer_advertising_a_hub_is_not_renewed(rig: MakeRig, hubs) -> None:
    r, hub = await rig(), await hubs()
    await _subscribed(r, hub)
    await r.websub.advertised(FEED, None, None)
    assert not r.websub.active("feed-a")
    r.clock.now += 3600
    assert await r.websub.renew_due() == 0


async def test_denied_subscription(rig: MakeRig, hubs) -> None:
    r, hub = await rig(), await hubs()
    await r.websub.advertised(FEED, hub.url, SELF_URL)
    form = hub.requests[0]
    params = {"hub.mode": "denied", "hub.topic": SELF_URL, "hub.reason": "not\nallowed"}
    assert (await hub.get(form["hub.callback"], params))[0] == 200
    assert r.value("verifications_total", outcome="denied") == 1
    assert r.value("subscriptions", state="pending") == 0
    assert not r.websub.active("feed-a")
    r.clock.now += 3600
    await r.websub.advertised(FEED, hub.url, SELF_URL)
    assert await r.websub.renew_due() == 0
    assert len(hub.requests) == 1  # denied: not asked again within the day


async def test_hub_on_a_private_address_is_refused_when_not_allowed(rig: MakeRig, hubs) -> None:
    r, hub = await rig(_settings(allow_private=False)), await hubs()
    await r.websub.advertised(FEED, hub.url, SELF_URL)
    await r.websub.advertised(FEED, "http://localhost/hub", SELF_URL)
    assert hub.requests == []
    assert r.value("requests_total", mode="subscribe", outcome="failed") == 2
    assert r.value("subscriptions", state="pending") == 0
    r.clock.now += 3600
    await r.websub.advertised(FEED, "http://localhost/hub", SELF_URL)
    assert r.value("requests_total", mode="subscribe", outcome="failed") == 2  # not retried soon


async def test_failing_hub_is_retried_with_a_backoff(rig: MakeRig, hubs) -> None:
    r, hub = await rig(), await hubs(status=500)
    await r.websub.advertised(FEED, hub.url, SELF_URL)
    await r.websub.advertised(FEED, hub.url, SELF_URL)
    assert len(hub.requests) == 1
    assert r.value("requests_total", mode="subscribe", outcome="failed") == 1
    r.clock.now += backoff_seconds(1)
    await r.websub.advertised(FEED, hub.url, SELF_URL)
    assert len(hub.requests) == 2


async def test_any_poller_with_the_secret_confirms_and_verifies(rig: MakeRig, hubs) -> None:
    r, hub = await rig(), await hubs()
    await r.websub.advertised(FEED, hub.url, SELF_URL)
    token = URL(hub.requests[0]["hub.callback"]).query["token"]
    other = (await rig(start=False)).websub  # same secret, no record (another poller, or a restart)
    assert other.secret_for("feed-a") == r.websub.secret_for("feed-a")
    assert other.verify("feed-a", "subscribe", SELF_URL, 3600, token)
    assert not other.verify("feed-a", "subscribe", "https://evil.example/", 3600, token)
    assert not other.verify("feed-a", "unsubscribe", SELF_URL, None, token)  # the feed is still wanted
    stranger = WebSub(
        replace(_settings(), websub_secret="another"),
        PollerMetrics(CollectorRegistry()),
        Deliveries(),
        {"feed-a": FEED}.get,
    )
    assert not stranger.verify("feed-a", "subscribe", SELF_URL, 3600, token)


async def test_unsubscription_of_a_removed_feed_is_confirmed_without_the_record(rig: MakeRig) -> None:
    r = await rig(start=False)
    callback = URL(r.websub._subs.callback_for("feed-a", SELF_URL))
    del r.catalogue["feed-a"]
    assert r.websub.verify("feed-a", "unsubscribe", SELF_URL, None, callback.query["token"])
    assert not r.websub.verify("feed-a", "unsubscribe", SELF_URL, None, "forged")


async def test_disabled_without_a_callback_url(rig: MakeRig, hubs) -> None:
    settings = _settings(callback=False)
    r, hub = await rig(settings), await hubs()
    assert not r.websub.enabled
    await r.websub.advertised(FEED, hub.url, SELF_URL)
    assert hub.requests == []
    assert not r.websub.active("feed-a")
    with socket.socket() as s:  # nothing was bound
        s.bind(("127.0.0.1", settings.websub_port))


async def test_stop_is_idempotent_and_unsubscribes_nothing(rig: MakeRig, hubs) -> None:
    r, hub = await rig(), await hubs()
    await _subscribed(r, hub)
    await r.websub.stop()
    await r.websub.stop()
    assert [f["hub.mode"] for f in hub.requests] == ["subscribe"]
    await r.websub.advertised(FEED, hub.url, SELF_URL)  # after stop: a no-op, no error
    assert len(hub.requests) == 1


@pytest.mark.parametrize(
    ("lease", "margin"),
    [(300, 150), (3600, 1800), (7200, 3600), (86400, 8640), (864000, 86400)],
)
def test_renewal_margin(lease: float, margin: float) -> None:
    assert renewal_margin(lease) == margin


@pytest.mark.parametrize(("failures", "wait"), [(0, 0), (1, 300), (2, 600), (5, 4800), (20, 86400)])
def test_backoff(failures: int, wait: float) -> None:
    assert backoff_seconds(failures) == wait


@given(secret=st.text(max_size=20), body=st.binary(max_size=200), algo=st.sampled_from(SIGNATURE_ALGORITHMS))
def test_signature_ok_accepts_exactly_the_right_hmac(secret: str, body: bytes, algo: str) -> None:
    header = f"{algo}={hmac.new(secret.encode(), body, algo).hexdigest()}"
    assert signature_ok(secret, body, header)
    assert signature_ok(secret, body, f" {algo.upper()}={header.split('=', 1)[1].upper()} ")
    assert not signature_ok(secret + "x", body, header)
    assert not signature_ok(secret, body + b"x", header)


@given(header=st.text(max_size=200))
def test_signature_ok_never_raises(header: str) -> None:
    assert signature_ok("s", b"body", header) in (True, False)

"""HttpFetcher against aiohttp servers on 127.0.0.1: status handling, caps, conditional GET, timeouts."""

from __future__ import annotations

import asyncio
import gzip
import socket
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import brotli
import pytest
from aiohttp import web

from newswatch.errors import FetchError
from newswatch.netguard import address_allowed
from newswatch.poller.fetcher import HttpFetcher, RetryLaterError, Validators, parse_retry_after
from newswatch.settings import Settings

from .conftest import ServeFn, fixture_bytes

RSS = fixture_bytes("rss20.xml")


async def fetch(settings: Settings, url: str, validators: Validators | None = None):
    fetcher = HttpFetcher(settings)
    try:
        return await fetcher.fetch(url, validators)
    finally:
        await fetcher.close()


async def fetch_error(settings: Settings, url: str) -> FetchError:
    with pytest.raises(FetchError) as info:
        await fetch(settings, url)
    return info.value


async def test_ok_sends_identity_headers_and_returns_validators(
    unit_settings: Settings, serve: ServeFn
) -> None:
    seen: dict[str, str] = {}

    async def feed(request: web.Request) -> web.Response:
        seen.update(request.headers)
        return web.Response(
            body=RSS,
            content_type="application/rss+xml",
            headers={"ETag": '"v1"', "Last-Modified": "Mon, 03 Mar 2025 10:00:00 GMT"},
        )

    app = web.Application()
    app.router.add_get("/feed", feed)
    base = await serve(app)
    result = await fetch(unit_settings, base + "/feed")
    assert result.status == 200
    assert result.body == RSS
    assert not result.not_modified
    assert result.validators == Validators('"v1"', "Mon, 03 Mar 2025 10:00:00 GMT")
    assert result.content_type is not None and result.content_type.startswith("application/rss+xml")
    assert seen["User-Agent"].startswith("newswatch/") and unit_settings.contact_url in seen["User-Agent"]
    assert "application/rss+xml" in seen["Accept"]
    assert "gzip" in seen["Accept-Encoding"]


async def test_conditional_get_304(unit_settings: Settings, serve: ServeFn) -> None:
    async def feed(request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304)
        return web.Response(body=RSS, headers={"ETag": '"v1"'})

    app = web.Application()
    app.router.add_get("/feed", feed)
    base = await serve(app)
    first = await fetch(unit_settings, base + "/feed")
    second = await fetch(unit_settings, base + "/feed", first.validators)
    assert second.not_modified and second.status == 304 and second.body == b""
    assert second.validators == first.validators


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate", "br"])
async def test_compressed_bodies_are_decoded(unit_settings: Settings, serve: ServeFn, encoding: str) -> None:
    if encoding == "br":
        body = brotli.compress(RSS)
    elif encoding == "gzip":
        body = gzip.compress(RSS)
    elif encoding == "deflate":
        body = zlib.compress(RSS)
    else:
        compressor = zlib.compressobj(wbits=-15)
        body = compressor.compress(RSS) + compressor.flush()

    async def feed(request: web.Request) -> web.Response:
        return web.Response(body=body, headers={"Content-Encoding": encoding.removeprefix("raw-")})

    app = web.Application()
    app.router.add_get("/feed", feed)
    result = await fetch(unit_settings, await serve(app) + "/feed")
    assert result.body == RSS
    assert result.wire_bytes == len(body)


async def test_gzip_bomb_stops_at_the_cap(unit_settings: Settings, serve: ServeFn) -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)  # 64 MiB → ~64 KiB on the wire
    assert len(bomb) < unit_settings.fetch_max_body_bytes

    async def feed(request: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip"})

    app = web.Application()
    app.router.add_get("/feed", feed)
    error = await fetch_error(unit_settings, await serve(app) + "/feed")
    assert error.outcome == "too_large"
    assert not error.retriable


async def test_brotli_bomb_stops_at_the_cap(unit_settings: Settings, serve: ServeFn) -> None:
    bomb = brotli.compress(b"\0" * (64 * 1024 * 1024), quality=11)  # 64 MiB → ~50 bytes on the wire
    assert len(bomb) < 1024

    async def feed(request: web.Request) -> web.Response:
        assert "br" in request.headers["Accept-Encoding"]
        return web.Response(body=bomb, headers={"Content-Encoding": "br"})

    app = web.Application()
    app.router.add_get("/feed", feed)
    error = await fetch_error(unit_settings, await serve(app) + "/feed")
    assert error.outcome == "too_large"


async def test_endless_body_stops_at_the_cap(unit_settings: Settings, serve: ServeFn) -> None:
    async def feed(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        try:
            while True:
                await response.write(b"<rss>" * 2000)
        except (ConnectionError, asyncio.CancelledError):
            pass
        return response

    app = web.Application()
    app.router.add_get("/feed", feed)
    error = await fetch_error(unit_settings, await serve(app) + "/feed")
    assert error.outcome == "too_large"


async def test_declared_length_over_the_cap_is_refused_early(unit_settings: Settings, serve: ServeFn) -> None:
    async def feed(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * (unit_settings.fetch_max_body_bytes + 1))

    app = web.Application()
    app.router.add_get("/feed", feed)
    assert (await fetch_error(unit_settings, await serve(app) + "/feed")).outcome == "too_large"


@pytest.mark.parametrize(
    ("status", "headers", "outcome", "retriable"),
    [
        (404, {}, "http_error", False),
        (410, {}, "http_error", False),
        (500, {}, "http_error", True),
        (502, {}, "http_error", True),
        (200, {}, "empty", True),
    ],
)
async def test_status_outcomes(
    unit_settings: Settings,
    serve: ServeFn,
    status: int,
    headers: dict[str, str],
    outcome: str,
    retriable: bool,
) -> None:
    async def feed(request: web.Request) -> web.Response:
        return web.Response(status=status, body=b"" if status == 200 else b"nope", headers=headers)

    app = web.Application()
    app.router.add_get("/feed", feed)
    error = await fetch_error(unit_settings, await serve(app) + "/feed")
    assert (error.outcome, error.retriable) == (outcome, retriable)
    assert error.status == status


@pytest.mark.parametrize("form", ["seconds", "http-date"])
@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_is_kept(unit_settings: Settings, serve: ServeFn, status: int, form: str) -> None:
    value = (
        "120"
        if form == "seconds"
        else format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    )

    async def feed(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Retry-After": value})

    app = web.Application()
    app.router.add_get("/feed", feed)
    error = await fetch_error(unit_settings, await serve(app) + "/feed")
    assert isinstance(error, RetryLaterError)
    assert error.outcome == "rate_limited" and error.retriable
    assert error.retry_after_seconds == pytest.approx(120, abs=2)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("0", 0.0),
        ("3600", 3600.0),
        ("Wed, 05 Mar 2025 10:01:00 GMT", 60.0),
        ("Wed, 05 Mar 2025 09:00:00 GMT", 0.0),
        ("soon", None),
        ("-5", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, datetime(2025, 3, 5, 10, 0, tzinfo=UTC)) == expected


async def test_redirects_are_followed_and_loops_stopped(unit_settings: Settings, serve: ServeFn) -> None:
    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/feed")

    async def feed(request: web.Request) -> web.Response:
        return web.Response(body=RSS)

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    app = web.Application()
    app.router.add_get("/old", moved)
    app.router.add_get("/feed", feed)
    app.router.add_get("/loop", loop)
    base = await serve(app)
    result = await fetch(unit_settings, base + "/old")
    assert result.final_url == base + "/feed"
    assert (await fetch_error(unit_settings, base + "/loop")).outcome == "too_many_redirects"


async def test_timeout(unit_settings: Settings, serve: ServeFn) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(body=RSS)

    app = web.Application()
    app.router.add_get("/feed", slow)
    error = await fetch_error(unit_settings, await serve(app) + "/feed")
    assert (error.outcome, error.retriable) == ("timeout", True)


async def test_connection_refused(unit_settings: Settings) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = await fetch_error(unit_settings, f"http://127.0.0.1:{port}/feed")
    assert (error.outcome, error.retriable) == ("connection_error", True)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/feed", "http://localhost/feed", "http://169.254.169.254/latest", "file:///etc/passwd"],
)
async def test_private_and_odd_urls_are_refused_without_permission(url: str) -> None:
    settings = Settings(allow_private_networks=False)
    error = await fetch_error(settings, url)
    assert (error.outcome, error.retriable) == ("refused", False)


def _private_hostname() -> str | None:
    name = socket.gethostname()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)}
    except OSError:
        return None
    return name if addresses and not any(address_allowed(a, allow_private=False) for a in addresses) else None


async def test_host_name_resolving_to_a_private_address_is_refused_at_connect(serve: ServeFn) -> None:
    """A name that passes the form check is still refused by the guarded resolver (also after redirects)."""
    name = _private_hostname()
    if name is None:
        pytest.skip("this machine's host name does not resolve to a private address")

    async def feed(request: web.Request) -> web.Response:
        return web.Response(body=RSS)

    app = web.Application()
    app.router.add_get("/feed", feed)
    base = await serve(app)
    port = base.rsplit(":", 1)[1]
    error = await fetch_error(Settings(allow_private_networks=False), f"http://{name}:{port}/feed")
    assert (error.outcome, error.retriable) == ("refused", False)


@pytest.mark.parametrize(
    ("name", "headers", "max_age", "expires"),
    [
        (
            "max-age and Expires relative to Date",
            {
                "Cache-Control": "public, max-age=1800",
                "Date": "Mon, 03 Mar 2025 10:00:00 GMT",
                "Expires": "Mon, 03 Mar 2025 11:00:00 GMT",
            },
            1800.0,
            3600.0,
        ),
        ("no-cache / no-store are no hints", {"Cache-Control": "no-store, no-cache"}, None, None),
        ("negative max-age is no hint", {"Cache-Control": "max-age=-5"}, None, None),
        (
            "Expires in the past is no hint",
            {"Date": "Mon, 03 Mar 2025 10:00:00 GMT", "Expires": "Mon, 03 Mar 2025 09:00:00 GMT"},
            None,
            None,
        ),
        ("Expires 0 is no hint", {"Expires": "0"}, None, None),
        ("no headers", {}, None, None),
    ],
)
async def test_freshness_headers(
    unit_settings: Settings,
    serve: ServeFn,
    name: str,
    headers: dict[str, str],
    max_age: float | None,
    expires: float | None,
) -> None:
    async def feed(request: web.Request) -> web.Response:
        return web.Response(body=RSS, content_type="application/rss+xml", headers=headers)

    app = web.Application()
    app.router.add_get("/feed", feed)
    base = await serve(app)
    result = await fetch(unit_settings, base + "/feed")
    assert (result.max_age_seconds, result.expires_seconds) == (max_age, expires), name


async def test_expires_uses_the_servers_own_date(unit_settings: Settings, serve: ServeFn) -> None:
    """aiohttp always sends Date (the server's clock): Expires two hours ahead of it gives about 7200 s."""

    async def feed(request: web.Request) -> web.Response:
        later = format_datetime(datetime.now(UTC) + timedelta(hours=2), usegmt=True)
        return web.Response(body=RSS, headers={"Expires": later, "Cache-Control": "max-age=60, private"})

    app = web.Application()
    app.router.add_get("/feed", feed)
    base = await serve(app)
    result = await fetch(unit_settings, base + "/feed")
    assert result.max_age_seconds == 60.0
    assert result.expires_seconds is not None and 7190 <= result.expires_seconds <= 7201


async def test_not_modified_carries_no_freshness_hints(unit_settings: Settings, serve: ServeFn) -> None:
    async def feed(request: web.Request) -> web.Response:
        return web.Response(status=304, headers={"Cache-Control": "max-age=600"})

    app = web.Application()
    app.router.add_get("/feed", feed)
    base = await serve(app)
    result = await fetch(unit_settings, base + "/feed", Validators('"v"', None))
    assert result.not_modified
    assert (result.max_age_seconds, result.expires_seconds) == (None, None)

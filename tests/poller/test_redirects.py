"""The fetcher says whether a feed moved permanently: every redirect hop a 301 or 308."""

from __future__ import annotations

import pytest
from aiohttp import web

from newswatch.poller.fetcher import HttpFetcher, Validators
from newswatch.settings import Settings

from .conftest import ServeFn, fixture_bytes

RSS = fixture_bytes("rss20.xml")

HOPS: dict[str, tuple[int, str]] = {
    "/p301": (301, "/feed"),
    "/p308": (308, "/feed"),
    "/p301-p308": (301, "/p308"),
    "/t302": (302, "/feed"),
    "/t303": (303, "/feed"),
    "/t307": (307, "/feed"),
    "/p301-t307": (301, "/t307"),
    "/t302-p301": (302, "/p301"),
    "/p301-etag": (301, "/etag"),
}


def app() -> web.Application:
    async def hop(request: web.Request) -> web.Response:
        status, location = HOPS[request.path]
        return web.Response(status=status, headers={"Location": location})

    async def feed(request: web.Request) -> web.Response:
        return web.Response(body=RSS, content_type="application/rss+xml")

    async def etag(request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304)
        return web.Response(body=RSS, content_type="application/rss+xml", headers={"ETag": '"v1"'})

    application = web.Application()
    for path in HOPS:
        application.router.add_get(path, hop)
    application.router.add_get("/feed", feed)
    application.router.add_get("/etag", etag)
    return application


@pytest.mark.parametrize(
    ("path", "final", "permanent"),
    [
        ("/feed", "/feed", False),
        ("/p301", "/feed", True),
        ("/p308", "/feed", True),
        ("/p301-p308", "/feed", True),
        ("/t302", "/feed", False),
        ("/t303", "/feed", False),
        ("/t307", "/feed", False),
        ("/p301-t307", "/feed", False),
        ("/t302-p301", "/feed", False),
    ],
)
async def test_final_url_and_permanence(
    path: str, final: str, permanent: bool, unit_settings: Settings, serve: ServeFn
) -> None:
    base = await serve(app())
    fetcher = HttpFetcher(unit_settings)
    try:
        result = await fetcher.fetch(base + path)
    finally:
        await fetcher.close()
    assert result.final_url == base + final
    assert result.permanent_redirect is permanent


async def test_a_304_after_a_permanent_redirect_says_so(unit_settings: Settings, serve: ServeFn) -> None:
    base = await serve(app())
    fetcher = HttpFetcher(unit_settings)
    try:
        result = await fetcher.fetch(base + "/p301-etag", Validators(etag='"v1"'))
    finally:
        await fetcher.close()
    assert result.not_modified
    assert (result.final_url, result.permanent_redirect) == (base + "/etag", True)

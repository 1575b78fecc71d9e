"""Poller test helpers: unit-test settings (no broker) and loopback HTTP servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from newswatch.settings import Settings, load_settings

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "feeds"

ServeFn = Callable[[web.Application], Awaitable[str]]


@pytest.fixture
def unit_settings() -> Settings:
    """Settings for tests that never touch Kafka: loopback allowed, short timeouts, a 64 KiB cap."""
    return load_settings(
        environ={
            "NEWSWATCH_ALLOW_PRIVATE_NETWORKS": "true",
            "NEWSWATCH_FETCH_TIMEOUT_SECONDS": "1.5",
            "NEWSWATCH_FETCH_CONNECT_TIMEOUT_SECONDS": "1",
            "NEWSWATCH_FETCH_MAX_BODY_BYTES": str(64 * 1024),
            "NEWSWATCH_FETCH_MAX_REDIRECTS": "3",
            "NEWSWATCH_FETCH_HOST_MIN_INTERVAL_SECONDS": "0",  # pacing has its own tests
        }
    )


@pytest.fixture
async def serve() -> AsyncIterator[ServeFn]:
    """Start an aiohttp app on 127.0.0.1 (free port); returns its base URL. Stopped after the test."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()

"""Per-host pacing: table tests on the bookkeeping with a fake clock, and the fetcher keeping the pace."""

from __future__ import annotations

import time

import pytest
from aiohttp import web

from newswatch.poller.fetcher import HttpFetcher
from newswatch.poller.hostpace import HostPacer
from newswatch.settings import Settings
from tests.poller.conftest import ServeFn


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("name", "interval", "calls", "expected_waits"),
    [
        ("first request never waits", 1.0, [("a", 0.0)], [0.0]),
        (
            "back-to-back requests to one host queue up",
            1.0,
            [("a", 0.0), ("a", 0.0), ("a", 0.0)],
            [0.0, 1.0, 2.0],
        ),
        ("other hosts are independent", 1.0, [("a", 0.0), ("b", 0.0), ("a", 0.0)], [0.0, 0.0, 1.0]),
        ("a request after the interval does not wait", 1.0, [("a", 0.0), ("a", 1.5)], [0.0, 0.0]),
        ("part of the interval left", 2.0, [("a", 0.0), ("a", 0.5)], [0.0, 1.5]),
        ("pacing off", 0.0, [("a", 0.0), ("a", 0.0)], [0.0, 0.0]),
    ],
)
def test_reserve(
    name: str, interval: float, calls: list[tuple[str, float]], expected_waits: list[float]
) -> None:
    clock = FakeClock()
    pacer = HostPacer(interval, clock=clock)
    waits = []
    for host, advance in calls:
        clock.now += advance
        waits.append(pacer.reserve(host))
    assert waits == pytest.approx(expected_waits), name


def test_memory_stays_bounded() -> None:
    clock = FakeClock()
    pacer = HostPacer(1.0, clock=clock, max_hosts=100)
    for i in range(1000):
        pacer.reserve(f"host-{i}")
        clock.now += 0.01
    assert pacer.tracked_hosts <= 101


async def test_the_fetcher_keeps_the_pace_per_host(unit_settings: Settings, serve: ServeFn) -> None:
    starts: list[float] = []

    async def feed(_request: web.Request) -> web.Response:
        starts.append(time.monotonic())
        return web.Response(body=b"<rss version='2.0'><channel><title>t</title></channel></rss>")

    app = web.Application()
    app.router.add_get("/feed", feed)
    base = await serve(app)
    waits: list[float] = []
    fetcher = HttpFetcher(
        unit_settings.replace(fetch_host_min_interval_seconds=0.3), on_host_wait=waits.append
    )
    try:
        for _ in range(3):
            await fetcher.fetch(base + "/feed")
    finally:
        await fetcher.close()
    assert len(starts) == 3
    assert starts[2] - starts[0] >= 0.55  # two gaps of 0.3 s, less timer slack
    assert waits[0] == 0.0
    assert all(w > 0.1 for w in waits[1:])

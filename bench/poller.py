"""Poller benchmark: parse speed (fast path vs feedparser) and a 10,000-feed check round.

(a) Parse speed on well-formed 50-item feeds (tests/fixtures/feeds/*_50_items.xml): ``parse_feed`` (the
lxml fast path) against ``parse_with_feedparser``, MB/s and ratio.

(b) A loopback aiohttp server (in a child process, so its CPU is not counted) simulates N feeds: 70%
unchanged (304 when the request carries the ETag it was given), 20% changed at every request (a new
50-item body), 10% failing (HTTP 503) or slow (1 s). Every feed is checked once to warm up (validators
and body hashes remembered), then once more, measured: the real ``FeedChecker`` with the real
``HttpFetcher`` and a fake publisher (no Kafka). The baseline, in the same process, is a naive loop that
downloads every feed without conditional headers and parses it with feedparser (on a sample of feeds,
figures per feed). Reported: feeds/s, CPU seconds per feed, max RSS, fetch p50/p99, and whether
"10,000 feeds every 5 minutes on <= 25% of one core" holds (CPU s per feed x 10,000 / 300 s).

Usage: ``python bench/poller.py [--feeds N] [--naive-feeds M] [--concurrency C]``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import resource
import socket
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry

from newswatch.feeds import make_feed
from newswatch.poller.checker import FeedChecker
from newswatch.poller.fetcher import FetchResult, HttpFetcher, Validators
from newswatch.poller.metrics import PollerMetrics
from newswatch.poller.parser import parse_feed, parse_with_feedparser
from newswatch.poller.publisher import PublishReport
from newswatch.settings import load_settings
from newswatch.v1.article_pb2 import Article

FEEDS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "feeds"
TEMPLATE = (FEEDS / "rss20_50_items.xml").read_bytes()
SLOW_SECONDS = 1.0


def parse_speed(seconds: float, rounds: int = 5) -> None:
    """CPU time of this process (``process_time``: time lost to other processes on a busy machine is not
    counted), in ``rounds`` alternating rounds of fast path and feedparser; the medians are printed."""
    print("(a) parse speed, well-formed 50-item feeds (CPU time, median of alternating rounds)")
    for name in ("rss20_50_items.xml", "atom10_50_items.xml"):
        body = (FEEDS / name).read_bytes()
        rates: dict[str, list[float]] = {"fast": [], "feedparser": []}
        for _ in range(rounds):
            for label, fn in (("fast", parse_feed), ("feedparser", parse_with_feedparser)):
                done, started = 0, time.process_time()
                while time.process_time() - started < seconds / rounds:
                    fn(body, "https://bench.example.org/feed")
                    done += 1
                rates[label].append(done * len(body) / (time.process_time() - started) / 1e6)
        ratios = [f / b for f, b in zip(rates["fast"], rates["feedparser"], strict=True)]
        fast, slow = statistics.median(rates["fast"]), statistics.median(rates["feedparser"])
        print(f"  {name:22} {len(body) // 1024} KB   fast path {fast:6.1f} MB/s   ", end="")
        print(
            f"feedparser {slow:5.1f} MB/s   ratio {statistics.median(ratios):5.1f}x "
            f"(rounds {min(ratios):.1f}x..{max(ratios):.1f}x)"
        )


# --- the simulated feeds (child process) -------------------------------------------------------


def _body(feed: int, version: int) -> bytes:
    return TEMPLATE.replace(b"bench-rss-", f"bench-{feed}-{version}-".encode()).replace(
        b"/news/", f"/news/{feed}/{version}/".encode()
    )


def _serve(sock: socket.socket) -> None:
    versions: dict[int, int] = {}

    async def handle(request: web.Request) -> web.StreamResponse:
        feed = int(request.match_info["feed"])
        kind = feed % 20  # 0-13 unchanged, 14-17 changed, 18 failing, 19 slow
        if kind == 18:
            return web.Response(status=503)
        if kind == 19:
            await asyncio.sleep(SLOW_SECONDS)
        if 14 <= kind <= 17:  # 20%: a new body at every request
            versions[feed] = versions.get(feed, 0) + 1
        etag = f'"{feed}-{versions.get(feed, 0)}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        body = _body(feed, versions.get(feed, 0))
        return web.Response(body=body, content_type="application/rss+xml", headers={"ETag": etag})

    app = web.Application()
    app.router.add_get("/feed/{feed}", handle)
    web.run_app(app, sock=sock, print=None, access_log=None, handle_signals=True)


# --- the poller side -----------------------------------------------------------------------------


class NullPublisher:
    async def publish(self, feed_id: str, articles: Sequence[Article]) -> PublishReport:
        return PublishReport(list(articles))


class TimedFetcher:
    def __init__(self, inner: HttpFetcher) -> None:
        self.inner = inner
        self.seconds: list[float] = []

    async def fetch(self, url: str, validators: Validators | None = None) -> FetchResult:
        started = time.perf_counter()
        try:
            return await self.inner.fetch(url, validators)
        finally:
            self.seconds.append(time.perf_counter() - started)

    async def close(self) -> None:
        await self.inner.close()


def _report(label: str, feeds: int, wall: float, cpu: float, fetch_seconds: list[float]) -> float:
    cuts = statistics.quantiles(fetch_seconds, n=100) if len(fetch_seconds) > 1 else [0.0] * 99
    per_feed = cpu / feeds
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  {label:34} {feeds / wall:8.0f} feeds/s   {per_feed * 1000:7.3f} ms CPU/feed   ", end="")
    print(f"fetch p50 {cuts[49] * 1000:6.1f} ms  p99 {cuts[98] * 1000:7.1f} ms   max RSS {rss_mb:5.0f} MB")
    return per_feed


async def _round(checker: FeedChecker, feeds: list, concurrency: int) -> tuple[float, float]:
    gate = asyncio.Semaphore(concurrency)

    async def one(feed: object) -> None:
        async with gate:
            await checker.check(feed)  # type: ignore[arg-type]

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(f) for f in feeds))
    return time.perf_counter() - wall, time.process_time() - cpu


async def _naive(base: str, count: int, concurrency: int) -> tuple[float, float, list[float]]:
    gate, seconds = asyncio.Semaphore(concurrency), []
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)

    async def one(session: aiohttp.ClientSession, n: int) -> None:
        async with gate:
            started = time.perf_counter()
            try:
                async with session.get(f"{base}/feed/{n}") as response:
                    body = await response.read()
                    ok = response.status == 200
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            seconds.append(time.perf_counter() - started)
            if ok:
                await asyncio.to_thread(parse_with_feedparser, body, f"{base}/feed/{n}")

    async with aiohttp.ClientSession(connector=connector) as session:
        wall, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(one(session, n) for n in range(count)))
        return time.perf_counter() - wall, time.process_time() - cpu, seconds


async def simulate(base: str, count: int, naive_count: int, concurrency: int) -> None:
    settings = load_settings(
        environ={
            "NEWSWATCH_ALLOW_PRIVATE_NETWORKS": "true",
            "NEWSWATCH_FETCH_CONCURRENCY": str(concurrency),
            "NEWSWATCH_FETCH_MAX_CONNECTIONS_PER_HOST": str(min(concurrency, 100)),
            "NEWSWATCH_FETCH_TIMEOUT_SECONDS": "10",
            # 10,000 simulated feeds share one loopback server: no per-host pacing.
            "NEWSWATCH_FETCH_HOST_MIN_INTERVAL_SECONDS": "0",
        }
    )
    fetcher = TimedFetcher(HttpFetcher(settings))
    checker = FeedChecker(fetcher, NullPublisher(), PollerMetrics(CollectorRegistry()))
    feeds = [make_feed(f"{base}/feed/{n}") for n in range(count)]
    print(f"(b) {count} simulated feeds: 70% unchanged (304), 20% changed 50-item bodies, 10% 503 or slow")
    wall, cpu = await _round(checker, feeds, concurrency)
    _report("FeedChecker, first round (cold)", count, wall, cpu, fetcher.seconds)
    fetcher.seconds.clear()
    wall, cpu = await _round(checker, feeds, concurrency)
    checker_cpu = _report("FeedChecker, steady round", count, wall, cpu, fetcher.seconds)
    await fetcher.close()
    wall, cpu, seconds = await _naive(base, naive_count, concurrency)
    naive_cpu = _report(f"naive loop + feedparser ({naive_count} feeds)", naive_count, wall, cpu, seconds)
    print(f"  ratio CPU per feed, naive / FeedChecker: {naive_cpu / checker_cpu:6.1f}x")
    share = checker_cpu * 10_000 / 300
    verdict = "holds" if share <= 0.25 else "does NOT hold"
    print(f"  10,000 feeds every 5 minutes: {share * 100:.1f}% of one core (goal <= 25%: {verdict});", end="")
    print(f" naive loop: {naive_cpu * 10_000 / 300 * 100:.0f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--naive-feeds", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=3.0, help="per parse-speed measurement")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the failing feeds would log a warning each
    parse_speed(args.seconds)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    server = multiprocessing.get_context("fork").Process(target=_serve, args=(sock,), daemon=True)
    server.start()
    try:
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        asyncio.run(simulate(base, args.feeds, args.naive_feeds, args.concurrency))
    finally:
        server.terminate()
        server.join()


if __name__ == "__main__":
    main()

"""The whole system under load: feeds → poller → processor → alerter → webhook, as processes.

On a fresh broker of its own (``own_broker`` of ``bench/pipeline.py``), the rig of the whole-system
tests (``tests/system/rig.py``) runs ``newswatch run alerter|processor|poller`` as three processes, serves
feeds on 127.0.0.1 and one webhook subscriber on 127.0.0.1. Two phases of ``--seconds`` each at the
same offered rate (``--rate`` articles/s), one article in four matching the default watch list:

1. **baseline** — the articles are produced straight onto ``newswatch.articles.raw.v1`` (their
   ``fetched_at`` set when sent): the processor and the alerter alone, with the poller idle;
2. **whole system** — the same kind of articles appear in ``--feeds`` feeds (polled every second, the
   newest ``--window`` items shown) and the poller fetches, parses and publishes them.

For each phase it prints the sustained articles/s end to end (articles of the phase that reached
``newswatch.articles.enriched.v1`` per second, counted over the phase's last nine tenths: the steady
state, where a pipeline that keeps up matches the offered rate whatever its latency) and how long after
the load stopped the last article was through, alerts
delivered of those expected, and the latency from the article's ``fetched_at`` (the time the poller
fetched the feed body that carried it, ``Article.fetched_at`` on the raw topic) to the webhook's arrival
at the subscriber: p50 / p99, with the median of each stage (poller: fetch → raw record; processor: raw
record → alert record; alerter: alert record → webhook). Then the goals and the ratio of the whole
system to the baseline (what the poller stage costs), and each service's CPU ms per article and resident
memory. Loopback only; every phase and wait is bounded in time.

Usage: ``python bench/system.py [--rate 200] [--seconds 60] [--feeds 20] [--window 400]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the checkout: the rig and load generator of tests/system

from _proc import cpu_seconds  # noqa: E402  (bench/ is on sys.path)
from aiokafka import ConsumerRecord  # noqa: E402
from pipeline import own_broker  # noqa: E402

from newswatch import contracts  # noqa: E402
from newswatch.kafka import make_producer  # noqa: E402
from newswatch.poller.publisher import content_sha256  # noqa: E402
from newswatch.settings import load_settings  # noqa: E402
from newswatch.topics import ALERTS, ARTICLES_ENRICHED, ARTICLES_RAW  # noqa: E402
from newswatch.v1.alert_pb2 import Alert  # noqa: E402
from newswatch.v1.article_pb2 import Article  # noqa: E402
from tests.e2e.harness import FeedItem  # noqa: E402
from tests.system.load import ArticleMaker, TopicTail  # noqa: E402
from tests.system.rig import SERVICES, SystemRig  # noqa: E402

#: What this benchmark checks the whole system against (one machine, loopback feeds and subscriber).
GOAL_RATE_SHARE = 0.98  # sustained end to end >= 98 % of the offered rate
GOAL_P50_SECONDS = 1.0  # fetch -> webhook
GOAL_P99_SECONDS = 5.0


@dataclass
class Phase:
    name: str
    prefix: str  # every URL of the phase's articles starts with it
    started: float = 0.0  # epoch seconds
    seconds: float = 0.0  # how long the load was offered
    offered: int = 0
    expected: set[str] = field(default_factory=set)  # URLs that must alert
    fetched: dict[str, float] = field(default_factory=dict)  # URL -> Article.fetched_at
    raw_at: dict[str, float] = field(default_factory=dict)  # URL -> raw record timestamp
    enriched_at: dict[str, float] = field(default_factory=dict)  # URL -> enriched record timestamp
    alert_at: dict[str, float] = field(default_factory=dict)  # URL -> alert record timestamp
    cpu: dict[str, float] = field(default_factory=dict)  # service -> CPU seconds in the phase


class Recorder:
    """Follows the raw, enriched and alerts topics and files each record under its phase."""

    def __init__(self, phases: list[Phase]) -> None:
        self.phases = phases
        self.url_of: dict[bytes, str] = {}  # article id (raw record key) -> URL
        self.early: dict[bytes, float] = {}  # enriched records read before their raw record

    def _phase(self, url: str) -> Phase | None:
        return next((p for p in self.phases if url.startswith(p.prefix)), None)

    def record(self, record: ConsumerRecord[bytes, bytes]) -> None:
        at = record.timestamp / 1000
        if record.topic == ARTICLES_RAW.name:
            article = contracts.decode(Article, record.value, record.headers)
            phase = self._phase(article.url)
            if phase is not None and article.url not in phase.raw_at:
                assert record.key is not None
                self.url_of[record.key] = article.url
                phase.raw_at[article.url] = at
                phase.fetched[article.url] = article.fetched_at.ToNanoseconds() / 1e9
                if record.key in self.early:
                    phase.enriched_at.setdefault(article.url, self.early.pop(record.key))
        elif record.topic == ARTICLES_ENRICHED.name:
            key = record.key or b""
            url = self.url_of.get(key)
            if url is None:  # the partitions are read side by side: its raw record may come next
                self.early.setdefault(key, at)
                return
            phase = self._phase(url)
            if phase is not None:
                phase.enriched_at.setdefault(url, at)
        elif record.topic == ALERTS.name:
            alert = contracts.decode(Alert, record.value, record.headers)
            phase = self._phase(alert.url)
            if phase is not None:
                phase.alert_at.setdefault(alert.url, at)


async def produce_raw(rig: SystemRig, maker: ArticleMaker, rate: float, seconds: float) -> int:
    """The baseline's load: ``rate`` articles/s straight onto the raw topic, as the poller writes them."""
    settings = load_settings(environ={k: v for k, v in rig.env.items() if k.startswith("NEWSWATCH_")})
    producer = make_producer(settings, "bench-system")
    await producer.start()
    sent = 0

    async def send(item: FeedItem) -> None:
        nonlocal sent
        article = Article(
            article_id=item.guid, feed_id="bench-system-raw", url=item.link, title=item.title,
            summary=item.body, language="en", guid=item.guid,
            content_sha256=content_sha256(item.title, item.body, ""),
        )  # fmt: skip
        article.published_at.FromDatetime(item.published)
        article.fetched_at.FromNanoseconds(time.time_ns())
        value, headers = contracts.encode(article)
        await producer.send(ARTICLES_RAW.name, value=value, key=item.guid.encode(), headers=headers)
        sent += 1

    started = time.monotonic()
    try:
        while (elapsed := time.monotonic() - started) < seconds:
            for _ in range(int(rate * elapsed) - sent):
                await send(maker.make())
            await asyncio.sleep(0.02)
        for _ in range(int(rate * seconds) - sent):
            await send(maker.make())
        await producer.flush()
    finally:
        await producer.stop()
    return sent


async def settle(rig: SystemRig, phase: Phase, seconds: float) -> None:
    """Until every article of the phase is enriched and every expected alert delivered (bounded)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        delivered = {d.url for d in rig.subscribers[0].successes()}
        if len(phase.enriched_at) >= phase.offered and phase.expected <= delivered:
            return
        await asyncio.sleep(0.5)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def report(rig: SystemRig, phase: Phase, rate: float) -> dict[str, float]:
    arrived: dict[str, float] = {}
    for d in rig.subscribers[0].successes():
        if d.url in phase.expected:
            arrived.setdefault(d.url, d.at)
    done = list(phase.enriched_at.values())
    steady = (phase.started + phase.seconds / 10, phase.started + phase.seconds)
    sustained = sum(steady[0] <= t < steady[1] for t in done) / (steady[1] - steady[0])
    through = max(done, default=float("nan")) - steady[1]
    latency = [arrived[u] - phase.fetched[u] for u in arrived if u in phase.fetched]
    stages = {
        "poller": [phase.raw_at[u] - phase.fetched[u] for u in arrived if u in phase.raw_at],
        "processor": [phase.alert_at[u] - phase.raw_at[u] for u in arrived if u in phase.alert_at],
        "alerter": [arrived[u] - phase.alert_at[u] for u in arrived if u in phase.alert_at],
    }
    p50, p99 = pct(latency, 0.5), pct(latency, 0.99)
    print(
        f"{phase.name}: offered {phase.offered} articles at {rate:.0f}/s; enriched {len(done)}, the last "
        f"{through:.1f} s after the load stopped; sustained {sustained:,.1f} articles/s end to end; alerts "
        f"delivered {len(arrived)} of {len(phase.expected)}"
    )
    print(
        f"  fetch -> webhook p50 {p50 * 1000:,.0f} ms, p99 {p99 * 1000:,.0f} ms (n={len(latency)}); stage "
        "medians: " + ", ".join(f"{k} {statistics.median(v) * 1000:,.0f} ms" for k, v in stages.items() if v)
    )
    cpu = ", ".join(f"{n} {phase.cpu[n] * 1000 / max(1, len(done)):.2f}" for n in SERVICES)
    print(f"  CPU ms per article: {cpu}")
    return {"sustained": sustained, "p50": p50, "p99": p99, "delivered": len(arrived)}


async def run_phase(rig: SystemRig, phase: Phase, load: asyncio.Task[int], drain_seconds: float) -> None:
    pids = {n: rig.pid_of(n) for n in SERVICES}
    cpu0 = {n: cpu_seconds(pid) for n, pid in pids.items()}
    phase.offered = await load
    await settle(rig, phase, drain_seconds)
    phase.cpu = {n: cpu_seconds(pid) - cpu0[n] for n, pid in pids.items()}
    rig.check_running()


async def bench(args: argparse.Namespace, bootstrap: str, tmp: Path) -> None:
    async with SystemRig(bootstrap, tmp, feeds=args.feeds, window=args.window, subscribers=("bench",)) as rig:
        settings = load_settings(environ={k: v for k, v in rig.env.items() if k.startswith("NEWSWATCH_")})
        baseline_maker = ArticleMaker(f"{rig.run}-raw", seed=1)
        baseline = Phase(
            "baseline (raw topic -> processor -> alerter)", f"http://127.0.0.1/articles/{rig.run}-raw/"
        )
        whole = Phase(
            "whole system (feeds -> poller -> processor -> alerter)", f"http://127.0.0.1/articles/{rig.run}/"
        )
        recorder = Recorder([baseline, whole])
        tail = TopicTail(settings, [ARTICLES_RAW, ARTICLES_ENRICHED, ALERTS], recorder.record)
        await tail.start()
        memory_start = rig.memory()
        try:
            for phase, maker in ((baseline, baseline_maker), (whole, rig.maker)):
                phase.expected = maker.matching  # filled as the load is made
                phase.started, phase.seconds = time.time(), args.seconds
                if phase is baseline:
                    load = produce_raw(rig, baseline_maker, args.rate, args.seconds)
                else:
                    load = rig.feeds.run_at(args.rate, args.seconds)
                await run_phase(rig, phase, asyncio.create_task(load), args.drain_seconds)
        finally:
            await tail.stop()
        memory_end = rig.memory()
        print(
            f"bench/system.py: offered {args.rate:.0f} articles/s for {args.seconds:.0f} s per phase, "
            f"{args.feeds} feeds polled every second, 1 article in 4 matching, 1 webhook subscriber"
        )
        base = report(rig, baseline, args.rate)
        full = report(rig, whole, args.rate)
        share = full["sustained"] / args.rate
        print(
            f"goals: sustained >= {GOAL_RATE_SHARE:.0%} of offered: {share:.1%} -> "
            f"{'met' if share >= GOAL_RATE_SHARE else 'NOT met'}; fetch -> webhook p50 <= "
            f"{GOAL_P50_SECONDS:g} s: {'met' if full['p50'] <= GOAL_P50_SECONDS else 'NOT met'}; p99 <= "
            f"{GOAL_P99_SECONDS:g} s: {'met' if full['p99'] <= GOAL_P99_SECONDS else 'NOT met'}; "
            f"alerts lost: {len(whole.expected) - int(full['delivered'])}"
        )
        rate_ratio = full["sustained"] / max(base["sustained"], 1e-9)
        print(
            f"ratio whole system / baseline: sustained {rate_ratio:.2f}x, "
            f"latency p50 {full['p50'] / base['p50']:.2f}x, p99 {full['p99'] / base['p99']:.2f}x"
        )
        print(
            "resident memory MiB start -> end (peak): "
            + ", ".join(
                f"{n} {memory_start[n][0]:.0f} -> {memory_end[n][0]:.0f} ({memory_end[n][1]:.0f})"
                for n in SERVICES
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="articles/s offered in each phase")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each phase")
    parser.add_argument("--feeds", type=int, default=20, help="feeds the whole-system phase spreads over")
    parser.add_argument("--window", type=int, default=400, help="newest items each feed shows")
    parser.add_argument("--drain-seconds", type=float, default=120.0, help="longest wait after each phase")
    args = parser.parse_args()
    with own_broker() as bootstrap, tempfile.TemporaryDirectory(prefix="bench-system-") as tmp:
        asyncio.run(bench(args, bootstrap, Path(tmp)))


if __name__ == "__main__":
    main()

"""Alerter benchmark: 1,000 subscriptions, alerts at 500/s, local webhook receivers.

Setup: ``--subscriptions`` webhook subscriptions (default 1,000) spread over ``--receivers`` loopback
aiohttp receivers running in a child process (their CPU is not the alerter's); each subscription filters
on one watch list, and alerts cycle over the watch lists so that each alert matches
``--matches-per-alert`` subscriptions (default 2: 1,000 deliveries/s at 500 alerts/s). The run starts a
fresh broker of its own (``deploy/kafka/kafka.sh``, as ``pipeline.py``), so that tens of thousands of
alerts never land on a shared broker where other alerters would deliver them; ``--shared-broker`` uses
``NEWSWATCH_KAFKA_BOOTSTRAP`` instead (subscriptions are removed at the end). The alerter under test
(the real :class:`AlerterService`, a fresh consumer group, scoped to these subscriptions) runs in this
process.

Measured: alerts are produced at ``--rate`` per second for ``--seconds``; deliveries/s (unique
``webhook-id`` received from the first alert produced to the last delivery), alert → delivery latency
p50/p99 (receiver arrival minus the alert's ``created_at``), and the alerter process's resident memory
(VmRSS / VmHWM). Baseline, in the same run: the same kind of deliveries POSTed one after the other
(signed, to the same receivers) by one aiohttp session, no Kafka, for ``--baseline-deliveries``, as fast
as they go, each alert created just before its POST; deliveries/s and latency likewise. Printed: both,
and the ratios (CPU per delivery; deliveries/s when the alerter drains a backlog of the same alerts queued
before it starts, its top speed, against the baseline's).

``--receiver-delay-ms`` makes each receiver answer after a delay, as receivers across a network do.

Usage: ``python bench/alerter.py [--seconds 20] [--rate 500] [--receiver-delay-ms 20] [--no-backlog]``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import logging
import multiprocessing
import pstats
import time
import uuid
from datetime import datetime
from typing import Any

import aiohttp
from _ports import free_ports  # bench/ is the script's directory
from _proc import peak_rss_mb, rss_mb
from aiohttp import web

from newswatch import contracts
from newswatch.alerter import signing
from newswatch.alerter.channels.webhook import encode_body
from newswatch.alerter.service import AlerterService
from newswatch.alerter.subscriptions import new_subscription
from newswatch.kafka import assign_all_partitions, ensure_topics, make_consumer, make_producer, publish
from newswatch.settings import load_settings
from newswatch.topics import ALERTS, SCHEDULE, SUBSCRIPTIONS
from newswatch.v1.alert_pb2 import Alert

# ---------------------------------------------------------------- receivers (child process)


def _receivers(ports: list[int], ready: Any, delay_seconds: float) -> None:
    seen: set[str] = set()
    latencies: list[float] = []
    last = [0.0]

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        if delay_seconds:
            await asyncio.sleep(delay_seconds)  # a receiver that takes its time, as real ones do
        now = time.time()
        wid = request.headers.get("webhook-id", "")
        if wid not in seen:
            seen.add(wid)
            created = json.loads(body).get("created_at")
            if created:
                latencies.append(now - datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp())
            last[0] = now
        return web.Response(status=204)

    async def stats(_request: web.Request) -> web.Response:
        ordered = sorted(latencies) or [0.0]

        def pick(q: float) -> float:
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

        return web.json_response({"unique": len(seen), "p50": pick(0.5), "p99": pick(0.99), "last": last[0]})

    async def reset(_request: web.Request) -> web.Response:
        seen.clear()
        latencies.clear()
        return web.json_response({})

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/hook", hook)
        app.router.add_get("/stats", stats)
        app.router.add_post("/reset", reset)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        for port in ports:
            await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


async def _stats(http: aiohttp.ClientSession, port: int) -> dict[str, float]:
    async with http.get(f"http://127.0.0.1:{port}/stats") as resp:
        data: dict[str, float] = await resp.json()
        return data


def _alert(watchlist: str, run: str, i: int) -> Alert:
    return Alert(
        alert_id=f"{run}-{i}:{watchlist}",
        watchlist_id=watchlist,
        watchlist_name="Bench",
        article_id=f"{run}-{i}",
        title="Palmyre : reprise des combats près de Tadmur",
        url=f"https://example.org/{run}/{i}",
        score=0.9,
        countries=["SY"],
        regions=["mena"],
        created_at=contracts.timestamp(),
    )


# ---------------------------------------------------------------- runs


async def run_alerter(args: argparse.Namespace, ports: list[int], *, backlog: bool) -> dict[str, Any]:
    """One alerter run: alerts at ``args.rate`` while it runs, or (``backlog``) all of them queued first."""
    run = uuid.uuid4().hex[:8]
    settings = load_settings().replace(
        allow_private_networks=True, alerter_metrics_port=0, api_port=0, delivery_concurrency=args.concurrency
    )
    await ensure_topics(settings)
    watchlists = [f"bench-{run}-{w}" for w in range(args.subscriptions // args.matches_per_alert)]
    subs = [
        new_subscription(
            f"bench {i}",
            webhook_url=f"http://127.0.0.1:{ports[i % len(ports)]}/hook",
            watchlists=[watchlists[i % len(watchlists)]],
            allow_private=True,
        )
        for i in range(args.subscriptions)
    ]
    producer = make_producer(settings, "bench")
    await producer.start()
    group = f"bench-alerter-{run}"
    for name, topic in ((group, ALERTS), (f"{group}.schedule", SCHEDULE)):
        consumer = make_consumer(settings, "bench-seed", group_id=name)
        await consumer.start()
        tps = await assign_all_partitions(consumer, topic)
        await consumer.commit(dict(await consumer.end_offsets(tps)))
        await consumer.stop()
    acks = [await publish(producer, SUBSCRIPTIONS, s.subscription_id, s) for s in subs]
    await asyncio.gather(*acks)
    mine = {s.subscription_id for s in subs}
    service = AlerterService(settings, group_id=group, scope=mine.__contains__)
    total = int(args.rate * args.seconds)
    expected = total * args.matches_per_alert
    try:
        async with aiohttp.ClientSession() as http:
            await http.post(f"http://127.0.0.1:{ports[0]}/reset")
            if backlog:  # every alert on the topic first, then the alerter drains them
                started = time.time()
                for i in range(total):
                    alert = _alert(watchlists[i % len(watchlists)], run, i)
                    await publish(producer, ALERTS, alert.article_id, alert)
                await producer.flush()
                produced_in = time.time() - started
                await service.start()
                started = time.time()
                cpu_started = time.process_time()
            else:  # alerts at the offered rate while the alerter runs
                await service.start()
                started = time.time()
                cpu_started = time.process_time()
                for i in range(total):
                    due = started + i / args.rate
                    if (pause := due - time.time()) > 0:
                        await asyncio.sleep(pause)
                    alert = _alert(watchlists[i % len(watchlists)], run, i)
                    await publish(producer, ALERTS, alert.article_id, alert)
                await producer.flush()
                produced_in = time.time() - started
            deadline = time.time() + args.drain_seconds
            stats = await _stats(http, ports[0])
            while stats["unique"] < expected and time.time() < deadline:
                await asyncio.sleep(0.5)
                stats = await _stats(http, ports[0])
        cpu = time.process_time() - cpu_started
        rss, hwm = rss_mb(), peak_rss_mb()
        outcomes = {
            o: service.metrics.deliveries.labels(channel="webhook", outcome=o)._value.get()
            for o in ("delivered", "retrying", "failed", "rejected")
        }
    finally:
        await service.stop()
        tombstones = [await publish(producer, SUBSCRIPTIONS, s.subscription_id, None) for s in subs]
        await asyncio.gather(*tombstones)
        await producer.stop()
    elapsed = max(1e-9, stats["last"] - started)
    return {
        "alerts": total,
        "produced_in": produced_in,
        "expected": expected,
        "delivered": stats["unique"],
        "rate": stats["unique"] / elapsed,
        "p50": stats["p50"],
        "p99": stats["p99"],
        "rss": rss,
        "hwm": hwm,
        "outcomes": outcomes,
        "cpu_ms": 1000 * cpu / max(1, stats["unique"]),
    }


async def run_baseline(args: argparse.Namespace, ports: list[int]) -> dict[str, float]:
    """Sequential signed POSTs as fast as they go, one session; each alert is created just before its POST
    (so its latency is the POST's own time: the baseline never has a backlog)."""
    secret = signing.generate_secret()
    run = uuid.uuid4().hex[:8]
    async with aiohttp.ClientSession() as http:
        await http.post(f"http://127.0.0.1:{ports[0]}/reset")
        started = time.time()
        cpu_started = time.process_time()
        for i in range(args.baseline_deliveries):
            alert = _alert("baseline", run, i)
            body = encode_body(alert)
            headers = signing.signed_headers(secret, f"msg_{run}_{i}", int(time.time()), body)
            headers["content-type"] = "application/json"
            url = f"http://127.0.0.1:{ports[i % len(ports)]}/hook"
            async with http.post(url, data=body, headers=headers) as resp:
                await resp.read()
        stats = await _stats(http, ports[0])
    elapsed = max(1e-9, stats["last"] - started)
    cpu = time.process_time() - cpu_started
    return {
        "cpu_ms": 1000 * cpu / max(1, stats["unique"]),
        "delivered": stats["unique"],
        "rate": stats["unique"] / elapsed,
        "p50": stats["p50"],
        "p99": stats["p99"],
    }


async def bench(args: argparse.Namespace) -> None:
    ports = free_ports(args.receivers)
    ready = multiprocessing.get_context("spawn").Event()
    child = multiprocessing.get_context("spawn").Process(
        target=_receivers, args=(ports, ready, args.receiver_delay_ms / 1000), daemon=True
    )
    child.start()
    try:
        assert ready.wait(30), "receivers did not start"
        base = await run_baseline(args, ports)
        print(
            f"baseline (sequential POSTs, no Kafka): {base['delivered']:.0f} deliveries, "
            f"{base['rate']:.0f}/s, {base['cpu_ms']:.2f} CPU ms each, "
            f"latency p50 {base['p50'] * 1000:.0f} ms p99 {base['p99'] * 1000:.0f} ms"
        )
        profile = cProfile.Profile() if args.profile else None
        if profile is not None:
            profile.enable()
        got = await run_alerter(args, ports, backlog=False)
        if profile is not None:
            profile.disable()
            pstats.Stats(profile).sort_stats(args.profile_sort).print_stats(args.profile_lines)
        print(
            f"alerter at {args.rate:g} alerts/s: {args.subscriptions} subscriptions, "
            f"{got['alerts']:.0f} alerts produced in {got['produced_in']:.1f}s "
            f"({got['alerts'] / got['produced_in']:.0f}/s), "
            f"{got['delivered']:.0f}/{got['expected']:.0f} deliveries, {got['rate']:.0f} deliveries/s, "
            f"{got['cpu_ms']:.2f} CPU ms each (alerter + producer), "
            f"latency p50 {got['p50'] * 1000:.0f} ms p99 {got['p99'] * 1000:.0f} ms, "
            f"RSS {got['rss']:.0f} MiB (peak {got['hwm']:.0f} MiB)"
        )
        print(f"  attempts by outcome: {got['outcomes']}")
        print(f"  ratio CPU per delivery alerter / baseline: {got['cpu_ms'] / base['cpu_ms']:.2f}x")
        if args.backlog:
            full = await run_alerter(args, ports, backlog=True)
            print(
                f"alerter draining a backlog of {full['alerts']:.0f} alerts: "
                f"{full['delivered']:.0f}/{full['expected']:.0f} deliveries, "
                f"{full['rate']:.0f} deliveries/s, "
                f"{full['cpu_ms']:.2f} CPU ms each, RSS peak {full['hwm']:.0f} MiB"
            )
            print(
                "  ratio deliveries/s alerter (backlog) / sequential baseline: "
                f"{full['rate'] / base['rate']:.2f}x"
            )
    finally:
        child.terminate()
        child.join(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscriptions", type=int, default=1000)
    parser.add_argument("--matches-per-alert", type=int, default=2)
    parser.add_argument("--rate", type=float, default=500.0, help="alerts produced per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long alerts are produced")
    parser.add_argument("--receivers", type=int, default=4, help="loopback receiver ports")
    parser.add_argument(
        "--receiver-delay-ms", type=float, default=0.0, help="each receiver answers after this"
    )
    parser.add_argument("--concurrency", type=int, default=64, help="NEWSWATCH_DELIVERY_CONCURRENCY")
    parser.add_argument("--baseline-deliveries", type=int, default=2000)
    parser.add_argument(
        "--backlog",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure draining a backlog",
    )
    parser.add_argument("--profile", action="store_true", help="print where the alerter run spends CPU")
    parser.add_argument("--profile-sort", default="tottime", help="pstats sort key (tottime, cumulative)")
    parser.add_argument("--profile-lines", type=int, default=30, help="how many profile rows to print")
    parser.add_argument("--drain-seconds", type=float, default=120.0, help="longest wait for the backlog")
    parser.add_argument(
        "--shared-broker",
        action="store_true",
        help="use the broker at NEWSWATCH_KAFKA_BOOTSTRAP instead of a fresh one of its own",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # a fresh broker's coordinator warm-up is noisy
    from pipeline import run_on_broker  # the same throw-away broker as the pipeline benchmark

    run_on_broker(args.shared_broker, lambda: bench(args))


if __name__ == "__main__":
    main()

"""The processor pipeline through the real broker: articles/s per worker, alert latency, worker memory.

Usage: ``python bench/pipeline.py [--articles N] [--latency-seconds S] [--stub-only] [--only VARIANTS]
[--profile DIR]``.
It starts a fresh broker of its own (``deploy/kafka/kafka.sh``, jars fetched by ``make bench``) and
stops it at the end; ``--shared-broker`` uses the one at ``NEWSWATCH_KAFKA_BOOTSTRAP`` instead (its
raw topic then keeps the backlog, which every other consumer group of it has to read through).

N raw articles of ~4 KB (sentences of the labelled dev set and the seed article; a share matches the
default watch list, a share are syndicated copies of earlier ones) are produced to
``newswatch.articles.raw.v1`` once. Each variant below then runs as its own process and consumer group,
whose offsets were committed at the topic's end just before the articles were produced, so it reads
this backlog (and whatever else other users of the broker publish meanwhile). Throughput is the rate
at which the variant's enriched articles come out between 10% and 90% of the backlog.

- ``faust``: the processor (``run_worker``: batches, tables, near-duplicate index), one worker;
- ``faust-unbatched``: the same with batches of one message;
- ``faust-nosig``: the same without near-duplicate signatures (exact copies only): what they cost;
- ``faust-pool``: the processor with ``--processes`` enrichment processes beside it (default 1;
  ``processor_enrich_processes``), real enrichment only; its CPU figure counts the processes too, and
  its memory line adds the proportional memory (PSS) of the worker and its processes;
- ``aiokafka``: the baseline, a plain aiokafka consume → enrich → produce loop awaiting every send,
  with the same enrichment and no state;
- ``… (stub enrich)``: enrichment replaced by a stub that only copies the article: what the plumbing
  (Kafka, Faust, our agent, dedupe and near-duplicate index) costs alone. Every variant but
  ``faust-pool`` runs with the stub; ``faust`` and ``aiokafka`` also with the real enrichment (unless
  ``--stub-only``).

After its backlog, the ``faust`` worker (and ``faust-pool``) gets a paced load (half its throughput,
at most 200/s) for the latency figures: alert ``created_at`` and the alert record's timestamp, each
minus the raw record's timestamp. Its resident memory (VmRSS, VmHWM; the gazetteer is loaded in every
processor variant) is read at the end. ``--profile DIR`` samples every Faust variant's worker with
py-spy (raw stacks into DIR) and prints where its time goes. The last lines compare the
real-enrichment workers with issue 4's goals (5,000 articles/s per worker, peak RSS under 500 MB) and
say "met" or "NOT met". Articles carry a ``content_sha256`` as the poller's do.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

from _ports import free_port, free_port_pair  # bench/ is on sys.path
from _proc import children, cpu_seconds, peak_rss_mb, pss_mb, rss_mb
from aiokafka import AIOKafkaConsumer, TopicPartition

from newswatch import contracts
from newswatch.kafka import ensure_topics, make_consumer, make_producer, wait_for_broker
from newswatch.poller.publisher import content_sha256
from newswatch.processor.app import ORIGIN_HEADER
from newswatch.settings import Settings, load_settings
from newswatch.topics import ALERTS, ARTICLES_ENRICHED, ARTICLES_RAW
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.article_pb2 import Article

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared"
SEED = SHARED / "seeds" / "000_d49beb34632bf2ff.txt"
PY_SPY = str(Path(sys.executable).with_name("py-spy"))
KAFKA_SH = HERE.parent / "deploy" / "kafka" / "kafka.sh"
BASH = shutil.which("bash") or "/bin/bash"


# --- the articles -----------------------------------------------------------------------------------


def corpus(
    run: str, n: int, match_share: float, copy_share: float, size: int = 4096, seed: int = 7
) -> list[Article]:
    """``n`` articles of about ``size`` characters; ``match_share`` of them built from sentences naming
    the default watch list's terms, the others from sentences that do not (hard negatives included);
    ``copy_share`` are syndicated copies (another header, a few words changed) of an earlier one."""
    rng = random.Random(seed)
    rows = [json.loads(line) for line in (SHARED / "eval" / "keywords-dev.jsonl").open()]
    matching = [r["text"] for r in rows if r["terms"]]
    neutral = [r["text"] for r in rows if not r["terms"]]
    seed_text = SEED.read_text()
    for sentence in (s.strip() for s in seed_text.split(".")):
        if len(sentence) > 30:
            terms = ("ISIS", "Palmyr", "Hit ", "Daesh")
            (matching if any(t in sentence for t in terms) else neutral).append(sentence + ".")
    out: list[Article] = []
    for i in range(n):
        aid = f"bench-{run}-{i}"
        if out and rng.random() < copy_share:
            original = rng.choice(out)
            body = original.content.replace(" the ", " this ", 2)
            out.append(
                Article(
                    article_id=aid,
                    feed_id="bench-copies",
                    title=original.title,
                    content=f"Republished from {original.feed_id}.\n{body}",
                    language="en",
                )
            )
            continue
        pool = matching if rng.random() < match_share else neutral
        parts = [rng.choice(pool)]
        while sum(len(p) + 1 for p in parts) < size:
            # Filler sentences of their own keep articles distinct (as real ones are).
            parts.append(rng.choice(neutral) if rng.random() < 0.5 else _filler(rng))
        out.append(
            Article(
                article_id=aid, feed_id="bench", title=parts[0][:80], content=" ".join(parts), language="en"
            )
        )
    for article in out:  # as the poller publishes them
        article.content_sha256 = content_sha256(article.title, article.summary, article.content)
    return out


_WORDS = [
    "government", "officials", "said", "the", "talks", "would", "continue", "next", "week", "while",
    "markets", "remained", "calm", "and", "analysts", "expected", "further", "negotiations", "between",
    "parties", "over", "budget", "energy", "prices",
]  # fmt: skip


def _filler(rng: random.Random) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(12, 25))).capitalize() + "."


# --- Kafka helpers ----------------------------------------------------------------------------------


async def raw_partitions(settings: Settings) -> list[TopicPartition]:
    consumer = make_consumer(settings, "bench-probe", group_id=None)
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(ARTICLES_RAW.name)
        while not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(ARTICLES_RAW.name)
        return [TopicPartition(ARTICLES_RAW.name, p) for p in sorted(parts)]
    finally:
        await consumer.stop()


async def commit_at_end(settings: Settings, group_ids: list[str]) -> None:
    """Start every group at the raw topic's current end (what is produced next is its backlog)."""
    tps = await raw_partitions(settings)
    for group_id in group_ids:
        consumer = make_consumer(settings, "bench-offsets", group_id=group_id)
        await consumer.start()
        try:
            consumer.assign(tps)
            await consumer.seek_to_end(*tps)
            await consumer.commit({tp: await consumer.position(tp) for tp in tps})
        finally:
            await consumer.stop()


async def produce(settings: Settings, articles: list[Article]) -> None:
    producer = make_producer(settings, "bench", linger_ms=20, max_batch_size=1 << 20)
    await producer.start()
    try:
        futures = []
        for article in articles:
            value, headers = contracts.encode(article)
            futures.append(
                await producer.send(
                    ARTICLES_RAW.name, value=value, key=article.article_id.encode(), headers=headers
                )
            )
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def tail(settings: Settings, *topics: str) -> AIOKafkaConsumer:
    consumer = make_consumer(settings, "bench-tail", group_id=None, max_poll_records=5000)
    await consumer.start()
    tps = []
    for topic in topics:
        parts = consumer.partitions_for_topic(topic)
        while not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic)
        tps += [TopicPartition(topic, p) for p in parts]
    consumer.assign(tps)
    await consumer.seek_to_end(*tps)
    for tp in tps:
        await consumer.position(tp)
    return consumer


# --- the workers ------------------------------------------------------------------------------------


class WorkerProcess:
    """A variant running in a subprocess (this file with ``--serve``)."""

    def __init__(
        self, variant: str, app_id: str, stub: bool, env: dict[str, str], log: Path, processes: int = 0
    ) -> None:
        self.variant, self.app_id, self.stub = variant, app_id, stub
        self.port = free_port()
        args = [sys.executable, __file__, "--serve", variant, "--app-id", app_id, "--port", str(self.port)]
        args += ["--processes", str(processes)]
        with log.open("ab") as sink:
            self.proc = subprocess.Popen(
                [*args, *(["--stub"] if stub else [])], env=env, stdout=sink, stderr=subprocess.STDOUT
            )
        self.log = log

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def metric(self, name: str) -> float:
        """A sample of the worker's /metrics (0 when absent: the baseline has none)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as resp:
                body = resp.read().decode()
        except OSError:
            return 0.0
        for line in body.splitlines():
            if line.startswith(name + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def cpu_seconds(self) -> float:
        """User + system CPU time the worker process and its children used so far."""
        return cpu_seconds(self.proc.pid) + sum(cpu_seconds(pid) for pid in children(self.proc.pid))

    def memory_mb(self) -> tuple[float, float]:
        return rss_mb(self.proc.pid), peak_rss_mb(self.proc.pid)

    def total_pss_mb(self) -> float:
        """Proportional memory of the worker and its children together."""
        return pss_mb(self.proc.pid) + sum(pss_mb(pid) for pid in children(self.proc.pid))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


async def wait_ready(worker: WorkerProcess, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while not worker.ready():
        if worker.proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{worker.variant} did not start:\n{worker.log.read_text()[-3000:]}")
        await asyncio.sleep(0.2)


async def drain(consumer: AIOKafkaConsumer, worker: WorkerProcess, keys: set[bytes]) -> dict[str, float]:
    """Wait until every backlog article came out enriched from ``worker``; return the rate figures."""
    origin = worker.app_id
    seen: set[bytes] = set()
    stamps: list[float] = []
    started = time.monotonic()
    last_progress = started
    while len(seen) < len(keys):
        batch = await consumer.getmany(timeout_ms=500)
        now = time.monotonic()
        for records in batch.values():
            for r in records:
                if (
                    r.key in keys
                    and r.key not in seen
                    and contracts.header(r.headers, ORIGIN_HEADER) == origin
                ):
                    seen.add(r.key)
                    stamps.append(now)
                    last_progress = now
        if worker.proc.poll() is not None:  # died (e.g. a signal: negative code) rather than stuck
            raise SystemExit(
                f"{worker.variant}: worker exited with code {worker.proc.returncode} at "
                f"{len(seen)}/{len(keys)}\n{worker.log.read_text()[-3000:]}"
            )
        if now - last_progress > 60:
            raise SystemExit(
                f"{worker.variant}: stuck at {len(seen)}/{len(keys)}\n{worker.log.read_text()[-3000:]}"
            )
    lo, hi = stamps[len(stamps) // 10], stamps[(len(stamps) * 9) // 10]
    middle = (len(stamps) * 9) // 10 - len(stamps) // 10
    return {"rate": middle / max(hi - lo, 1e-6), "total_seconds": stamps[-1] - started}


async def settle(worker: WorkerProcess, seconds: float = 60.0) -> None:
    """Wait until the worker handled what else its group's backlog holds (another variant's paced load
    comes after this run's backlog): its count of handled articles stays the same for a second."""
    names = [f'newswatch_processor_articles_total{{outcome="{o}"}}' for o in ("processed", "duplicate")]
    deadline = time.monotonic() + seconds
    before = -1.0
    while time.monotonic() < deadline:
        now = sum(worker.metric(name) for name in names)
        if now == before:
            return
        before = now
        await asyncio.sleep(1.0)


async def latency(
    settings: Settings, worker: WorkerProcess, articles: list[Article], rate: float, seconds: float
) -> dict[str, float]:
    """Paced load; alert created_at and alert record timestamp minus the raw record timestamp (ms)."""
    consumer = await tail(settings, ALERTS.name)
    producer = make_producer(settings, "bench-paced")
    await producer.start()
    raw_ts: dict[bytes, int] = {}
    created: list[float] = []
    appended: list[float] = []
    try:
        count = int(rate * seconds)
        started = time.monotonic()
        for i, article in enumerate(articles[:count]):
            await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
            value, headers = contracts.encode(article)
            key = article.article_id.encode()
            fut = await producer.send(ARTICLES_RAW.name, value=value, key=key, headers=headers)
            meta = await fut
            raw_ts[key] = meta.timestamp
            _collect_alerts(await consumer.getmany(timeout_ms=0), worker, raw_ts, created, appended)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            _collect_alerts(await consumer.getmany(timeout_ms=500), worker, raw_ts, created, appended)
    finally:
        await producer.stop()
        await consumer.stop()
    if not created:
        return {}
    q = statistics.quantiles
    return {
        "alerts": len(created),
        "created_p50": q(created, n=100)[49],
        "created_p90": q(created, n=100)[89],
        "created_p99": q(created, n=100)[98],
        "created_max": max(created),
        "record_p50": q(appended, n=100)[49],
        "record_p99": q(appended, n=100)[98],
    }


def _collect_alerts(
    batch: dict[Any, list[Any]],
    worker: WorkerProcess,
    raw_ts: dict[bytes, int],
    created: list[float],
    appended: list[float],
) -> None:
    for records in batch.values():
        for r in records:
            if r.key in raw_ts and contracts.header(r.headers, ORIGIN_HEADER) == worker.app_id:
                alert = contracts.decode(Alert, r.value, r.headers)
                created.append(alert.created_at.seconds * 1000 + alert.created_at.nanos / 1e6 - raw_ts[r.key])
                appended.append(r.timestamp - raw_ts[r.key])


def profile_summary(path: Path) -> list[tuple[str, float]]:
    """Share of the samples (taken while holding the GIL) by where they were (see ``_classify``)."""
    groups: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        n = int(count)
        total += n
        groups[_classify(frames)] += n
    return [(name, n / total) for name, n in groups.most_common()] if total else []


def _classify(frames: list[str]) -> str:
    """Our innermost processor module (the worker's entry point in app.py aside), else the innermost
    library frame: Faust and aiokafka's own work counts as theirs."""
    for frame in reversed(frames):
        if "newswatch/processor/" in frame and "run_worker" not in frame:
            module = frame.split("newswatch/processor/")[1].split(".py")[0]
            if module != "app" or "build_app" in frame:
                return f"newswatch.processor.{module}"
        if "newswatch/" in frame and "newswatch/processor/" not in frame:
            return "newswatch (other)"
        if "prometheus_client" in frame:
            return "prometheus_client"
        if "google/protobuf" in frame:
            return "protobuf"
        for lib in ("aiokafka", "faust", "mode", "asyncio", "threading", "selectors"):
            if f"/{lib}/" in frame or f"({lib}/" in frame or f"({lib}.py" in frame:
                return lib
    return "other"


async def run_variant(
    settings: Settings,
    variant: str,
    stub: bool,
    app_id: str,
    keys: set[bytes],
    env: dict[str, str],
    logdir: Path,
    args: argparse.Namespace,
    articles: list[Article],
) -> dict[str, Any]:
    processes = args.processes if variant == "faust-pool" else 0
    worker = WorkerProcess(variant, app_id, stub, env, logdir / f"{app_id}.log", processes)
    spy: subprocess.Popen[bytes] | None = None
    try:
        consumer = await tail(settings, ARTICLES_ENRICHED.name)
        try:
            await wait_ready(worker)
            if args.profile and variant.startswith("faust"):
                out = Path(args.profile) / f"{variant}{'-stub' if stub else ''}.txt"
                spy = subprocess.Popen(  # noqa: ASYNC220 - starts py-spy and returns at once
                    [
                        PY_SPY,
                        "record",
                        "--format",
                        "raw",
                        "--rate",
                        "200",
                        "--gil",
                        "-o",
                        str(out),
                        "--pid",
                        str(worker.proc.pid),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            cpu, broker_cpu = worker.cpu_seconds(), broker_cpu_seconds()
            figures: dict[str, Any] = await drain(consumer, worker, keys)
            figures["cpu_ms"] = (worker.cpu_seconds() - cpu) * 1000 / len(keys)
            if broker_cpu is not None:
                figures["broker_cpu_ms"] = (broker_cpu_seconds() or 0.0) - broker_cpu
                figures["broker_cpu_ms"] *= 1000 / len(keys)
            # Batch figures of the backlog alone (the paced load below comes in small batches).
            figures.update(batch_figures(worker))
        finally:
            await consumer.stop()
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
            figures["profile"] = profile_summary(out)
        if variant in ("faust", "faust-pool") and not stub and args.latency_seconds > 0:
            rate = min(200.0, figures["rate"] / 2)
            # Texts and ids of their own: copies of the backlog, or of the paced load of the variant
            # before (in this worker's backlog too), would be near-duplicates, alerted for already.
            paced = corpus(
                f"{articles[0].article_id}-{variant}-paced",
                int(rate * args.latency_seconds) + 1,
                1.0,
                0.0,
                seed=8 if variant == "faust" else 9,
            )
            await settle(worker)
            figures["latency"] = await latency(settings, worker, paced, rate, args.latency_seconds)
            figures["latency_rate"] = rate
        figures["rss_mb"], figures["hwm_mb"] = worker.memory_mb()
        if processes:
            figures["pss_mb"] = worker.total_pss_mb()
            figures["share"] = worker.metric("newswatch_processor_enrich_worker_share_ratio")
        return figures
    finally:
        worker.stop()


def batch_figures(worker: WorkerProcess) -> dict[str, float]:
    """Mean batch size and mean processing seconds per batch so far, from the worker's metrics."""
    batches = worker.metric("newswatch_processor_batch_articles_count")
    if not batches:
        return {}
    return {
        "batch_mean": worker.metric("newswatch_processor_batch_articles_sum") / batches,
        "batch_seconds": worker.metric("newswatch_processor_processing_duration_seconds_sum")
        / max(1.0, worker.metric("newswatch_processor_processing_duration_seconds_count")),
    }


def index_memory(articles: list[Article], entries: int) -> tuple[float, float]:
    """Bytes per entry of a NearDupIndex holding ``entries`` articles (their signatures cycled from the
    corpus, a few bytes changed so that buckets stay small), and signatures/s of the corpus."""
    import tracemalloc

    from newswatch.processor.dupindex import Entry, NearDupIndex
    from newswatch.processor.neardup import article_text, signature

    started = time.process_time()
    sigs = [s for s in (signature(article_text(a)) for a in articles) if s]
    per_second = len(articles) / (time.process_time() - started)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    index = NearDupIndex(max_entries=entries)
    now = time.time()
    for n in range(entries):
        sig = bytearray(sigs[n % len(sigs)])
        sig[:4] = n.to_bytes(4, "little")
        sig[40:44] = n.to_bytes(4, "little")
        index.add(Entry(f"article-{uuid.uuid4().hex}", now, b"", bytes(sig)), now)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return used / entries, per_second


async def bench(args: argparse.Namespace) -> None:
    # aiokafka logs (and retries) a missing group coordinator while a fresh broker creates its offsets topic
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    settings = load_settings()
    await wait_for_broker(settings)
    await ensure_topics(settings)
    run = uuid.uuid4().hex[:10]
    articles = corpus(run, args.articles, args.match_share, args.copy_share)
    keys = {a.article_id.encode() for a in articles}
    variants = [(v, True) for v in ("faust", "faust-unbatched", "faust-nosig", "aiokafka")]
    if not args.stub_only:
        variants += [("faust", False), ("faust-pool", False), ("aiokafka", False)]
    if args.only:
        wanted = set(args.only.split(","))
        variants = [(v, s) for v, s in variants if f"{v}{'-stub' if s else ''}" in wanted]
    groups = {(v, s): f"bench-{v}{'-stub' if s else ''}-{run}" for v, s in variants}
    await commit_at_end(settings, list(groups.values()))
    started = time.monotonic()
    await produce(settings, articles)
    produced = time.monotonic() - started
    size = sum(len(a.content) for a in articles) // len(articles)
    print(f"backlog: {len(articles)} articles x {size} chars produced in {produced:.1f}s")
    per_entry, signatures = index_memory(articles, 50_000)
    print(
        f"near-duplicate signatures: {signatures:.0f} articles/s (CPU, in process); index memory "
        f"{per_entry:.0f} bytes per article (50,000 indexed; the cap holds {settings.neardup_max_articles:,})"
    )
    logdir = Path(args.logdir or tempfile.mkdtemp(prefix=f"newswatch-bench-{run}-"))
    logdir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before anything runs
    # A PYTHONPATH given to the benchmark wins (to measure another checkout); else this one's services.
    paths = [os.environ.get("PYTHONPATH", ""), str(HERE.parent / "services")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    results: dict[tuple[str, bool], dict[str, Any]] = {}
    for variant, stub in variants:
        results[variant, stub] = figures = await run_variant(
            settings, variant, stub, groups[variant, stub], keys, env, logdir, args, articles
        )
        label = f"{variant}{' (stub enrich)' if stub else ''}"
        broker = figures.get("broker_cpu_ms")
        print(
            f"{label:32s} {figures['rate']:8.0f} articles/s  {figures['cpu_ms']:5.2f} CPU ms/article  "
            f"RSS {figures['rss_mb']:4.0f} MB (peak {figures['hwm_mb']:4.0f} MB)"
            + ("" if broker is None else f"  broker {broker:4.2f} CPU ms/article"),
            flush=True,
        )
        if "pss_mb" in figures:
            print(
                f"    {args.processes} enrichment process(es), the worker's share of a batch "
                f"{figures['share']:.2f} at the end; worker and processes together: "
                f"PSS {figures['pss_mb']:.0f} MB (shared pages counted once)"
            )
        if "batch_mean" in figures:
            print(
                f"    mean batch {figures['batch_mean']:.1f} articles; mean article processing "
                f"{figures['batch_seconds'] * 1000:.1f} ms (decode to outputs acknowledged)"
            )
        for name, share in figures.get("profile", [])[:10]:
            print(f"    {share:6.1%}  {name}  (profiled run: its rate is lower)")
    for stub in (True, False):
        if ("faust", stub) in results and ("aiokafka", stub) in results:
            ratio = results["faust", stub]["rate"] / results["aiokafka", stub]["rate"]
            print(f"ratio faust / aiokafka baseline ({'stub' if stub else 'real'} enrich): {ratio:5.2f}x")
    if ("faust", False) in results and ("faust-pool", False) in results:
        ratio = results["faust-pool", False]["rate"] / results["faust", False]["rate"]
        print(
            f"ratio faust with {args.processes} enrichment process(es) / faust alone (real enrich): "
            f"{ratio:5.2f}x"
        )
    stubbed = {v: results[v, True]["rate"] for v, s in results if s}
    if {"faust", "faust-unbatched"} <= set(stubbed):
        batching = stubbed["faust"] / stubbed["faust-unbatched"]
        print(f"ratio faust batched / unbatched (stub enrich): {batching:5.2f}x")
    if {"faust", "faust-nosig"} <= set(stubbed):
        signatures = stubbed["faust"] / stubbed["faust-nosig"]
        print(f"ratio faust / faust without signatures (stub enrich): {signatures:5.2f}x")
    for variant in ("faust", "faust-pool"):
        lat = results.get((variant, False), {}).get("latency")
        if not lat:
            continue
        paced = results[variant, False]["latency_rate"]
        print(
            f"{variant} alert latency at {paced:.0f} articles/s ({lat['alerts']} alerts): "
            f"created_at p50 {lat['created_p50']:.0f} ms, p90 {lat['created_p90']:.0f} ms, "
            f"p99 {lat['created_p99']:.0f} ms, max {lat['created_max']:.0f} ms; "
            f"alert record p50 {lat['record_p50']:.0f} ms, p99 {lat['record_p99']:.0f} ms"
        )
    goal(results, args.processes)
    print(f"worker logs: {logdir}")


#: Issue 4's goals for one processor worker.
GOAL_ARTICLES_PER_SECOND = 5000.0
GOAL_PEAK_RSS_MB = 500.0


def goal(results: dict[tuple[str, bool], dict[str, Any]], processes: int) -> None:
    """The goal lines, "met" / "NOT met", from the real-enrichment workers (the stub one when there is
    none); with enrichment processes, memory is the worker's and its processes' PSS together."""
    real = [v for v in ("faust", "faust-pool") if (v, False) in results]
    if not real and ("faust", True) not in results:
        return
    for variant in real or ["faust"]:
        figures = results[variant, not real]
        kind = "real" if real else "STUB (plumbing only, not the goal's measure)"
        if variant == "faust-pool":
            kind += f", {processes} enrichment process(es)"
        rate = figures["rate"]
        verdict = "met" if rate >= GOAL_ARTICLES_PER_SECOND else "NOT met"
        print(
            f"goal >= {GOAL_ARTICLES_PER_SECOND:,.0f} articles/s per worker ({kind} enrich): {rate:,.0f}/s "
            f"= {rate / GOAL_ARTICLES_PER_SECOND:.2f}x of the goal -> {verdict}"
        )
        peak, what = figures["hwm_mb"], "worker peak RSS"
        if "pss_mb" in figures:
            peak, what = figures["pss_mb"], "worker and processes PSS"
        verdict = "met" if peak < GOAL_PEAK_RSS_MB else "NOT met"
        print(
            f"goal {what} < {GOAL_PEAK_RSS_MB:.0f} MB with the gazetteer loaded: {peak:.0f} MB -> {verdict}"
        )
        if "broker_cpu_ms" in figures:
            budget(figures["cpu_ms"], figures["broker_cpu_ms"])


def budget(worker_ms: float, broker_ms: float) -> None:
    """How many cores the goal rate needs at the CPU cost per article just measured (the worker with
    its enrichment processes, and the broker it reads from and writes to), against this machine's."""
    cores = (worker_ms + broker_ms) * GOAL_ARTICLES_PER_SECOND / 1000
    print(
        f"    CPU budget: at {worker_ms:.2f} ms (worker) + {broker_ms:.2f} ms (broker) per article, "
        f"{GOAL_ARTICLES_PER_SECOND:,.0f} articles/s needs {cores:.1f} cores busy; this machine has "
        f"{os.cpu_count()}, so at most {os.cpu_count() or 1:d} / {(worker_ms + broker_ms) / 1000:.5f} = "
        f"{(os.cpu_count() or 1) * 1000 / (worker_ms + broker_ms):,.0f} articles/s at these costs"
    )


# --- inside the worker processes ---------------------------------------------------------------------


def serve(args: argparse.Namespace) -> int:
    from newswatch.observability import setup_logging

    settings = load_settings().replace(processor_metrics_port=args.port)
    setup_logging(settings.log_format, "WARNING")
    if args.stub:
        from newswatch.processor import agents
        from newswatch.v1.enriched_pb2 import EnrichedArticle

        def stub_enrich(article: Article, *_: Any, **__: Any) -> EnrichedArticle:
            out = EnrichedArticle(processed_at=contracts.timestamp())
            out.article.CopyFrom(article)
            return out

        def stub_batch(articles: list[Article], *_: Any, **__: Any) -> list[EnrichedArticle]:
            return [stub_enrich(article) for article in articles]

        agents.enrich = stub_enrich  # type: ignore[attr-defined]
        agents.enrich_batch = stub_batch  # type: ignore[attr-defined,assignment]
    if args.serve == "faust-nosig":  # near-duplicates by exact fingerprint only: what signatures cost
        from newswatch.processor import dedupe

        dedupe.signature = lambda text: None  # type: ignore[attr-defined]
    if args.serve == "aiokafka":
        return asyncio.run(baseline(settings, args.app_id, args.stub))
    from newswatch.processor import app as processor_app

    if args.serve == "faust-unbatched":
        settings = settings.replace(processor_batch_max_articles=1)
    if args.serve == "faust-pool":
        settings = settings.replace(processor_enrich_processes=args.processes)
    return processor_app.run_worker(settings, app_id=args.app_id, offset_reset="latest")


async def baseline(settings: Settings, app_id: str, stub: bool) -> int:
    """Consume → enrich → produce, one message and one awaited send at a time; commit per poll."""
    from prometheus_client import CollectorRegistry

    from newswatch.observability import HealthServer
    from newswatch.processor import agents
    from newswatch.processor.enrich import alerts_for
    from newswatch.processor.metrics import ProcessorMetrics
    from newswatch.processor.places import default_gazetteer
    from newswatch.processor.watchlist import default_watchlist

    snapshot = agents.WatchlistRegistry(default_watchlist(), ProcessorMetrics(CollectorRegistry())).snapshot
    gazetteer = default_gazetteer()
    consumer = make_consumer(settings, "bench-baseline", ARTICLES_RAW.name, group_id=app_id)
    producer = make_producer(settings, "bench-baseline")
    origin = [(ORIGIN_HEADER, app_id.encode())]
    ready = False
    health = HealthServer(
        CollectorRegistry(), "127.0.0.1", settings.processor_metrics_port, ready=lambda: ready
    )
    await health.start()
    await consumer.start()
    await producer.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200)
            ready = ready or bool(consumer.assignment())
            for records in batch.values():
                for r in records:
                    article = contracts.decode(Article, r.value, r.headers)
                    enriched = agents.enrich(article, snapshot.matcher, gazetteer)  # type: ignore[attr-defined]
                    for message in (
                        enriched,
                        *alerts_for(enriched, snapshot.watchlists, weights=snapshot.weights),
                    ):
                        value, headers = contracts.encode(message)
                        topic = ARTICLES_ENRICHED if message is enriched else ALERTS
                        await producer.send_and_wait(
                            topic.name, value=value, key=r.key, headers=headers + origin
                        )
            if batch:
                await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()
        await health.stop()
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, default=2000, help="backlog size (default 2000)")
    parser.add_argument("--match-share", type=float, default=0.3)
    parser.add_argument("--copy-share", type=float, default=0.05)
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument("--stub-only", action="store_true", help="only the stub-enrichment variants")
    parser.add_argument(
        "--only",
        metavar="VARIANTS",
        help="comma-separated variants to run, e.g. faust,faust-stub (names as printed, -stub = stub enrich)",
    )
    parser.add_argument(
        "--processes", type=int, default=1, help="enrichment processes of the faust-pool variant (default 1)"
    )
    parser.add_argument("--profile", metavar="DIR", help="sample the Faust workers with py-spy into DIR")
    parser.add_argument("--logdir")
    parser.add_argument(
        "--shared-broker",
        action="store_true",
        help="use the broker at NEWSWATCH_KAFKA_BOOTSTRAP instead of starting one for the run",
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--app-id", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--stub", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        sys.exit(serve(args))
    if args.profile:
        if not Path(PY_SPY).exists():
            parser.error(f"--profile needs py-spy at {PY_SPY} (.venv/bin/python -m pip install py-spy)")
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    run_on_broker(args.shared_broker, lambda: bench(args))


def run_on_broker(shared: bool, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """``asyncio.run(run())`` against the broker at NEWSWATCH_KAFKA_BOOTSTRAP when ``shared``, else
    against a fresh one of its own (:func:`own_broker`), whose address that variable then holds."""
    if shared:
        asyncio.run(run())
        return
    with own_broker() as bootstrap:
        os.environ["NEWSWATCH_KAFKA_BOOTSTRAP"] = bootstrap
        asyncio.run(run())


#: The pid of the broker :func:`own_broker` started (None: a shared broker, not measured).
BROKER_PID: int | None = None


def broker_cpu_seconds() -> float | None:
    """CPU time the benchmark's own broker used so far (None with a shared broker)."""
    return None if BROKER_PID is None else cpu_seconds(BROKER_PID)


@contextlib.contextmanager
def own_broker() -> Iterator[str]:
    """A fresh single-node broker for this run (deploy/kafka/kafka.sh), stopped at the end: the
    backlog of 4 KB articles stays out of a shared broker's raw topic and other groups' way."""
    port = free_port_pair()
    env = {**os.environ, "KAFKA_PORT": str(port), "KAFKA_FRESH": "1", "KAFKA_HEAP": "768m"}
    subprocess.run([BASH, str(KAFKA_SH), "up"], check=True, env=env, timeout=300, stdout=subprocess.DEVNULL)
    home = Path(os.environ.get("KAFKA_HOME", HERE.parent / ".cache" / "kafka"))
    global BROKER_PID  # one broker per benchmark run
    BROKER_PID = int((home / f"broker-{port}" / "broker.pid").read_text())
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run(
            [BASH, str(KAFKA_SH), "down"], check=False, env=env, timeout=120, stdout=subprocess.DEVNULL
        )
        BROKER_PID = None
        shutil.rmtree(home / f"broker-{port}", ignore_errors=True)  # its data: the run's backlog


if __name__ == "__main__":
    main()

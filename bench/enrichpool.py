"""Enrichment of batches with enrichment processes beside the worker, against the worker alone, in one
run (no Kafka): what ``NEWSWATCH_PROCESSOR_ENRICH_PROCESSES`` buys on this machine's cores.

Usage: ``python bench/enrichpool.py [--processes N] [--seconds S] [--batch B]``. The corpus is
``bench/enrich.py``'s (~4 KB articles from the seed article and the labelled dev sentences). Both sides
enrich batches of B articles with their near-duplicate signatures (what the worker needs of them); the
pool's side also decodes the processes' answers, as the worker does. Rounds alternate (alone, pool) and
each side's best round counts. Prints articles/s of each, their ratio, and the worker's learnt share.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Callable, Sequence

from enrich import corpus  # bench/ is on sys.path
from prometheus_client import CollectorRegistry

from newswatch.processor.enrichpool import EnrichPool, enrich_with_signatures
from newswatch.processor.metrics import ProcessorMetrics
from newswatch.processor.normalize import mask_boilerplate
from newswatch.processor.places import default_gazetteer
from newswatch.processor.regions import default_regions
from newswatch.processor.registry import WatchlistRegistry
from newswatch.processor.watchlist import default_watchlist
from newswatch.v1.article_pb2 import Article


def rate(run: Callable[[Sequence[Article]], object], batches: list[list[Article]], seconds: float) -> float:
    """Articles/s of ``run`` over the batches, passes repeated for ``seconds`` (masked-text cache
    emptied before each batch: a stream brings new texts)."""
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for batch in batches:
            mask_boilerplate.cache_clear()
            run(batch)
            done += len(batch)
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--batch", type=int, default=180)
    parser.add_argument("--articles", type=int, default=720)
    args = parser.parse_args()
    articles = corpus(args.articles)
    batches = [articles[i : i + args.batch] for i in range(0, len(articles), args.batch)]
    registry = CollectorRegistry()
    metrics = ProcessorMetrics(registry)
    snapshot = WatchlistRegistry(default_watchlist(), metrics).snapshot
    gazetteer, regions = default_gazetteer(), default_regions()
    pool = EnrichPool(args.processes, gazetteer, regions, metrics)
    pool.start()
    loop = asyncio.new_event_loop()
    raws = {id(batch): [a.SerializeToString() for a in batch] for batch in batches}

    def alone(batch: Sequence[Article]) -> object:
        return enrich_with_signatures(batch, snapshot.matcher, gazetteer, regions)

    def pooled(batch: Sequence[Article]) -> object:
        return loop.run_until_complete(pool.enrich(batch, raws[id(batch)], snapshot))

    try:
        pooled(batches[0])  # the processes build their matcher once
        best = {"alone": 0.0, "pool": 0.0}
        for _ in range(3):
            best["alone"] = max(best["alone"], rate(alone, batches, args.seconds / 6))
            best["pool"] = max(best["pool"], rate(pooled, batches, args.seconds / 6))
    finally:
        pool.close()
        loop.close()
    share = registry.get_sample_value("newswatch_processor_enrich_worker_share_ratio")
    print(f"cores: {os.cpu_count()}; batches of {args.batch} articles of ~4 KB")
    print(f"worker alone:                          {best['alone']:8.0f} articles/s")
    print(f"worker + {args.processes} enrichment process(es):      {best['pool']:8.0f} articles/s")
    print(f"ratio pool / alone:                    {best['pool'] / best['alone']:8.2f}x")
    print(f"the worker's learnt share of a batch:  {share:8.2f}")


if __name__ == "__main__":
    main()

"""Processor enrichment throughput on ~4 KB articles, against a one-regex-per-alias baseline.

The articles are built from the seed article and the labelled dev sentences (read from ../shared), so
matches are realistic. Usage: ``python bench/enrich.py [--articles N] [--seconds S]``.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import time
from collections.abc import Callable
from pathlib import Path

from newswatch.processor.enrich import enrich
from newswatch.processor.keywords import build_matcher
from newswatch.processor.places import default_gazetteer
from newswatch.processor.watchlist import default_watchlist
from newswatch.v1.article_pb2 import Article

SHARED = Path(__file__).resolve().parents[2] / "shared"


def corpus(n: int, size: int = 4096) -> list[Article]:
    rng = random.Random(7)
    sentences = [json.loads(line)["text"] for line in (SHARED / "eval" / "keywords-dev.jsonl").open()]
    seed = (SHARED / "seeds" / "000_d49beb34632bf2ff.txt").read_text()
    sentences += [s.strip() for s in seed.split(".") if len(s.strip()) > 30]
    out = []
    for i in range(n):
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < size:
            parts.append(rng.choice(sentences))
        out.append(Article(article_id=f"a{i}", title=parts[0][:80], content=" ".join(parts), language="en"))
    return out


def naive_matcher() -> Callable[[str], int]:
    """One compiled regex per alias, each scanned over the whole text: the obvious first version."""
    terms = default_watchlist().terms
    patterns = [re.compile(rf"\b{re.escape(a)}\b", re.IGNORECASE) for t in terms for a in t.aliases]
    patterns += [re.compile(rf"\b{re.escape(a)}\b") for t in terms for a in t.case_sensitive_aliases]
    return lambda text: sum(1 for p in patterns for _ in p.finditer(text))


def rate(fn: Callable[[Article], object], articles: list[Article], seconds: float) -> float:
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for article in articles:
            fn(article)
        done += len(articles)
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    articles = corpus(args.articles)
    matcher = build_matcher([default_watchlist()])
    gazetteer = default_gazetteer()
    naive = naive_matcher()

    full = rate(lambda a: enrich(a, matcher, gazetteer), articles, args.seconds)
    keywords_only = rate(lambda a: matcher.match(a.content), articles, args.seconds)
    baseline = rate(lambda a: naive(a.content), articles, args.seconds)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"articles: {len(articles)} x {sum(len(a.content) for a in articles) // len(articles)} chars")
    print(f"enrich (matcher + places + regions): {full:9.0f} articles/s")
    print(f"keyword matcher (automaton, rules):  {keywords_only:9.0f} articles/s")
    print(f"baseline, one regex per alias:       {baseline:9.0f} articles/s")
    print(f"ratio matcher / baseline:            {keywords_only / baseline:9.2f}x")
    print(f"ratio full enrich / baseline:        {full / baseline:9.2f}x")
    print(f"max RSS: {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()

"""Processor enrichment throughput on ~4 KB articles, against a one-regex-per-alias baseline, and what
each step of processing an article costs.

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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from newswatch import contracts
from newswatch.processor.enrich import enrich, enrich_batch
from newswatch.processor.entries import add_entries, encode_entries
from newswatch.processor.keywords import Matcher, build_matcher
from newswatch.processor.language import detect_masked_language
from newswatch.processor.neardup import article_text, signature
from newswatch.processor.normalize import mask_boilerplate
from newswatch.processor.places import Gazetteer, default_gazetteer
from newswatch.processor.watchlist import default_watchlist
from newswatch.v1.article_pb2 import Article
from newswatch.v1.enriched_pb2 import EnrichedArticle

SHARED = Path(__file__).resolve().parents[2] / "shared"


def corpus(n: int, size: int = 4096) -> list[Article]:
    rng = random.Random(7)
    lines = (SHARED / "eval" / "keywords-dev.jsonl").read_text().splitlines()
    sentences = [json.loads(line)["text"] for line in lines if line.strip()]
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


def rate(fn: Callable[[Any], object], articles: Sequence[Any], seconds: float) -> float:
    """Articles/s of ``fn`` over the corpus, passes repeated for ``seconds``. The masked-text cache is
    emptied before each pass: a stream brings new texts, while this corpus comes round again (the
    cache holds a batch's texts, more than the corpus has)."""
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        mask_boilerplate.cache_clear()
        for article in articles:
            fn(article)
        done += len(articles)
    return done / (time.perf_counter() - started)


def stage_costs(
    articles: list[Article], matcher: Matcher, gazetteer: Gazetteer, seconds: float
) -> dict[str, float]:
    """Milliseconds per article of each step the processor runs on an article (enrich's parts, then
    the near-duplicate signature and the protobuf coding), each timed alone over the corpus; "the
    rest" of enrich is its whole time less the three parts timed alone (each reading the article's
    fields afresh, as enrich does)."""

    def fields(i: int) -> list[str]:
        """The article's texts read afresh, as ``enrich`` reads them: a new str per read (texts
        reused across runs stay in the CPU caches and flatter the step)."""
        article = articles[i]
        return [article.title, article.summary, article.content]

    tagged = [gazetteer.tag_fields(fields(i)) for i in range(len(articles))]
    enriched = [enrich(a, matcher, gazetteer) for a in articles]
    steps: dict[str, Callable[[int], object]] = {
        "places (gazetteer.tag_fields, 3 fields)": lambda i: gazetteer.tag_fields(fields(i)),
        "keywords (matcher.match, 3 fields)": lambda i: [
            matcher.match(text, places) for text, places in zip(fields(i), tagged[i], strict=True) if text
        ],
        "language (boilerplate masked, CLD2)": lambda i: detect_masked_language(
            "\n".join([mask_boilerplate(t) for t in fields(i)]), "en"
        ),
        "enrich, all of it (includes the three above)": lambda i: enrich(articles[i], matcher, gazetteer),
        "near-duplicate signature (MinHash)": lambda i: signature(article_text(articles[i])),
        "encode EnrichedArticle (protobuf)": lambda i: contracts.encode(enriched[i]),
        "decode Article (protobuf)": lambda i: contracts.decode(Article, *contracts.encode(articles[i])),
    }
    out: dict[str, float] = {}
    indexes = list(range(len(articles)))
    for name, step in steps.items():  # the best of three runs: the least disturbed by other processes
        per_second = max(rate(step, indexes, seconds / 6) for _ in range(3))
        out[name] = 1000 / per_second
    parts = [k for k in out if k.startswith(("places", "keywords", "language"))]
    out["enrich, the rest (protobuf building, regions)"] = max(
        0.0, out.pop("enrich, all of it (includes the three above)") - sum(out[k] for k in parts)
    )
    return out


def entry_costs(
    articles: list[Article], matcher: Matcher, gazetteer: Gazetteer, seconds: float
) -> tuple[float, float]:
    """Microseconds per article to put its matches and places into an EnrichedArticle: as native wire
    bytes merged at once (what ``enrich`` does), and with one ``add`` per entry (its definition, the
    baseline), each the best of three runs."""
    inputs = []
    for article in articles:
        texts = [article.title, article.summary, article.content]
        places = gazetteer.tag_fields(texts)
        found = [matcher.match(t, p) if t else [] for t, p in zip(texts, places, strict=True)]
        inputs.append((texts, found, places))

    def merged(i: int) -> None:
        EnrichedArticle().MergeFromString(encode_entries(*inputs[i]) or b"")

    def added(i: int) -> None:
        add_entries(EnrichedArticle(), *inputs[i])

    def cost(step: Callable[[int], None]) -> float:
        return 1e6 / max(rate(step, list(range(len(inputs))), seconds / 6) for _ in range(3))

    return cost(merged), cost(added)


#: Articles per ``enrich_batch`` call (about what a processor worker's batches hold under load).
BATCH = 170


def batch_rate(articles: list[Article], matcher: Matcher, gazetteer: Gazetteer, seconds: float) -> float:
    """Articles/s of ``enrich_batch`` over the corpus in batches of :data:`BATCH` (best of three runs)."""
    batches = [articles[i : i + BATCH] for i in range(0, len(articles), BATCH)]
    best = 0.0
    for _ in range(3):
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds / 3:
            for batch in batches:
                mask_boilerplate.cache_clear()  # as in ``rate``
                enrich_batch(batch, matcher, gazetteer)
                done += len(batch)
        best = max(best, done / (time.perf_counter() - started))
    return best


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
    batched = batch_rate(articles, matcher, gazetteer, args.seconds)
    keywords_only = rate(lambda a: matcher.match(a.content), articles, args.seconds)
    baseline = rate(lambda a: naive(a.content), articles, args.seconds)
    stages = stage_costs(articles, matcher, gazetteer, args.seconds)
    merged_us, added_us = entry_costs(articles, matcher, gazetteer, args.seconds)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"articles: {len(articles)} x {sum(len(a.content) for a in articles) // len(articles)} chars")
    print(f"enrich (matcher + places + regions): {full:9.0f} articles/s")
    print(f"keyword matcher (automaton, rules):  {keywords_only:9.0f} articles/s")
    print(f"baseline, one regex per alias:       {baseline:9.0f} articles/s")
    print(f"ratio matcher / baseline:            {keywords_only / baseline:9.2f}x")
    print(f"ratio full enrich / baseline:        {full / baseline:9.2f}x")
    print(f"enrich_batch, {BATCH} articles a batch: {batched:9.0f} articles/s")
    print(f"ratio batch, step by step / one by one: {batched / full:6.2f}x")
    print(f"matches and places of an article, wire bytes merged: {merged_us:7.1f} us")
    print(f"the same, one add per entry (baseline):            {added_us:7.1f} us")
    print(f"ratio add / merged:                                  {added_us / merged_us:7.2f}x")
    print("where a processed article's CPU goes (ms per article, share of their sum):")
    total = sum(stages.values())
    for name, ms in stages.items():
        print(f"  {name:44s} {ms:7.3f} ms  {ms / total:6.1%}")
    print(f"max RSS: {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()

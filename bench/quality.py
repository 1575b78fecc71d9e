"""Keyword-flagging quality: precision and recall per term of the processor on the labelled dev sentences.

Each sentence of ``../shared/eval/keywords-dev.jsonl`` (``{"id","lang","text","terms"}``) becomes the
content of one raw article (declared language = its ``lang``) and goes through the processor's own path:
the matcher of a ``WatchlistRegistry`` holding the built-in watch list (whatever matcher the processor
builds) and ``enrich`` with the full gazetteer. A term counts as found in a sentence when at least one
match of it is there (sentence level; the labels are term labels of the default list). Printed: per-term
and micro-averaged precision / recall / F1 beside the goal (P >= 0.97, R >= 0.95), the same figures for
a baseline of one case-insensitive regular expression per alias without context rules, then every false
positive and false negative with its text. Nothing is tuned here: the sentences only measure.

Usage: ``python bench/quality.py [--data FILE] [--strict]`` (``--strict``: exit 1 when a goal is missed).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry

from newswatch.processor.agents import WatchlistRegistry
from newswatch.processor.enrich import enrich
from newswatch.processor.metrics import ProcessorMetrics
from newswatch.processor.places import default_gazetteer
from newswatch.processor.watchlist import default_watchlist
from newswatch.v1.article_pb2 import Article

DATA = Path(__file__).resolve().parents[2] / "shared" / "eval" / "keywords-dev.jsonl"
GOAL_PRECISION = 0.97
GOAL_RECALL = 0.95


@dataclass(frozen=True)
class Sentence:
    sid: str
    lang: str
    text: str
    terms: frozenset[str]


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: Score) -> None:
        self.tp, self.fp, self.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


Finder = Callable[[Sentence], dict[str, list[str]]]  # label -> matched texts


def load(path: Path) -> list[Sentence]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Sentence(r["id"], r.get("lang", ""), r["text"], frozenset(r["terms"])) for r in rows]


def processor_finder() -> Finder:
    """The processor's path: its registry's matcher over the built-in list, then ``enrich``."""
    snapshot = WatchlistRegistry(default_watchlist(), ProcessorMetrics(CollectorRegistry())).snapshot
    gazetteer = default_gazetteer()

    def find(sentence: Sentence) -> dict[str, list[str]]:
        article = Article(article_id=sentence.sid, content=sentence.text, language=sentence.lang)
        found: dict[str, list[str]] = {}
        for m in enrich(article, snapshot.matcher, gazetteer).matches:
            found.setdefault(m.term_label, []).append(m.matched_text)
        return found

    return find


def baseline_finder() -> Finder:
    """One case-insensitive whole-word regular expression per alias, no context rules."""
    patterns = [
        (t.label, re.compile(rf"(?<!\w){re.escape(a)}(?!\w)", 0 if cs else re.IGNORECASE))
        for t in default_watchlist().terms
        for cs, aliases in ((False, t.aliases), (True, t.case_sensitive_aliases))
        for a in aliases
    ]

    def find(sentence: Sentence) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for label, pattern in patterns:
            found.setdefault(label, []).extend(m.group() for m in pattern.finditer(sentence.text))
        return {k: v for k, v in found.items() if v}

    return find


def evaluate(
    sentences: list[Sentence], find: Finder, labels: list[str]
) -> tuple[dict[str, Score], list[tuple[str, Sentence, list[str]]], list[tuple[str, Sentence]]]:
    scores = {label: Score() for label in labels}
    false_pos: list[tuple[str, Sentence, list[str]]] = []
    false_neg: list[tuple[str, Sentence]] = []
    for sentence in sentences:
        found = find(sentence)
        for label in labels:
            expected, got = label in sentence.terms, label in found
            if expected and got:
                scores[label].tp += 1
            elif got:
                scores[label].fp += 1
                false_pos.append((label, sentence, found[label]))
            elif expected:
                scores[label].fn += 1
                false_neg.append((label, sentence))
    return scores, false_pos, false_neg


def table(name: str, scores: dict[str, Score]) -> Score:
    micro = Score()
    print(f"{name}\n  {'term':10} {'TP':>4} {'FP':>4} {'FN':>4} {'P':>7} {'R':>7} {'F1':>7}")
    for label, s in scores.items():
        micro.add(s)
        print(f"  {label:10} {s.tp:4} {s.fp:4} {s.fn:4} {s.precision:7.3f} {s.recall:7.3f} {s.f1:7.3f}")
    print(
        f"  {'micro':10} {micro.tp:4} {micro.fp:4} {micro.fn:4} "
        f"{micro.precision:7.3f} {micro.recall:7.3f} {micro.f1:7.3f}"
    )
    return micro


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args()
    sentences = load(args.data)
    labels = list(dict.fromkeys(t.label for t in default_watchlist().terms))
    unknown = sorted({t for s in sentences for t in s.terms} - set(labels))
    if unknown:
        print(f"labels not in the default watch list (ignored): {unknown}")
    langs = sorted({s.lang for s in sentences})
    print(f"{args.data.name}: {len(sentences)} sentences ({', '.join(langs)}), terms {', '.join(labels)}")

    base_scores, _, _ = evaluate(sentences, baseline_finder(), labels)
    base = table("baseline: one regex per alias, no context rules", base_scores)
    scores, false_pos, false_neg = evaluate(sentences, processor_finder(), labels)
    micro = table("processor (enrich with the built-in watch list)", scores)

    p_ok, r_ok = micro.precision >= GOAL_PRECISION, micro.recall >= GOAL_RECALL
    print(
        f"goal: precision >= {GOAL_PRECISION} {'met' if p_ok else 'MISSED'}, "
        f"recall >= {GOAL_RECALL} {'met' if r_ok else 'MISSED'} (micro-averaged)"
    )
    print(
        f"against the baseline: precision {micro.precision:.3f} vs {base.precision:.3f}, "
        f"recall {micro.recall:.3f} vs {base.recall:.3f}, F1 ratio {micro.f1 / (base.f1 or 1):.2f}x"
    )
    print(f"false positives ({len(false_pos)}):")
    for label, s, matched in false_pos:
        print(f"  {s.sid} [{s.lang}] {label} matched {sorted(set(matched))}: {s.text}")
    print(f"false negatives ({len(false_neg)}):")
    for label, s in false_neg:
        print(f"  {s.sid} [{s.lang}] {label} missed: {s.text}")
    return 1 if args.strict and not (p_ok and r_ok) else 0


if __name__ == "__main__":
    sys.exit(main())

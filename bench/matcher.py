"""The keyword matcher alone: 10,000 synthetic watch terms, then the same plus every gazetteer name
(one place term each, its names case-sensitive aliases), on ~4 KB articles.

Two cases, each measured in the same run: ``AutomatonMatcher.match`` (boilerplate mask + projection +
automata + term rules) on one core against a one-regex-per-term baseline: each term compiled to one
``\\b(?:alias|alias)\\b`` pattern (case-insensitive aliases) plus one for its case-sensitive aliases,
every pattern scanned over the article. The baseline is timed on a sample of the terms and
extrapolated linearly to all of them (labelled as such). Rates are articles per CPU second of this
process (median of passes), so other load on a shared machine moves them less; each case ends with
its line against the goal of issue 4 (15,000 articles/s).

Articles are built like ``bench/enrich.py`` (seed article + labelled dev sentences from ../shared), with
``--planted`` synthetic aliases per article so that the rules path runs. Usage:
``python bench/matcher.py [--terms N] [--articles N] [--seconds S] [--baseline-sample N] [--no-gazetteer]
[--profile] [--against DIR]``.

``--against DIR`` compares two builds of the compiled engine in one process (separate runs of this
bench swing by 15-25 % on a shared machine, more than most changes to the engine): DIR holds another
build of ``newswatch_native`` (``pip install --target DIR ./native``); each case then also builds its
matchers with that module and times two instances of each build in alternating passes, printing
both rates and their ratio.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib
import importlib.util
import pstats
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from _proc import rss_mb  # bench/ is the script's directory
from enrich import corpus

from newswatch.processor.keywords import AutomatonMatcher, Matcher
from newswatch.processor.watchlist import default_watchlist, parse_watchlists
from newswatch.v1.watchlist_pb2 import Term, Watchlist

GOAL = 15_000  # articles per second on one core (issue 4)
FIRST = [
    "Ahmed", "Mohammed", "Ali", "Omar", "Hassan", "Hussein", "Youssef", "Khalid", "Ibrahim", "Mustafa",
    "Karim", "Samir", "Tariq", "Walid", "Ziad", "Fatima", "Aisha", "Layla", "Noor", "Mariam", "Rania",
    "Salma", "Hana", "Yasmin", "Zainab", "Pierre", "Jean", "Marie", "Sophie", "Claire", "Louis", "Michel",
    "Nicolas", "Isabelle", "Camille", "John", "Michael", "David", "James", "Robert", "Sarah", "Emily",
    "Anna", "Elena", "Ivan", "Dmitri", "Olga", "Sergei", "Viktor", "Natalia", "Mehmet", "Ayşe", "Emre",
    "Recep", "Reza", "Farid", "Dariush", "Abdullah", "Qassem", "Nouri", "Haider", "Kamal", "Jamal", "Adel",
    "Bashir", "Nabil", "Faisal", "Hamza", "Bilal", "Idris", "Anwar", "Osama", "Marwan", "Rami", "Fadi",
    "Georges", "Hélène", "François", "Zoé"
]  # fmt: skip
LAST = [
    "Haddad", "Khalil", "Nasser", "Mansour", "Saleh", "Hamdan", "Barzani", "Talabani", "Maliki", "Abadi",
    "Sadr", "Hakim", "Jubouri", "Dulaimi", "Obeidi", "Tikriti", "Rawi", "Karbouli", "Dubois", "Martin",
    "Bernard", "Lefebvre", "Moreau", "Laurent", "Girard", "Fontaine", "Smith", "Johnson", "Brown", "Taylor",
    "Wilson", "Petrov", "Ivanov", "Smirnov", "Volkov", "Kozlov", "Yılmaz", "Kaya", "Demir", "Çelik",
    "Şahin", "Karimi", "Hosseini", "Rezaei", "Moradi", "Ahmadi", "Rahimi", "Jafari", "Mousavi", "Shamkhani",
    "Qaderi", "Hashemi", "Zarif", "Larijani", "Assaf", "Khoury", "Gemayel", "Frangieh", "Aoun", "Jumblatt",
    "Hariri", "Mikati", "Qasimi", "Nahyan", "Thani", "Sabah", "Khalifa", "Lévy", "Lefèvre", "Bouchard"
]  # fmt: skip
SYLLABLES = [
    "ka", "ra", "ta", "ma", "na", "la", "sa", "ba", "da", "fa", "ha", "ya", "za", "qa", "ja", "wa", "ri",
    "ki", "mi", "ni", "si", "di", "bi", "hu", "ku", "mu", "nu", "su", "du", "ad", "ar", "as", "ab", "am",
    "an", "ir", "ur", "um", "sha", "kha", "gha", "dha", "tha", "tal", "kar", "bad", "dar", "sur", "rum"
]  # fmt: skip
ORG_ADJ = [
    "National", "Popular", "Islamic", "Democratic", "Revolutionary", "United", "Free", "Patriotic",
    "Syrian", "Iraqi", "Kurdish", "Arab", "Eastern", "Western", "Northern", "Southern", "Central",
    "Independent", "Progressive", "Federal", "Unified"
]  # fmt: skip
ORG_NOUN = [
    "Liberation", "Resistance", "Salvation", "Unity", "Reform", "Justice", "Dignity", "Solidarity",
    "Victory", "Martyrs", "Freedom", "Renewal", "Sovereignty", "Defence"
]  # fmt: skip
ORG_TYPE = [
    "Front", "Brigade", "Brigades", "Movement", "Party", "Council", "Army", "Alliance", "Battalion",
    "Union", "Committee", "Organisation", "Authority", "Corps", "Coalition"
]  # fmt: skip
COMPANY = [
    "Petroleum", "Oil", "Gas", "Cement", "Telecom", "Shipping", "Holdings", "Logistics", "Bank",
    "Insurance", "Airways", "Energy"
]  # fmt: skip
TOPICS = """car bomb|suicide attack|chemical weapons|sarin gas|barrel bomb|drone strike|cease-fire violation|
humanitarian corridor|mass grave|prison break|hostage release|ransom payment|arms smuggling|oil smuggling|
checkpoint attack|roadside bomb|kidnapping|execution video|refugee camp|aid convoy|siege|no-fly zone|
pipeline sabotage|power outage|cholera outbreak|fuel shortage|curfew|state of emergency|coup attempt|
assassination attempt|prison riot|border clash""".replace("\n", "").split("|")
CONTEXT = [
    "town", "village", "city", "province", "militia", "fighters", "attack", "army", "forces", "killed",
    "wounded", "commander", "group", "officials", "ministry", "government", "rebels", "troops", "police",
    "security"
]  # fmt: skip
NEGATIVE = [
    "football", "match", "club", "league", "singer", "album", "film", "movie", "festival", "restaurant",
    "hotel", "brand"
]  # fmt: skip


def _place(rng: random.Random) -> str:
    name = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
    if len(name) < 6:
        name += rng.choice(["iyah", "abad", "kend", "stan", "oun"])
    return f"al-{name}" if rng.random() < 0.2 else name


def _term(rng: random.Random, n: int) -> dict[str, Any]:
    """One synthetic term in watch-list YAML shape: a person, organisation, place or keyword."""
    r = rng.random()
    term: dict[str, Any] = {"id": f"t{n}"}
    if r < 0.35:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        aliases = [f"{first} {last}"] + ([f"{first} al-{last}"] if rng.random() < 0.3 else [])
        if rng.random() < 0.2:
            aliases.append(f"{first[0]}. {last}")
        term |= {"kind": "person", "aliases": aliases}
    elif r < 0.6:
        name = f"{rng.choice(ORG_ADJ)} {rng.choice(ORG_NOUN)} {rng.choice(ORG_TYPE)}"
        if rng.random() < 0.3:
            name = f"{_place(rng)} {rng.choice(COMPANY)}"
        term |= {"kind": "organisation", "aliases": [name]}
        acronym = "".join(w[0] for w in name.split() if w[0].isupper())
        if len(acronym) >= 3 and rng.random() < 0.5:
            term["case_sensitive_aliases"] = [acronym]
    elif r < 0.9:
        name = _place(rng)
        term |= {"kind": "place", "case_sensitive_aliases": [name]}
        if rng.random() < 0.4:
            term |= {"context_words": rng.sample(CONTEXT, 6), "context_window_chars": 60}
        if rng.random() < 0.2:
            term["negative_context"] = rng.sample(NEGATIVE, 3)
    else:
        topic = rng.choice(TOPICS)
        term |= {"kind": "keyword", "aliases": [f"{topic} in {_place(rng)}"]}
    return term


def synthetic_watchlists(terms: int, seed: int = 11, per_list: int = 1000) -> list[Watchlist]:
    """``terms`` deterministic synthetic terms, split into watch lists of ``per_list``."""
    rng = random.Random(seed)
    raw = [_term(rng, n) for n in range(terms)]
    lists = [
        {"id": f"synthetic-{i // per_list}", "threshold": 2.0, "terms": raw[i : i + per_list]}
        for i in range(0, terms, per_list)
    ]
    return parse_watchlists(lists, "synthetic")


def gazetteer_names() -> list[list[str]]:
    """Every name of the package gazetteer, grouped per place where the gazetteer says so.

    Works with the small YAML gazetteer (entries with aliases) and with a name index (every key).
    """
    from newswatch.processor.places import default_gazetteer

    gazetteer: Any = default_gazetteer()
    index = getattr(gazetteer, "index", None)
    if index is not None and hasattr(index, "automaton"):
        return [[str(key)] for key in index.automaton.keys()]  # noqa: SIM118 (an automaton)
    return [[e.name, *e.aliases] for e in gazetteer.entries]


def gazetteer_watchlist(names: list[list[str]]) -> Watchlist:
    """One watch list with a place term per gazetteer place (its names are case-sensitive aliases)."""
    wl = Watchlist(watchlist_id="gazetteer", name="every gazetteer place", threshold=1.0, enabled=True)
    wl.terms.extend(
        Term(term_id=f"g{n}", label=group[0], kind="place", weight=1.0, case_sensitive_aliases=group)
        for n, group in enumerate(names)
    )
    return wl


def plant(texts: list[str], lists: Sequence[Watchlist], per_text: int, seed: int = 5) -> list[str]:
    """Each text with ``per_text`` random synthetic aliases inserted at sentence starts."""
    rng = random.Random(seed)
    aliases = [a for w in lists for t in w.terms for a in (*t.aliases, *t.case_sensitive_aliases)]
    out = []
    for text in texts:
        parts = text.split(". ")
        for _ in range(per_text):
            at = rng.randrange(len(parts))
            parts[at] = f"{rng.choice(aliases)} {rng.choice(CONTEXT)} {parts[at]}"
        out.append(". ".join(parts))
    return out


def regex_per_term(lists: Sequence[Watchlist]) -> list[re.Pattern[str]]:
    """The baseline: one compiled ``\\b...\\b`` pattern per term and letter-case class."""
    patterns = []
    for wl in lists:
        for term in wl.terms:
            if term.aliases:
                body = "|".join(re.escape(a) for a in term.aliases)
                patterns.append(re.compile(rf"\b(?:{body})\b", re.IGNORECASE))
            if term.case_sensitive_aliases:
                body = "|".join(re.escape(a) for a in term.case_sensitive_aliases)
                patterns.append(re.compile(rf"\b(?:{body})\b"))
    return patterns


def timed(fn: Callable[[str], object], texts: list[str], seconds: float) -> tuple[float, list[float]]:
    """(texts per CPU second, per-call wall seconds) over repeated passes for about ``seconds``.

    The rate is the median over passes of texts / process CPU time of the pass (other processes on a
    shared machine slow the wall clock, not this); the laps give latency percentiles.
    """
    laps: list[float] = []
    rates: list[float] = []
    clock, cpu = time.perf_counter, time.process_time
    gc.collect()
    started = clock()
    while clock() - started < seconds or not rates:
        cpu0 = cpu()
        for text in texts:
            t0 = clock()
            fn(text)
            laps.append(clock() - t0)
        rates.append(len(texts) / max(cpu() - cpu0, 1e-9))
    return statistics.median(rates), laps


def other_matcher_class(directory: str) -> type[AutomatonMatcher]:
    """``AutomatonMatcher`` of a second copy of the keyword modules bound to the ``newswatch_native``
    build in ``directory`` (the modules of this process are left as they were)."""
    names = ("newswatch_native", "newswatch_native.newswatch_native",
             "newswatch.processor.automaton", "newswatch.processor.keywords")  # fmt: skip
    saved = {name: sys.modules.pop(name) for name in names if name in sys.modules}
    try:
        spec = importlib.util.spec_from_file_location(
            "newswatch_native",
            f"{directory}/newswatch_native/__init__.py",
            submodule_search_locations=[f"{directory}/newswatch_native"],
        )
        if spec is None or spec.loader is None:
            raise SystemExit(f"--against: no newswatch_native build in {directory}")
        module = importlib.util.module_from_spec(spec)
        sys.modules["newswatch_native"] = module
        spec.loader.exec_module(module)
        keywords = importlib.import_module("newswatch.processor.keywords")
        other: type[AutomatonMatcher] = keywords.AutomatonMatcher
    finally:
        for name in names:
            sys.modules.pop(name, None)
        sys.modules.update(saved)
    return other


def alternate(fns: Sequence[Callable[[str], object]], texts: list[str], seconds: float) -> list[float]:
    """Median rate (texts per CPU second) of each of ``fns``, timed in alternating passes."""
    rates: list[list[float]] = [[] for _ in fns]
    cpu = time.process_time
    gc.collect()
    started = time.perf_counter()
    while time.perf_counter() - started < seconds * len(fns) or not rates[-1]:
        for fn, out in zip(fns, rates, strict=True):
            cpu0 = cpu()
            for text in texts:
                fn(text)
            out.append(len(texts) / max(cpu() - cpu0, 1e-9))
    return [statistics.median(r) for r in rates]


def compare(lists: list[Watchlist], texts: list[str], matcher: Matcher, args: argparse.Namespace) -> None:
    """The ``--against`` lines: this build against the build in ``args.against``, alternating.

    Two instances of each build (made this, other, other, this) are timed: where one instance's
    tables land in memory moves its rate by a few per cent, so one instance per build would decide
    small ratios by placement. Each build's rate is the geometric mean of its two instances."""
    other_class = other_matcher_class(args.against)
    try:
        others = [other_class(lists), other_class(lists)]
    except (TypeError, ValueError) as exc:  # e.g. a build from before a change of the rule tuples
        raise SystemExit(
            f"--against: the build in {args.against} does not take this tree's engine arguments ({exc}); "
            "compare builds made from trees with the same newswatch_native.pyi"
        ) from exc
    second = AutomatonMatcher(lists)
    mine = [list(m) for m in map(matcher.match, texts)]
    theirs = [list(m) for m in map(others[0].match, texts)]
    same = "same matches" if mine == theirs else "MATCHES DIFFER"
    fns = [matcher.match, others[0].match, others[1].match, second.match]
    rates = alternate(fns, texts, args.seconds / 2)
    this_rate, other_rate = (rates[0] * rates[3]) ** 0.5, (rates[1] * rates[2]) ** 0.5
    print(f"  A/B, alternating passes:  {this_rate:10.0f} articles/s this build, {other_rate:.0f} "
          f"{args.against}: ratio {this_rate / other_rate:.3f} ({same}; two instances each: "
          f"{rates[0]:.0f}, {rates[3]:.0f} against {rates[1]:.0f}, {rates[2]:.0f})")  # fmt: skip


def pct(laps: list[float], q: float) -> float:
    ordered = sorted(laps)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(name: str, lists: list[Watchlist], texts: list[str], args: argparse.Namespace) -> float:
    """Build the matcher over ``lists``, time it and the regex-per-term baseline; print one block.

    Returns the matcher's rate (articles per CPU second)."""
    rss_before = rss_mb()
    started = time.perf_counter()
    matcher: Matcher = AutomatonMatcher(lists)
    build_s = time.perf_counter() - started
    rss_matcher = rss_mb() - rss_before

    rate, laps = timed(matcher.match, texts, args.seconds)
    matches = sum(len(matcher.match(t)) for t in texts) / len(texts)

    all_terms = sum(len(w.terms) for w in lists)
    rng = random.Random(3)
    sample_terms = rng.sample([(w, t) for w in lists for t in w.terms], min(args.baseline_sample, all_terms))
    sample = [Watchlist(watchlist_id=w.watchlist_id, terms=[t]) for w, t in sample_terms]
    patterns = regex_per_term(sample)
    base_rate, _ = timed(
        lambda t: sum(1 for p in patterns for _ in p.finditer(t)), texts[:50], args.seconds / 2
    )
    baseline = base_rate * len(sample_terms) / all_terms

    print(f"{name}: {all_terms} watch terms, {getattr(matcher, 'size', '?')} automaton keys, "
          f"build {build_s:.2f} s, matcher RSS +{rss_matcher:.0f} MB")  # fmt: skip
    print(f"  automaton matcher:        {rate:10.0f} articles/s  (p50 {pct(laps, 0.5) * 1e6:.0f} us, "
          f"p99 {pct(laps, 0.99) * 1e6:.0f} us wall, {matches:.1f} matches/article)")  # fmt: skip
    print(f"  baseline, regex per term: {baseline:10.2f} articles/s  (EXTRAPOLATED from {len(sample_terms)} "
          f"of {all_terms} terms: {base_rate:.0f} articles/s on the sample)")  # fmt: skip
    print(f"  ratio automaton / baseline: {rate / baseline:8.0f}x")
    verdict = "goal met" if rate >= GOAL else "goal NOT met"
    print(f"  goal >= {GOAL:,} articles/s on one core: {verdict} ({rate / GOAL:.2f} of the goal)")
    if args.against:
        compare(lists, texts, matcher, args)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(5):
            for text in texts:
                matcher.match(text)
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(25)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--terms", type=int, default=10_000)
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--planted", type=int, default=3, help="synthetic aliases inserted per article")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--baseline-sample", type=int, default=300, help="terms timed for the baseline")
    parser.add_argument("--no-gazetteer", action="store_true", help="watch terms only (skip the second case)")
    parser.add_argument("--profile", action="store_true", help="print the matcher's cProfile top 25")
    parser.add_argument("--against", metavar="DIR", help="also time the newswatch_native build in DIR")
    args = parser.parse_args()

    terms = [default_watchlist(), *synthetic_watchlists(args.terms)]
    texts = plant([a.content for a in corpus(args.articles)], terms[1:], args.planted)
    size = sum(len(t) for t in texts) // len(texts)
    print(f"articles: {len(texts)} x {size} chars, {args.planted} planted aliases each; one core, "
          f"rates per CPU second (median of passes)")  # fmt: skip
    rates = {"terms only": measure(f"{args.terms} terms + default list", terms, texts, args)}
    if not args.no_gazetteer:
        rss_before_gazetteer = rss_mb()
        names = gazetteer_names()
        rates["terms + gazetteer"] = measure(
            f"{args.terms} terms + default list + {len(names)} gazetteer places",
            [*terms, gazetteer_watchlist(names)],
            texts,
            args,
        )
        print(f"process RSS: {rss_mb():.0f} MB (before the gazetteer: {rss_before_gazetteer:.0f} MB)")
    print("summary: " + "; ".join(
        f"{case} {rate:.0f} articles/s: {'goal met' if rate >= GOAL else 'goal NOT met'}"
        for case, rate in rates.items()
    ))  # fmt: skip


if __name__ == "__main__":
    main()

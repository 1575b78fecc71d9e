"""Geoparsing quality on LGL and GeoVirus, beside the published figures; load time, memory, speed.

Reads ``../shared/eval/lgl.xml`` (local news, toponyms with GeoNames ids) and ``GeoVirus.xml``
(WikiNews, locations with coordinates) from the shared folder — never copied into the project — and
tags every article with the processor's gazetteer (title and text as one field).

Matching rules (both printed):

- **span**: a predicted toponym is correct when it has the gold span exactly (``exact``) or overlaps
  one gold span (``overlap``, one-to-one, greedy in text order).
- **resolved**: on top of an overlapping span, the place must be right: the same GeoNames id
  (LGL only), within 161 km of the gold coordinates (both corpora; the usual "accuracy@161km"), or in
  the gold country. LGL gives the gold country; for GeoVirus the gold country is that of the nearest
  gazetteer city to the gold coordinates (an approximation, printed as such).
- **country accuracy**: over correctly found toponyms (overlap) whose gold country is known, the
  share whose country code is right; toponyms resolved to a continent, sea or multi-country region
  (no country code) are left out and counted.

LGL annotates adjectival place references ("Russian", "American"); GeoVirus does not. Each corpus is
scored with demonyms on and off; the row that follows the corpus' guidelines is marked ``*``.

Speed: place tagging alone (``Gazetteer.tag_places``) on the ~4 KB articles of ``bench/enrich.py``,
in articles per second of CPU time (this process's, so other load on the machine counts less), with
the recognition step (``ToponymScanner.scan``) alone beside it and the per-article p50 / p99.

Usage: ``python bench/geoparse.py [--min-population N] [--errors N] [--wrong N]
[--corpus lgl|geovirus|both|none] [--seconds S] [--reference]`` (``--wrong``: each wrong country with
its context and the article's number, for reading errors by cause; ``--reference``: the Python
definitions of recognition and resolution instead of the native code — the same figures, slower).
"""

from __future__ import annotations

import argparse
import math
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from _proc import peak_rss_mb, rss_mb  # bench/ is on sys.path

from newswatch.processor.places import DEFAULT_MIN_CITY_POPULATION, Gazetteer, PlaceMatch, load_gazetteer

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
ANCHORS = "GeoTxt 0.68, Edinburgh 0.62, CLAVIN 0.57, Topocluster 0.71 (F1, LGL geotagging)"
COUNTRY_ANCHOR = "Mordecai 3: 97.9% country-correct (LGL)"
GOALS = "goal: F1 >= 0.75, country accuracy >= 97%"
KM = 161.0


@dataclass
class Gold:
    start: int
    end: int
    phrase: str
    geonames_id: str = ""
    country_code: str = ""
    lat: float | None = None
    lon: float | None = None


@dataclass
class Article:
    text: str
    gold: list[Gold] = field(default_factory=list)


def load_lgl(gaz: Gazetteer) -> list[Article]:
    countries = {e.geonames_id: e.country_code for e in gaz.entries if e.kind == "country"}
    root = ET.parse(EVAL / "lgl.xml").getroot()  # noqa: S314 - trusted local benchmark file
    out = []
    for node in root.iter("article"):
        article = Article(node.findtext("text") or "")
        for t in node.iter("toponym"):
            gold = Gold(
                int(t.findtext("start") or 0), int(t.findtext("end") or 0), t.findtext("phrase") or ""
            )
            tag = t.find("gaztag")
            if tag is not None:
                gold.geonames_id = tag.get("geonameid") or ""
                country = tag.find("country")
                gold.country_code = (
                    countries.get(country.get("geonameid") or "", "") if country is not None else ""
                )
                gold.lat, gold.lon = float(tag.findtext("lat") or 0), float(tag.findtext("lon") or 0)
            article.gold.append(gold)
        out.append(article)
    return out


def load_geovirus(gaz: Gazetteer) -> tuple[list[Article], int]:
    """Articles, and how many gold offsets were shifted to fit the text (the file is off by one)."""
    root = ET.parse(EVAL / "GeoVirus.xml").getroot()  # noqa: S314 - trusted local benchmark file
    nearest = _NearestCountry(gaz)
    out, shifted = [], 0
    for node in root.iter("article"):
        article = Article(node.findtext("text") or "")
        for loc in node.iter("location"):
            name = loc.findtext("name") or ""
            start, end = int(loc.findtext("start") or 0), int(loc.findtext("end") or 0)
            for shift in (0, -1, 1):
                if article.text[start + shift : end + shift] == name:
                    shifted += shift != 0
                    start, end = start + shift, end + shift
                    break
            lat, lon = float(loc.findtext("lat") or 0), float(loc.findtext("lon") or 0)
            article.gold.append(Gold(start, end, name, "", nearest(lat, lon), lat, lon))
        out.append(article)
    return out, shifted


class _NearestCountry:
    """Country of the nearest gazetteer city (1-degree grid)."""

    def __init__(self, gaz: Gazetteer) -> None:
        self.grid: dict[tuple[int, int], list[tuple[float, float, str]]] = {}
        for e in gaz.entries:
            if e.kind in ("city", "capital"):
                self.grid.setdefault((math.floor(e.lat), math.floor(e.lon)), []).append(
                    (e.lat, e.lon, e.country_code)
                )

    def __call__(self, lat: float, lon: float) -> str:
        best, code = math.inf, ""
        for ring in range(4):
            for dy in range(-ring, ring + 1):
                for dx in range(-ring, ring + 1):
                    for clat, clon, cc in self.grid.get((math.floor(lat) + dy, math.floor(lon) + dx), ()):
                        d = km(lat, lon, clat, clon)
                        if d < best:
                            best, code = d, cc
            if code:
                return code
        return code


def km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 6371.0 * 2 * math.asin(math.sqrt(min(1.0, a)))


@dataclass
class Score:
    gold: int = 0
    predicted: int = 0
    exact: int = 0
    overlap: int = 0
    same_id: int = 0
    with_id: int = 0
    near: int = 0
    with_coords: int = 0
    same_country: int = 0
    with_country: int = 0
    no_country: int = 0
    seconds: float = 0.0
    articles: int = 0
    false_pos: Counter[str] = field(default_factory=Counter)
    false_neg: Counter[str] = field(default_factory=Counter)
    wrong: Counter[str] = field(default_factory=Counter)
    wrong_cases: list[str] = field(default_factory=list)  # each wrong country with its context

    def add(self, article: Article, predicted: list[PlaceMatch]) -> None:
        self.gold += len(article.gold)
        self.predicted += len(predicted)
        spans = {(g.start, g.end) for g in article.gold}
        self.exact += sum((p.start, p.end) in spans for p in predicted)
        used: set[int] = set()
        for p in predicted:
            match = next(
                (
                    i
                    for i, g in enumerate(article.gold)
                    if i not in used and p.start < g.end and g.start < p.end
                ),
                None,
            )
            if match is None:
                self.false_pos[p.matched_text] += 1
                continue
            used.add(match)
            g = article.gold[match]
            self.overlap += 1
            if g.geonames_id:
                self.with_id += 1
                self.same_id += p.geonames_id == g.geonames_id
            if g.lat is not None and (p.lat or p.lon):
                self.with_coords += 1
                self.near += km(p.lat, p.lon, g.lat, g.lon or 0.0) <= KM
            if g.country_code and not p.country_code:
                self.no_country += 1  # a continent, sea or multi-country region: no country to judge
            elif g.country_code:
                self.with_country += 1
                self.same_country += p.country_code == g.country_code
                if p.country_code != g.country_code:
                    self.wrong[f"{p.matched_text}: {p.country_code or '-'} for {g.country_code}"] += 1
                    context = article.text[max(0, p.start - 60) : p.end + 40].replace("\n", " ")
                    self.wrong_cases.append(
                        f"[{self.articles}] {p.matched_text!r} -> {p.name} ({p.country_code or '-'},"
                        f" {p.kind}) for {g.country_code}: ...{context}..."
                    )
        for i, g in enumerate(article.gold):
            if i not in used:
                self.false_neg[g.phrase] += 1

    @staticmethod
    def prf(correct: int, predicted: int, gold: int) -> str:
        p = correct / predicted if predicted else 0.0
        r = correct / gold if gold else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return f"P {p:.3f}  R {r:.3f}  F1 {f:.3f}"

    def report(self, label: str, resolved_by: str) -> list[str]:
        rate = self.articles / self.seconds if self.seconds else 0.0
        lines = [
            f"{label}: {self.gold} gold, {self.predicted} predicted, {rate:,.0f} articles/s",
            f"  span exact     {self.prf(self.exact, self.predicted, self.gold)}",
            f"  span overlap   {self.prf(self.overlap, self.predicted, self.gold)}",
            f"  resolved       {self.prf(self.same_country, self.predicted, self.gold)}   (+ right country)",
        ]
        if self.with_id:
            lines.append(
                f"  resolved       {self.prf(self.same_id, self.predicted, self.gold)}   (+ same GeoNames id)"
            )
        if self.with_coords:
            lines.append(
                f"  accuracy@161km {self.near / self.with_coords:.3f} of {self.with_coords} found toponyms"
            )
        if self.with_country:
            acc = self.same_country / self.with_country
            lines.append(
                f"  country acc.   {acc:.3%} of {self.with_country} found toponyms ({resolved_by};"
                f" {self.no_country} resolved to places without a country left out)"
            )
        return lines


def speed(gaz: Gazetteer, seconds: float) -> list[str]:
    """Places alone on bench/enrich.py's ~4 KB articles (caches warm, as in a running worker)."""
    from enrich import corpus  # the same articles as bench/enrich.py (bench/ is on sys.path)

    texts = [a.content for a in corpus(200)]
    started = time.process_time()
    places = sum(len(gaz.tag_places(t)) for t in texts)  # the first pass fills the caches
    cold = len(texts) / (time.process_time() - started)
    mentions = sum(len(gaz.scanner.scan(t)) for t in texts)
    laps: list[float] = []
    done, started = 0, time.process_time()
    while time.process_time() - started < seconds:
        for text in texts:
            lap = time.perf_counter()
            gaz.tag_places(text)
            laps.append(time.perf_counter() - lap)
        done += len(texts)
    rate = done / (time.process_time() - started)
    scanned, started = 0, time.process_time()
    while time.process_time() - started < seconds / 3:
        for text in texts:
            gaz.scanner.scan(text)
        scanned += len(texts)
    scan_rate = scanned / (time.process_time() - started)
    laps.sort()
    size = sum(map(len, texts)) // len(texts)
    return [
        f"places alone, {len(texts)} articles x {size} chars ({mentions / len(texts):.0f} candidate"
        f" mentions, {places / len(texts):.0f} places per article): {rate:,.0f} articles/s of CPU time"
        f" ({1e6 / rate:.0f} us/article; p50 {laps[len(laps) // 2] * 1e6:.0f} us,"
        f" p99 {laps[len(laps) * 99 // 100] * 1e6:.0f} us; first pass, caches cold: {cold:,.0f}/s)",
        f"  recognition alone (scan): {scan_rate:,.0f} articles/s of CPU time",
    ]


def run(gaz: Gazetteer, articles: Iterable[Article]) -> Score:
    score = Score()
    for article in articles:
        started = time.perf_counter()
        (predicted,) = gaz.tag_fields([article.text])
        score.seconds += time.perf_counter() - started
        score.add(article, predicted)
        score.articles += 1
    return score


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--min-population", type=int, default=DEFAULT_MIN_CITY_POPULATION)
    parser.add_argument("--errors", type=int, default=0, help="print the N commonest errors of each kind")
    parser.add_argument(
        "--wrong", type=int, default=0, help="print the first N wrong countries with their context"
    )
    parser.add_argument("--corpus", choices=("lgl", "geovirus", "both", "none"), default="both")
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="CPU seconds for the speed figure (0: none)"
    )
    parser.add_argument("--reference", action="store_true", help="the Python definitions, not native code")
    args = parser.parse_args()

    rss_before = rss_mb()
    started = time.perf_counter()
    gaz = load_gazetteer(args.min_population)
    if args.reference:
        gaz = Gazetteer(gaz.index, gaz.resolver.cues, reference=True)
    load_seconds = time.perf_counter() - started
    print(
        f"gazetteer: {len(gaz.entries):,} places, {gaz.index.size:,} names, cities >= {args.min_population:,}"
        f" inhabitants; load {load_seconds:.2f} s; RSS {rss_mb():.0f} MB"
        f" (before load {rss_before:.0f} MB, peak {peak_rss_mb():.0f} MB)"
    )
    corpora: list[tuple[str, list[Article], bool, str]] = []
    if args.corpus in ("lgl", "both"):
        corpora.append(("LGL", load_lgl(gaz), True, "gold country from the corpus"))
    if args.corpus in ("geovirus", "both"):
        geovirus, shifted = load_geovirus(gaz)
        print(f"GeoVirus: {shifted} gold offsets shifted by one character to fit the text")
        corpora.append(("GeoVirus", geovirus, False, "gold country: nearest gazetteer city, approximate"))
    for name, articles, guideline_demonyms, resolved_by in corpora:
        for demonyms in (True, False):
            score = run(gaz.with_demonyms(demonyms), articles)
            mark = "*" if demonyms == guideline_demonyms else " "
            label = f"{mark} {name}, demonyms {'on' if demonyms else 'off'}"
            print("\n".join(score.report(label, resolved_by)))
            if args.errors and demonyms == guideline_demonyms:
                for title, counter in (("false positives", score.false_pos), ("missed", score.false_neg),
                                       ("wrong country", score.wrong)):  # fmt: skip
                    common = ", ".join(f"{k} ({v})" for k, v in counter.most_common(args.errors))
                    print(f"    {title}: {common}")
            if args.wrong and demonyms == guideline_demonyms:
                print("\n".join(f"    {case}" for case in score.wrong_cases[: args.wrong]))
    if corpora:
        print(f"published anchors: {ANCHORS}; {COUNTRY_ANCHOR}; {GOALS}")
    if args.seconds > 0:
        print("\n".join(speed(gaz, args.seconds)))
    print(f"process RSS after the run {rss_mb():.0f} MB, peak {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()

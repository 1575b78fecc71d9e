"""Language detection: accuracy, speed and memory of the processor's detector beside other libraries.

Candidates (each measured in its own process, so resident memory is its own): ``newswatch``
(:func:`newswatch.processor.language.detect_language`, CLD2 via pycld2, nothing declared), the baseline
``guess_language`` (the English / French function-word counter enrichment used before, kept here), and, when
installed, ``py3langid`` (all its languages), ``lingua-low`` and ``lingua`` (lingua-language-detector,
all languages, low / high accuracy, models preloaded). A missing library is reported, not installed.

Data: the labelled dev sentences (``../shared/eval/keywords-dev.jsonl``, ``lang``), hand-written short
titles in five languages and a French article (``bench/language-samples.json``), the English LGL and
GeoVirus articles (``../shared/eval``), and the seed article (English, French header and footer).
Speed: ms per 4 KB article and per title. ``newswatch`` is measured as the processor calls it (boilerplate
masked, a 600-character sample); the other libraries get the whole text as it is. Then the
declared-versus-detected rule of the processor's detector on the same data: wrong declarations on
articles, right and wrong ones on titles. A miss counts an abstention ("") and a wrong answer alike.

Usage: ``python bench/language.py [--candidates a,b] [--seconds S]``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _proc import rss_mb  # bench/ is on sys.path

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared"
CANDIDATES = ("newswatch", "guess_language", "py3langid", "lingua-low", "lingua")
Detect = Callable[[str], str]


# The baseline: the English / French function-word counter enrichment used before CLD2.
_WORD = re.compile(r"[^\W\d_]+")
_EN = frozenset(
    [
        "the", "and", "of", "to", "in", "is", "that", "for", "with", "was", "were", "on", "by", "from",
        "has", "have", "are", "it", "its", "this", "which"
    ]
)  # fmt: skip
_FR = frozenset(
    [
        "le", "la", "les", "des", "et", "est", "une", "du", "dans", "pour", "que", "qui", "au", "aux",
        "sur", "pas", "par", "ont", "cette", "sont", "avec"
    ]
)  # fmt: skip
_GUESS_WORDS = 400


def guess_language(text: str) -> str:
    """ "en", "fr" or "" from function-word counts in the first few hundred words."""
    en = fr = 0
    for n, word in enumerate(_WORD.finditer(text.lower())):
        if n >= _GUESS_WORDS:
            break
        token = word.group()
        en += token in _EN
        fr += token in _FR
    if en == fr:
        return ""
    return "en" if en > fr else "fr"


def _lingua(low: bool) -> Detect:
    from lingua import LanguageDetectorBuilder

    builder = LanguageDetectorBuilder.from_all_languages()
    if low:
        builder = builder.with_low_accuracy_mode()
    detector = builder.with_preloaded_language_models().build()

    def detect(text: str) -> str:
        found = detector.detect_language_of(text)
        return found.iso_code_639_1.name.lower() if found else ""

    return detect


def _py3langid() -> Detect:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE)
    return lambda text: str(identifier.classify(text)[0])


def load_detector(name: str) -> Detect:
    if name == "newswatch":
        from newswatch.processor.language import detect_language

        return detect_language
    if name == "guess_language":
        return guess_language
    if name == "py3langid":
        return _py3langid()
    if name in ("lingua", "lingua-low"):
        return _lingua(low=name == "lingua-low")
    raise SystemExit(f"unknown candidate {name!r}")


def corpora() -> dict[str, list[tuple[str, str]]]:
    """Named lists of (expected language, text)."""
    samples = json.loads((HERE / "language-samples.json").read_text(encoding="utf-8"))
    dev = [json.loads(line) for line in (SHARED / "eval" / "keywords-dev.jsonl").open(encoding="utf-8")]
    english = [
        ("en", element.text)
        for name in ("lgl.xml", "GeoVirus.xml")
        for element in ET.parse(SHARED / "eval" / name).getroot().iter("text")  # noqa: S314 (trusted file)
        if element.text and len(element.text) > 500
    ]
    seed = (SHARED / "seeds" / "000_d49beb34632bf2ff.txt").read_text(encoding="utf-8")
    paragraphs = [("fr", p) for p in samples["fr_article"]]
    return {
        "dev sentences": [(r["lang"], r["text"]) for r in dev],
        **{f"titles {lang}": [(lang, t) for t in titles] for lang, titles in samples["titles"].items()},
        "en articles": english,
        "fr paragraphs": paragraphs,
        "fr article": [("fr", "\n".join(samples["fr_article"]))],
        "seed (en)": [("en", seed)],
    }


def _per_call_ms(detect: Detect, texts: list[str], seconds: float) -> float:
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for text in texts:
            detect(text)
        done += len(texts)
    return (time.perf_counter() - started) / done * 1000


def measure_one(name: str, seconds: float) -> dict[str, Any]:
    before = rss_mb()
    started = time.perf_counter()
    try:
        detect = load_detector(name)
        detect("warm up the detector with a sentence")
    except ImportError as exc:
        return {"name": name, "missing": str(exc)}
    load_s = time.perf_counter() - started
    rss = rss_mb() - before
    data = corpora()
    accuracy = {k: sum(detect(t) == lang for lang, t in v) / len(v) for k, v in data.items()}
    articles = [(t * (4096 // len(t) + 1))[:4096] for _, t in data["en articles"][:150]]
    articles.append(("\n".join(t for _, t in data["fr paragraphs"]) * 2)[:4096])
    titles = [t for k, v in data.items() if k.startswith("titles") for _, t in v]
    return {
        "name": name,
        "load_s": load_s,
        "rss_mb": rss,
        "accuracy": accuracy,
        "sizes": {k: len(v) for k, v in data.items()},
        "ms_4kb": _per_call_ms(detect, articles, seconds),
        "ms_title": _per_call_ms(detect, titles, seconds / 2),
    }


def declared_rule() -> None:
    """How the processor's detector treats declarations (the rule of its module docstring)."""
    from newswatch.processor.language import detect_language

    data = corpora()
    other = {"en": "fr", "fr": "en"}
    articles = data["en articles"][:300] + data["fr paragraphs"] + data["fr article"] + data["seed (en)"]
    overruled = sum(detect_language(t, other[lang]) == lang for lang, t in articles)
    titles = [(lang, t) for k, v in data.items() if k.startswith("titles") for lang, t in v]
    kept = sum(detect_language(t, lang) == lang for lang, t in titles)
    kept_wrong = sum(detect_language(t, "fr" if lang != "fr" else "en") != lang for lang, t in titles)
    print("declared versus detected (processor's detector):")
    print(f"  articles declared in the other language, detection wins: {overruled}/{len(articles)}")
    print(f"  titles declared in their language, declaration kept:     {kept}/{len(titles)}")
    print(f"  titles declared in another language, declaration kept:   {kept_wrong}/{len(titles)} (the rule)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    parser.add_argument("--seconds", type=float, default=2.0, help="timing per candidate and corpus")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one, args.seconds)))
        return
    results = []
    for name in args.candidates.split(","):
        child = subprocess.run(
            [sys.executable, __file__, "--one", name, "--seconds", str(args.seconds)],
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            print(f"{name}: failed\n{child.stderr[-2000:]}")
            continue
        results.append(json.loads(child.stdout.strip().splitlines()[-1]))
    present = [r for r in results if "missing" not in r]
    for r in results:
        if "missing" in r:
            print(f"{r['name']}: not installed ({r['missing']})")
    if not present:
        return
    sizes = present[0]["sizes"]
    names = [r["name"] for r in present]
    print(f"{'':24}" + "".join(f"{n:>16}" for n in names))
    for corpus, size in sizes.items():
        cells = "".join(f"{r['accuracy'][corpus]:16.3f}" for r in present)
        print(f"{corpus + f' ({size})':24}{cells}")
    for key, label, fmt in (
        ("ms_4kb", "ms per 4 KB article", "{:16.3f}"),
        ("ms_title", "ms per title", "{:16.4f}"),
        ("rss_mb", "resident MB added", "{:16.0f}"),
        ("load_s", "load seconds", "{:16.2f}"),
    ):
        print(f"{label:24}" + "".join(fmt.format(r[key]) for r in present))
    by_name = {r["name"]: r for r in present}
    if "newswatch" in by_name and "guess_language" in by_name:
        ours, base = by_name["newswatch"], by_name["guess_language"]
        print(
            f"newswatch / guess_language: speed per 4 KB article {base['ms_4kb'] / ours['ms_4kb']:.2f}x, "
            f"title accuracy fr {ours['accuracy']['titles fr']:.2f} vs {base['accuracy']['titles fr']:.2f}"
        )
    if "newswatch" in by_name:
        declared_rule()


if __name__ == "__main__":
    main()

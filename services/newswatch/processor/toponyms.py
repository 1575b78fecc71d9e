"""Toponym recognition: find gazetteer names in text with one Aho–Corasick automaton.

:class:`ToponymScanner` indexes every key of a :class:`~newswatch.processor.gazetteer.GazetteerIndex`
and scans the accent-folded, case-kept text (hyphens and line breaks read as spaces), so capitalisation
is required: "Hit" is a candidate, "hit" never is. A hit counts only on word boundaries (a letter or
digit may not touch either end; a French elision "d'Alep" may). Runs of capitals ("IRAQ REPORT") are
also scanned title-cased (two or more all-capital words in a row, or one of six letters or more), so
headlines are read too; such mentions are marked ``shouted``. Of overlapping hits the leftmost, then
longest, wins. Copyright and disclaimer footers are never scanned.

:class:`ToponymScanner` folds the text here (Unicode stays defined in
:mod:`newswatch.processor.normalize`) and does the rest in native code in one call
(:meth:`~newswatch.processor.gazetteer.NameAutomaton.scan`, the GIL released). :class:`ReferenceScanner`
is the same scan in Python, the definition that the native one is tested against: the automaton
reports every occurrence of every key (overlapping); the word-boundary test and the leftmost-longest
choice run once per occurrence, and the title-cased pass only rescans the text around each run of
capitals (a key occurrence changed by title-casing overlaps a run).

Which candidate (if any) a mention means is decided by :mod:`newswatch.processor.resolve`. Offsets are
code points into the original text. ``scan`` never raises for any ``str``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from newswatch_native import Folding

from newswatch.processor.gazetteer import GazetteerIndex
from newswatch.processor.normalize import (
    NATIVE_MIN_CHARS,
    FoldedText,
    fold,
    fold_char,
    fold_origin,
    fold_table,
    mask_boilerplate,
)

__all__ = ["Mention", "ReferenceScanner", "ToponymScanner"]

_SCAN = ("-", "\n", "\r", "\t", "\u00a0")  # read as spaces
_CAPS_WORD = re.compile(r"(?<![A-Za-z])[A-Z]{2,}(?![a-z])")
# Capitals that read as a headline: a run of two or more all-capital words, or one word of six
# letters or more, neither touching another letter. (The look-behind follows the first two capitals so
# that the engine skips ahead to them.)
_CAPS_RUN = re.compile(
    r"[A-Z][A-Z](?<![A-Za-z]..)(?:[A-Z]*(?:[^a-zA-Z]+[A-Z]{2,})+(?![a-z])|[A-Z]{4,}(?![a-z]))"
)
_ELIDED = frozenset("dDlLjJ")
# Letter classes for finding where runs of capitals may start without a regular expression trying
# every position: A-Z -> "A", a-z -> "a", every other byte -> " " (text encoded one byte per character).
_LETTER_CLASSES = bytes(
    ord("A") if 65 <= b <= 90 else ord("a") if 97 <= b <= 122 else ord(" ") for b in range(256)
)

_Hit = tuple[int, int, bool, int, str]  # (start, start - end, shouted, key number, key if shouted)


class Mention(NamedTuple):
    """A candidate toponym: ``text[start:end]`` matched ``key``, key ``number`` of the index (its
    options: ``index.automaton.options_of(number)``). ``shouted``: found in a run of capitals."""

    start: int
    end: int
    key: str
    number: int
    shouted: bool = False


def _caps_runs(text: str) -> list[re.Match[str]]:
    """``list(_CAPS_RUN.finditer(text))``, matched only where two capitals follow a non-letter."""
    classes = text.encode("ascii", "replace").translate(_LETTER_CLASSES)  # "?" per other character
    runs: list[re.Match[str]] = []
    match = _CAPS_RUN.match
    at = classes.find(b"AA")
    while at != -1:
        if at and classes[at - 1] != 32:  # a letter before: no run starts here
            at = classes.find(b"AA", at + 1)
            continue
        run = match(text, at)
        if run is None:
            at = classes.find(b"AA", at + 1)
        else:
            runs.append(run)
            at = classes.find(b"AA", run.end())
    return runs


def _title_case(match: re.Match[str]) -> str:
    word = match.group()
    return word[0] + word[1:].lower()


def _scanned(text: str) -> tuple[FoldedText, str]:
    """The folded view of ``text`` (footers masked) and its folded text with separators as spaces."""
    view = fold(mask_boilerplate(text), casefold=False)
    scanned = view.text
    for char in _SCAN:
        scanned = scanned.replace(char, " ")
    return view, scanned


@lru_cache(maxsize=1)
def _scan_folding() -> Folding:
    """The case-kept fold table with every :data:`_SCAN` character of a folded form made a space:
    one pass gives what :func:`_scanned` gives (built on first use)."""
    spaces = str.maketrans(dict.fromkeys(_SCAN, " "))
    table = dict(fold_table(False))
    for char in _SCAN:
        table.setdefault(char, char)
    return Folding([(c, out.translate(spaces)) for c, out in table.items() if out.translate(spaces) != c])


def _scanned_fast(text: str) -> tuple[FoldedText, str]:
    """:func:`_scanned`, a long non-ASCII text folded in one compiled pass (the view's ``text`` is
    then the scanned text; only its offsets are read)."""
    masked = mask_boilerplate(text)
    if len(masked) >= NATIVE_MIN_CHARS and not masked.isascii():
        native = _scan_folding().fold(masked)
        if native is not None:
            scanned, changes = native
            return FoldedText(masked, scanned, fold_origin(len(masked), changes)), scanned
    return _scanned(text)


class ToponymScanner:
    """Immutable after construction; ``scan`` is safe to call from any thread."""

    def __init__(self, index: GazetteerIndex) -> None:
        self.index = index
        self._names = index.automaton
        self._empty = index.size == 0
        _scan_folding()  # built once per process, now rather than by the first long text

    def scan(self, text: str) -> list[Mention]:
        """Candidate mentions in order of appearance, non-overlapping."""
        if self._empty or not text:
            return []
        view, scanned = _scanned_fast(text)
        mentions = self._names.scan(scanned, Mention)
        if mentions and not isinstance(view.origin, range):  # offsets through the fold map
            new = tuple.__new__
            return [new(Mention, (*view.span(m[0], m[1]), *m[2:])) for m in mentions]
        # One to one: every character of the original folds to one, so offsets are the same.
        return mentions


class ReferenceScanner(ToponymScanner):
    """:meth:`scan` in Python: the definition of the native scan (tests compare the two)."""

    def scan(self, text: str) -> list[Mention]:
        """Candidate mentions in order of appearance, non-overlapping."""
        if self._empty or not text:
            return []
        view, scanned = _scanned(text)
        hits = self._hits(scanned, scanned, 0, shouted=False)
        runs = _caps_runs(scanned)
        if runs:
            hits += self._shouted_hits(scanned, runs)
        hits.sort()
        original = view.original
        size = len(original)
        one_to_one = isinstance(view.origin, range)
        mentions: list[Mention] = []
        new = tuple.__new__  # Mention(...) without the Python-level __new__ (tens per article)
        reach = 0
        for start, negative_length, shouted, number, key in hits:
            if start < reach:
                continue
            reach = end = start - negative_length
            if not shouted:
                key = scanned[start:end]
            if one_to_one:  # view.span without the call; marks that fold to nothing stay with the name
                ostart, oend = start, end
                while oend < size and not original[oend].isascii() and not fold_char(original[oend], False):
                    oend += 1
            else:
                ostart, oend = view.span(start, end)
            mentions.append(new(Mention, (ostart, oend, key, number, shouted)))
        return mentions

    def _shouted_hits(self, scanned: str, runs: list[re.Match[str]]) -> list[_Hit]:
        """Hits of the title-cased runs of capitals. Title-casing changes only the letters of a run,
        so a key occurrence that it creates lies within the longest key's length of a run; the text
        there is rescanned (a hit that touches no run is also a hit of the first scan, which wins the
        tie). Word boundaries do not depend on letter case: they are read from ``scanned``."""
        reach = self._names.max_key_length
        size = len(scanned)
        out: list[_Hit] = []
        lo = hi = cursor = 0
        pieces: list[str] = []
        for n, run in enumerate(runs):
            start, end = run.span()
            if not pieces:
                lo = cursor = max(0, start - reach)
            pieces.append(scanned[cursor:start])
            pieces.append(_CAPS_WORD.sub(_title_case, run.group()))
            cursor = end
            hi = min(size, end + reach)
            if n + 1 == len(runs) or runs[n + 1].start() - reach > hi:
                pieces.append(scanned[cursor:hi])
                window = "".join(pieces)
                out += self._hits(scanned, window, lo, shouted=True)
                pieces = []
        return out

    def _hits(self, scanned: str, window: str, lo: int, *, shouted: bool) -> list[_Hit]:
        """Key occurrences in ``window`` (``scanned[lo:lo + len(window)]``, letter case aside) that
        sit on word boundaries of ``scanned``, with offsets into ``scanned``."""
        size = len(scanned)
        out: list[_Hit] = []
        for number, start, end in self._names.find(window):
            start += lo
            end += lo
            if end < size and scanned[end].isalnum():
                continue
            if start > 0:
                before = scanned[start - 1]
                if before.isalnum() or before == "_":
                    continue
                if before == "'" and not (
                    start >= 2
                    and scanned[start - 2] in _ELIDED
                    and (start < 3 or not scanned[start - 3].isalnum())
                ):
                    continue
            out.append(
                (start, start - end, shouted, number, window[start - lo : end - lo] if shouted else "")
            )
        return out

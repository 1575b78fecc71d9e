"""Text folding for matching, with a map back to offsets in the original text.

:func:`fold` turns text into a matching form — compatibility-decomposed (NFKD), combining marks dropped
(accents, Arabic harakat), ligatures and typographic apostrophes, dashes and spaces unified, and, unless
``casefold=False``, case-folded — and records for every folded character the index of the original
character it came from. Offsets are Unicode code points, as in the protobuf contracts.

:func:`mask_boilerplate` blanks copyright and disclaimer footers (replacing them with spaces, so offsets
do not move) so that matchers never flag them.

Pure functions; never raise on any ``str`` input.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain, repeat
from typing import overload

from newswatch_native import Folding

__all__ = [
    "MASK_CACHE_TEXTS",
    "NATIVE_MIN_CHARS",
    "FoldedText",
    "boilerplate_spans",
    "fold",
    "fold_bytes",
    "fold_char",
    "fold_origin",
    "fold_table",
    "folding",
    "mask_boilerplate",
    "non_ascii_chars",
]

_SPECIAL = {
    "\u2018": "'",
    "\u2019": "'",
    "\u02bc": "'",
    "\u2032": "'",
    "\u00b4": "'",
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u0640": "",  # Arabic tatweel
    "\u00ad": "",  # soft hyphen
    "\u200b": "",
    "\u200c": "",
    "\u200d": "",
    "\ufeff": "",
    "ø": "o",
    "Ø": "O",
    "ł": "l",
    "Ł": "L",
    "đ": "d",
    "Đ": "D",
    "ı": "i",
    "æ": "ae",
    "Æ": "AE",
    "œ": "oe",
    "Œ": "OE",
}


@lru_cache(maxsize=8192)
def fold_char(char: str, casefold: bool = True) -> str:
    """The folded form of one character (possibly empty or several characters)."""
    if char.isascii():
        return char.lower() if casefold else char
    out = _SPECIAL.get(char)
    if out is None:
        decomposed = unicodedata.normalize("NFKD", char)
        # Special letters may also hide inside a decomposition ("Ǽ" is "Æ" + acute).
        out = "".join(_SPECIAL.get(c, c) for c in decomposed if not unicodedata.combining(c))
        if out.isspace():
            out = " "
    return out.casefold() if casefold else out


@dataclass(frozen=True, slots=True)
class FoldedText:
    """``text`` is the folded form of ``original``; ``origin[i]`` is the original index of ``text[i]``."""

    original: str
    text: str
    origin: Sequence[int]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original offsets of the folded slice ``text[start:end]`` (``start < end``).

        The end is extended over characters that fold to nothing (combining marks) so that the slice
        of the original keeps a decomposed accent with its letter.
        """
        ostart = self.origin[start]
        oend = self.origin[end - 1] + 1
        while oend < len(self.original) and not fold_char(self.original[oend], False):
            oend += 1
        return ostart, oend

    def position(self, original_index: int) -> int:
        """The folded index of the first folded character at or after ``original_index``."""
        if isinstance(self.origin, range):
            return min(max(original_index, 0), len(self.origin))
        if isinstance(self.origin, _Origin):
            return self.origin.first_at_or_after(original_index)
        lo, hi = 0, len(self.origin)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.origin[mid] < original_index:
                lo = mid + 1
            else:
                hi = mid
        return lo


class _Origin(Sequence[int]):
    """A monotonic folded → original index map kept as runs (step 1: one to one; step 0: an expansion)."""

    __slots__ = ("_fstart", "_last", "_length", "_ostart", "_step")

    def __init__(self, original_length: int, changes: Sequence[tuple[int, int]]) -> None:
        """``changes``: sorted ``(original index, folded width)`` of the characters not folding to one."""
        fstart: list[int] = []
        ostart: list[int] = []
        step: list[int] = []
        f = o = 0
        for pos, width in [*changes, (original_length, 1)]:
            for begin, count, one_to_one in ((o, pos - o, 1), (pos, width, 0)):
                if count > 0 and begin < original_length:
                    fstart.append(f)
                    ostart.append(begin)
                    step.append(one_to_one)
                    f += count
            o = pos + 1
        self._fstart, self._ostart, self._step, self._length = fstart, ostart, step, f
        ends = [*fstart[1:], f][: len(fstart)]
        self._last = [ostart[j] + step[j] * (ends[j] - fstart[j] - 1) for j in range(len(fstart))]

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> int: ...
    @overload
    def __getitem__(self, index: slice) -> list[int]: ...
    def __getitem__(self, index: int | slice) -> int | list[int]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._length))]
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError("origin index out of range")
        j = bisect_right(self._fstart, index) - 1
        return self._ostart[j] + self._step[j] * (index - self._fstart[j])

    def __iter__(self) -> Iterator[int]:
        ends = [*self._fstart[1:], self._length][: len(self._fstart)]
        for f, o, step, end in zip(self._fstart, self._ostart, self._step, ends, strict=True):
            yield from (range(o, o + end - f) if step else repeat(o, end - f))

    def first_at_or_after(self, original_index: int) -> int:
        """The smallest folded index whose original index is ``>= original_index`` (or the length)."""
        j = bisect_left(self._last, original_index)
        if j == len(self._last):
            return self._length
        if not self._step[j]:
            return self._fstart[j]
        return self._fstart[j] + max(0, original_index - self._ostart[j])


_ASCII_BYTES = bytes(range(128))


def non_ascii_chars(text: str) -> set[str]:
    """The distinct non-ASCII characters of ``text``, found with byte operations (no per-character loop)."""
    try:
        return set(text.encode("latin-1").translate(None, _ASCII_BYTES).decode("latin-1"))
    except UnicodeEncodeError:
        rest = text.encode("utf-8", "surrogatepass").translate(None, _ASCII_BYTES)
        return set(rest.decode("utf-8", "surrogatepass"))


def _ascii_lower(text: str) -> str:
    """``text`` with only its ASCII letters lowered (UTF-8 multi-byte sequences hold no ASCII byte)."""
    try:
        return text.encode("latin-1").lower().decode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").lower().decode("utf-8", "surrogatepass")


#: From this length on, a non-ASCII text is folded by the compiled table (:func:`folding`), built once
#: per process on first use (about a tenth of a second); shorter texts (names, aliases) in Python.
NATIVE_MIN_CHARS = 200


@lru_cache(maxsize=2)
def fold_table(casefold: bool) -> tuple[tuple[str, str], ...]:
    """``(character, fold_char(character, casefold))`` for every character of the Basic Multilingual
    Plane (surrogates excepted) that does not fold to itself."""
    define = fold_char.__wrapped__  # uncached: 65,536 characters would flush fold_char's cache
    table: list[tuple[str, str]] = []
    for code in (*range(0xD800), *range(0xE000, 0x10000)):
        char = chr(code)
        out = define(char, casefold)
        if out != char:
            table.append((char, out))
    return tuple(table)


@lru_cache(maxsize=2)
def folding(casefold: bool) -> Folding:
    """The compiled :func:`fold_table` (``newswatch_native.Folding``)."""
    return Folding(list(fold_table(casefold)))


def fold_origin(length: int, changes: Sequence[tuple[int, int]]) -> Sequence[int]:
    """The fold map of a text of ``length`` characters whose ``changes`` (sorted ``(index, folded
    width)``, ``Folding.fold``) are the characters not folding to exactly one."""
    return _Origin(length, changes) if changes else range(length)


@lru_cache(maxsize=32)
def fold(text: str, casefold: bool = True) -> FoldedText:
    """Fold ``text`` for matching; see the module docstring. Recent results are cached (immutable).

    Equal to folding character by character with :func:`fold_char`: ASCII is lowered in one byte
    operation; a long text is folded by the compiled table (:data:`NATIVE_MIN_CHARS`), else each
    distinct character is replaced with ``str.replace``.
    """
    if text.isascii():
        return FoldedText(text, text.lower() if casefold else text, range(len(text)))
    if len(text) >= NATIVE_MIN_CHARS:
        native = folding(casefold).fold(text)
        if native is not None:  # None: a character outside the BMP, or a lone surrogate
            return FoldedText(text, native[0], fold_origin(len(text), native[1]))
    changed = {c: out for c in non_ascii_chars(text) if (out := fold_char(c, casefold)) != c}
    if any(ch in changed for out in changed.values() for ch in out):
        return _fold_per_char(text, casefold)  # one replacement would feed another
    folded = _ascii_lower(text) if casefold else text
    for char, out in changed.items():
        folded = folded.replace(char, out)
    uneven = {c: len(out) for c, out in changed.items() if len(out) != 1}
    if not uneven:
        return FoldedText(text, folded, range(len(text)))
    changes: list[tuple[int, int]] = []
    for char, width in uneven.items():
        at = text.find(char)
        while at != -1:
            changes.append((at, width))
            at = text.find(char, at + 1)
    changes.sort()
    return FoldedText(text, folded, _Origin(len(text), changes))


def fold_bytes(text: str) -> bytes:
    """``fold(text).text`` as UTF-8 (lone surrogates kept, ``surrogatepass``), without its fold map."""
    if len(text) >= NATIVE_MIN_CHARS and not text.isascii():
        native = folding(True).fold_bytes(text)
        if native is not None:
            return native
    return fold(text).text.encode("utf-8", "surrogatepass")


def _fold_per_char(text: str, casefold: bool) -> FoldedText:
    pieces = [fold_char(char, casefold) for char in text]
    folded = "".join(pieces)
    if len(folded) == len(text) and all(len(p) == 1 for p in pieces):
        return FoldedText(text, folded, range(len(text)))
    origin = tuple(chain.from_iterable(repeat(i, len(p)) for i, p in enumerate(pieces)))
    return FoldedText(text, folded, origin)


# A footer starts on a line beginning with one of these (after optional markup / whitespace).
_FOOTER = re.compile(
    r"^[ \t>*_#\[\]]*(?:"
    r"copyright\s*(?:©|\(c\)|\d{4})|©|"
    r"avis de non-responsabilit[ée]|"
    r"la source originale de cet article|"
    r"the original source of this article|"
    r"disclaimer\s*:|"
    r"all rights reserved|"
    r"tous droits r[ée]serv[ée]s"
    r")",
    re.IGNORECASE | re.MULTILINE,
)
_PARAGRAPH_END = re.compile(r"\n\s*\n")
# A footer found in the last part of a text runs to its end; earlier ones cover their paragraph only.
_TAIL_FRACTION = 1 / 3


def _footer_lines(text: str) -> Iterator[re.Match[str]]:
    """``_FOOTER.finditer(text)``, trying only line starts (where ``^`` can match) — much faster."""
    pos = 0
    while pos != -1:
        found = _FOOTER.match(text, pos)
        if found:
            yield found
            pos = text.find("\n", found.end() if found.end() > pos else pos)
        else:
            pos = text.find("\n", pos)
        pos = pos + 1 if pos != -1 else -1


def boilerplate_spans(text: str) -> list[tuple[int, int]]:
    """Spans of ``text`` that are copyright / disclaimer boilerplate, in order, non-overlapping."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for found in _footer_lines(text):
        start = found.start()
        if start < cursor:
            continue
        if start >= len(text) * _TAIL_FRACTION:
            spans.append((start, len(text)))
            break
        para = _PARAGRAPH_END.search(text, found.end())
        end = para.start() if para else len(text)
        spans.append((start, end))
        cursor = end
    return spans


# Every footer contains one of these (lower-cased, ASCII-lowered bytes); most texts contain none, which
# spares the line-anchored regular expression. Characters that match an ASCII letter only under
# re.IGNORECASE (dotted / dotless i, long s, Kelvin sign) disable the shortcut.
_FOOTER_MARKERS = (
    b"copyright", b"\xa9", b"avis de non-responsabilit", b"la source originale de cet article",
    b"the original source of this article", b"disclaimer", b"all rights reserved", b"tous droits r",
)  # fmt: skip
_CASE_TRAPS = ("\u0130", "\u0131", "\u017f", "\u212a")
# Above this many lines, the marker check is cheaper than trying the footer pattern at every line start.
_PREFILTER_LINES = 48


def _may_have_footer(text: str) -> bool:
    if not text.isascii() and any(trap in text for trap in _CASE_TRAPS):
        return True
    lowered = text.encode("latin-1", "ignore").lower()
    return any(marker in lowered for marker in _FOOTER_MARKERS)


#: Masked texts remembered: every field of a processor batch (``processor_batch_max_articles``, 200 by
#: default, three fields each) is masked by the toponym scan, again for its language and once more for
#: its near-duplicate signature, steps apart (``enrich.enrich_batch``): about 8 MB at most.
MASK_CACHE_TEXTS = 1024


@lru_cache(maxsize=1)
def _compiled_spans() -> Callable[[str], list[tuple[int, int]] | None]:
    """The compiled footer search (``Engine.boilerplate_spans``: the spans of :func:`boilerplate_spans`,
    None for texts outside the Basic Multilingual Plane), from an engine without keys. Built on first
    use: its per-character tables take ~0.2 s once per process (the matcher shares them)."""
    from newswatch.processor.automaton import build_engine  # that module imports this one

    return build_engine(tuple, [], [], [], []).boilerplate_spans


@lru_cache(maxsize=MASK_CACHE_TEXTS)
def mask_boilerplate(text: str) -> str:
    """``text`` with boilerplate replaced by spaces (newlines kept): same length, same offsets."""
    spans = _compiled_spans()(text)
    if spans is None:
        few_lines = text.count("\n") <= _PREFILTER_LINES  # then trying each line start costs less
        spans = boilerplate_spans(text) if few_lines or _may_have_footer(text) else []
    if not spans:
        return text
    pieces: list[str] = []
    cursor = 0
    for start, end in spans:
        pieces.append(text[cursor:start])
        pieces.append("\n".join(" " * len(line) for line in text[start:end].split("\n")))
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)

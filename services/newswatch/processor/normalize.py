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
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain, repeat

__all__ = ["FoldedText", "boilerplate_spans", "fold", "fold_char", "mask_boilerplate"]

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
        lo, hi = 0, len(self.origin)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.origin[mid] < original_index:
                lo = mid + 1
            else:
                hi = mid
        return lo


@lru_cache(maxsize=32)
def fold(text: str, casefold: bool = True) -> FoldedText:
    """Fold ``text`` for matching; see the module docstring. Recent results are cached (immutable)."""
    if text.isascii():
        return FoldedText(text, text.lower() if casefold else text, range(len(text)))
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


def boilerplate_spans(text: str) -> list[tuple[int, int]]:
    """Spans of ``text`` that are copyright / disclaimer boilerplate, in order, non-overlapping."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for found in _FOOTER.finditer(text):
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


@lru_cache(maxsize=32)
def mask_boilerplate(text: str) -> str:
    """``text`` with boilerplate replaced by spaces (newlines kept): same length, same offsets."""
    spans = boilerplate_spans(text)
    if not spans:
        return text
    pieces: list[str] = []
    cursor = 0
    for start, end in spans:
        pieces.append(text[cursor:start])
        pieces.append(re.sub(r"[^\n]", " ", text[start:end]))
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)

"""Facts about the text of one article that the toponym rules ask for, computed on first use.

:class:`Article` holds the fields of one article (title, summary, content) and answers, at most once
per article and question: the text backwards (what precedes a name is matched backwards from it),
whether a line is in title case, and whether the article writes a word in lower case somewhere
("Cottage prices rose. The cottage sold": the capital of "Cottage" says nothing). The module-level
functions read one position. Pure; an :class:`Article` is used by one thread.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from types import SimpleNamespace

__all__ = ["Article", "has_word", "lower_case_word", "native_rules", "sentence_initial", "shouted_nearby"]

WORD = re.compile(r"[^\W\d_][\w'’]*")
"""A word as the rules read it: a letter, then letters, digits, underscores and apostrophes."""
_SMALL_WORDS = frozenset(
    ["a", "an", "the", "of", "in", "on", "at", "to", "for", "and", "or", "but", "by", "with", "from",
     "de", "la", "le", "les", "du", "des", "et", "à"]
)  # fmt: skip
_OPENERS = frozenset("\"“‘'([*_#>«")
_ENDERS = frozenset(".!?:;\n|—")
_JOINERS = frozenset("_'’")  # word characters of WORD besides letters and digits
_TITLE_LINE_MAX = 300  # a longer line is prose, never a title
_BMP = 0x10000


class Article:
    """The fields of one article, with facts computed on first use."""

    __slots__ = ("_lines", "_reversed", "lower_case", "texts")

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts = texts
        self.lower_case: dict[str, bool] = {}  # word -> uses_in_lower_case(word), once asked
        self._lines: dict[tuple[int, int], bool] = {}
        self._reversed: dict[int, str] = {}

    def reversed(self, field: int) -> str:
        """``texts[field]`` backwards."""
        text = self._reversed.get(field)
        if text is None:
            text = self._reversed[field] = self.texts[field][::-1]
        return text

    def uses_in_lower_case(self, word: str) -> bool:
        """Whether some field has ``word`` (lower case) as a :data:`WORD` of its own, reading words
        left to right ("cottage" in "the cottage", not in "Cottage" or "cottages")."""
        known = self.lower_case.get(word)
        if known is None:
            known = lower_case_word(word) and any(has_word(text, word) for text in self.texts)
            self.lower_case[word] = known
        return known

    def title_line(self, field: int, start: int) -> bool:
        """Whether the line around ``start`` is in title case (every content word capitalised)."""
        text = self.texts[field]
        lo = text.rfind("\n", 0, start) + 1
        known = self._lines.get((field, lo))
        if known is None:
            hi = text.find("\n", start)
            hi = len(text) if hi == -1 else hi
            known = False
            if hi - lo <= _TITLE_LINE_MAX:
                words = [w for w in WORD.findall(text, lo, hi) if w.lower() not in _SMALL_WORDS]
                known = len(words) >= 3 and all(w[0].isupper() for w in words)
            self._lines[(field, lo)] = known
        return known


def lower_case_word(word: str) -> bool:
    """Whether ``word`` is in lower case and one :data:`WORD` (what :meth:`Article.uses_in_lower_case`
    may find)."""
    return word.islower() and WORD.fullmatch(word) is not None


def native_rules(
    of_words: Iterable[str], to_word: str, possessive_endings: Iterable[str], place_words: Iterable[str]
) -> SimpleNamespace:
    """What the native reader reads as this module does (sentence openers and enders, the small
    words and longest line of a title-case line), the reading cues' ``of_words`` ("of" of "the town
    of"), ``to_word`` ("according to"), ``possessive_endings`` ("'s") and the ``place_words`` that
    may stand before ``of_words`` in ASCII text: the ASCII ones, lower case (``None`` when a word
    has spaces, starts with no letter, or is not ASCII yet could match ASCII text: Python reads
    every case); ``wide_place_words``, the length of the longest place word beyond ASCII (where one
    may end, Python reads the text). For the characters of the Basic Multilingual Plane beyond
    ASCII: ``upper``, those for which ``str.isupper`` holds; ``lower``, those whose lower case is one
    character of a small word, with it (no other character lowers into a small word:
    ``w.lower()`` is a small word exactly when the lower cases of its characters make one)."""
    words = frozenset(place_words)
    simple = all(w and w[0].isalpha() and not any(c.isspace() for c in w) for w in words)
    simple = simple and not any(_matches_ascii(w) for w in words if not w.isascii())
    return SimpleNamespace(
        openers="".join(sorted(_OPENERS)),
        enders="".join(sorted(_ENDERS)),
        small_words=_SMALL_WORDS,
        title_line_max=_TITLE_LINE_MAX,
        of_words=frozenset(of_words),
        to_word=to_word,
        possessive_endings=[e for e in possessive_endings if e.isascii()],
        place_words=frozenset(w.lower() for w in words if w.isascii()) if simple else None,
        wide_place_words=max((len(w) for w in words if not w.isascii()), default=0),
        upper=_upper_chars(),
        lower=_small_lower(_SMALL_WORDS),
    )


@lru_cache(maxsize=1)
def _upper_chars() -> str:
    """The characters of the Basic Multilingual Plane beyond ASCII for which ``str.isupper`` holds."""
    return "".join(c for c in map(chr, range(128, _BMP)) if c.isupper())


@lru_cache(maxsize=4)
def _small_lower(small_words: frozenset[str]) -> dict[str, str]:
    """The characters of the Basic Multilingual Plane beyond ASCII whose lower case is one character
    of one of ``small_words``, with that character."""
    letters = frozenset("".join(small_words))
    pairs = ((c, c.lower()) for c in map(chr, range(128, _BMP)))
    return {c: lower for c, lower in pairs if len(lower) == 1 and lower in letters}


def _matches_ascii(word: str) -> bool:
    """Whether a case-insensitive regular expression of ``word`` could match ASCII text (every
    non-ASCII character of it matches some ASCII letter: "ſ" matches "s")."""
    letters = [chr(c) for c in range(128) if chr(c).isalpha()]
    return all(
        any(re.fullmatch(re.escape(c), a, re.IGNORECASE) for a in letters) for c in word if not c.isascii()
    )


def has_word(text: str, word: str) -> bool:
    """Whether ``word`` (a :data:`WORD` itself) is one of the words of ``text``, as
    ``WORD.findall(text)`` reads them: it ends a run of word characters and apostrophes, and only
    digits, underscores and apostrophes precede it in that run. (A search, not a tokenisation.)"""
    size = len(text)
    at = text.find(word)
    while at != -1:
        end = at + len(word)
        if end >= size or not (text[end].isalnum() or text[end] in _JOINERS):
            i = at - 1
            while i >= 0 and (text[i] in _JOINERS or text[i].isdecimal()):
                i -= 1
            if i < 0 or not text[i].isalnum():
                return True
        at = text.find(word, at + 1)
    return False


def sentence_initial(text: str, start: int) -> bool:
    """Whether ``start`` begins a sentence or a line (openers such as quotes aside)."""
    i = start - 1
    while i >= 0 and (text[i].isspace() or text[i] in _OPENERS):
        if text[i] == "\n":
            return True
        i -= 1
    return i < 0 or text[i] in _ENDERS


def shouted_nearby(text: str, start: int, end: int) -> bool:
    """Whether a word in capitals stands next to ``text[start:end]`` ("LET US GO")."""
    before = text[max(0, start - 20) : start].split()
    after = text[end : end + 20].split()
    neighbours = [before[-1] if before else "", after[0] if after else ""]
    return any(len(n) >= 2 and re.sub(r"\W", "", n).isupper() for n in neighbours)

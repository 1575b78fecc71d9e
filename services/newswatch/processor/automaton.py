"""Whole-word search for many keys at once: byte projections of text for the compiled engine.

A text is *projected* to one byte per folded character (:mod:`newswatch.processor.normalize` folding,
case-folded): ASCII letters, digits and ``_`` stay, every other non-word character becomes a space,
other word characters (Arabic, Greek …) one of 32 bucket bytes, and each run of spaces / hyphens
collapses to one space; the projection is framed by a space on both sides. A key (an alias in
``phrase_key`` form) is projected the same way and framed by spaces, so an automaton hit is always a
whole-word occurrence. Hits of keys whose projection loses information (punctuation, non-ASCII
letters) are re-checked against the folded text. Case-sensitive keys that are plain ASCII words are
found in their letter case in the *case-kept* projection (the same bytes, ASCII letters keeping their
case: the engine scans for them in lower case and compares the case-kept bytes of each hit); the
other case-sensitive keys are compared with the case-kept fold of each hit.

This module defines the projection — its byte tables and the *stand-in* bytes of a text — and the
keys; the scans, checks and term rules run in the compiled engine (``newswatch_native.Engine``, built
by :func:`build_engine`), which calls back into :class:`Probe` for what needs Unicode folding.

Most texts (ASCII, Latin-1, and wide characters folding to one character: curly quotes, dashes,
"ī", Arabic letters) are given to the engine as *raw* stand-in bytes, one per character, after
replacing each distinct wide character by a one-byte stand-in; the others (ligatures, "œ", "ß",
combining marks, Greek or Cyrillic letters) are folded with :func:`~newswatch.processor.normalize.fold`
first (:func:`prepare`). Offsets are code points into the text given to :func:`prepare`.

**Overlap policy** (that of the combined regular expression this replaces), per letter-case class:
scanning left to right, at each position the longest key occurring there as a whole word wins and the
scan resumes after it (leftmost-longest, non-overlapping). Case-insensitive and case-sensitive keys
are two classes, selected independently, so their hits may overlap.

**Context words** (:func:`build_engine` ``contexts``) are searched in a window around a hit with the
semantics of the regular expression ``(?<!\\w)(?:word|prefix\\w*)(?!\\w)`` applied from folded index
``lo`` to ``hi``: the character before ``lo`` is seen, the text is cut at ``hi``; an occurrence lying
inside the hit is ignored.

The engine scans long texts in interleaved segments; with very many keys (the whole gazetteer) it
finds names beginning with a capital or a non-ASCII letter from the word starts where they can begin
instead, looking up the text from each such start to each following space in a hash table of those
names and their space-ended prefixes (same results, see :func:`build_engine` ``anchored_above``).

A text is usually given to the engine as it is (``Engine.match_text``): from its code points and the
per-character tables of :func:`char_tables`, the engine masks its boilerplate footers as
:func:`~newswatch.processor.normalize.mask_boilerplate` does and makes its raw stand-in bytes itself,
in the same call; it declines the texts that must be folded first (or that hold characters outside
the Basic Multilingual Plane), which take the Python steps (:func:`prepare`, ``Engine.match``). It
releases the GIL while it masks, projects and scans, and builds the results itself (tuples of the
class given to :func:`build_engine`). Everything here is immutable once built and never raises for
any ``str`` text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import NamedTuple, TypeVar

from newswatch_native import Engine

from newswatch.processor.normalize import FoldedText, fold, fold_char, non_ascii_chars
from newswatch.processor.overrides import default_cues

__all__ = [
    "CONTEXT_MISSING",
    "CONTEXT_OK",
    "CONTEXT_VETOED",
    "Probe",
    "Source",
    "build_engine",
    "char_tables",
    "key_bytes",
    "prepare",
    "sentence_start",
    "shouted",
    "title_word",
    "titled",
]

T = TypeVar("T", bound=tuple[object, ...])

_SEP = re.compile(r"[\s\-]+")
_SHOUT = re.compile(r"[A-Z]{2,}")
_TITLE_REACH = 40  # characters read for each neighbouring word of a title-case run
_TRAILING = re.compile(r"\W+$")
_BUCKET0, _BUCKETS = 0x80, 32
_QUOTE = '"'  # stand-in of non-word characters that are not separators

CONTEXT_VETOED, CONTEXT_OK, CONTEXT_MISSING = 0, 1, 2
"""Context verdicts: a negative word within the window, no objection, context words required but absent."""


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _stand_in(char: str) -> str:
    """The byte-sized stand-in of one FOLDED character."""
    if char.isascii():
        return char
    return chr(_BUCKET0 + ord(char) % _BUCKETS) if _is_word(char) else _QUOTE


def _tables() -> tuple[bytes, bytes, bytes, bytes]:
    """Tables over stand-in bytes (ASCII of folded text, buckets, quote): projection, separators
    (space / ``x``); over raw bytes of unfolded text: case mask (``U`` / ``l``) and uncased bytes."""
    project = bytes(
        x if _is_word(chr(x)) or _BUCKET0 <= x < _BUCKET0 + _BUCKETS else 0x20 for x in range(256)
    )
    separators = bytes(0x20 if x < _BUCKET0 and (chr(x).isspace() or x == 0x2D) else 0x78 for x in range(256))
    mask, uncased = bytearray(range(256)), bytearray()
    for x in range(256):
        cased = chr(x) if x < 0xA0 else fold_char(chr(x), False)
        if len(cased) == 1 and (cased.isupper() or cased.islower()):
            mask[x] = ord("U" if cased.isupper() else "l")
        else:
            uncased.append(x)
    return project, separators, bytes(mask), bytes(uncased)


def _raw_tables() -> tuple[bytes, bytes]:
    """Tables over raw bytes of an unfolded text (ASCII, buckets, Latin-1 standing for themselves):
    projection (case-folded) and separators."""
    project, separators = bytearray(256), bytearray(256)
    for x in range(256):
        folded = chr(x).lower() if x < _BUCKET0 else chr(x) if x < 0xA0 else fold_char(chr(x))
        one = folded if len(folded) == 1 else " "
        project[x] = _PROJECT[ord(_stand_in(one))] if x >= 0xA0 else _PROJECT[ord(one)]
        separators[x] = 0x20 if x < _BUCKET0 and _SEPARATORS[x] == 0x20 else 0x78
        if x >= 0xA0 and (one.isspace() or one == "-"):
            separators[x] = 0x20
    return bytes(project), bytes(separators)


_PROJECT, _SEPARATORS, _CASE_MASK, _UNCASED = _tables()
_RAW_PROJECT, _RAW_SEPARATORS = _raw_tables()


def _raw_cased() -> bytes:
    """Raw bytes → case-kept projection: as ``_RAW_PROJECT`` but letters folding to ASCII keep case."""
    out = bytearray(_RAW_PROJECT)
    for x in range(256):
        if _RAW_PROJECT[x] == 0x20 or _BUCKET0 <= x < 0xA0:
            continue
        cased = chr(x) if x < _BUCKET0 else fold_char(chr(x), False)
        if len(cased) == 1 and cased.isascii():
            out[x] = ord(cased)
    return bytes(out)


_RAW_CASED = _raw_cased()


def _strict(project: bytes, separators: bytes) -> bytes:
    """``project`` with non-word characters that are not separators as 0x01 instead of a space."""
    return bytes(p if p != 0x20 or s == 0x20 else 0x01 for p, s in zip(project, separators, strict=True))


_STRICT, _RAW_STRICT = _strict(_PROJECT, _SEPARATORS), _strict(_RAW_PROJECT, _RAW_SEPARATORS)


@lru_cache(maxsize=4096)
def _direct_stand_in(char: str) -> str | None:
    """Stand-in of an UNFOLDED non-ASCII character in the raw bytes, or None (fold the text first).

    It needs one-character folds in both letter cases and a byte agreeing with them on projection,
    separator class and letter case. Latin-1 characters stand for themselves (the raw tables fold
    them); C1 controls never do (their bytes are the buckets).
    """
    lower, cased = fold_char(char), fold_char(char, False)
    if len(lower) != 1 or len(cased) != 1:
        return None
    if 0xA0 <= ord(char) <= 0xFF:
        candidate = char
    elif cased.isascii() or 0xA0 <= ord(cased) <= 0xFF:
        candidate = cased
    elif cased.isupper() or cased.islower() or cased != lower:
        return None  # a cased script: a bucket byte cannot carry the case
    else:
        candidate = _stand_in(lower)
    x = ord(candidate)
    letter_case = "U" if cased.isupper() else "l" if cased.islower() else ""
    if (
        _RAW_PROJECT[x] != _PROJECT[ord(_stand_in(lower))]
        or (_RAW_SEPARATORS[x] == 0x20) != (lower.isspace() or lower == "-")
        or ("" if x in _UNCASED else chr(_CASE_MASK[x])) != letter_case
    ):
        return None
    return candidate


_DIRECT, _SPACE, _WORD, _DECIMAL = 1, 2, 4, 8
_BMP = 0x10000


@lru_cache(maxsize=1)
def char_tables() -> tuple[bytes, bytes, bytes]:
    """Per character of the Basic Multilingual Plane, for the engine's ``match_text``: its raw
    stand-in byte (:func:`_direct_stand_in`; ASCII stands for itself), flags (1: it has one, 2:
    ``isspace``, 4: regular-expression ``\\w``, 8: ``\\d``) and the lower-case ASCII letter or "é" it
    matches under ``re.IGNORECASE`` (0: none), as three 65,536-byte tables. Built once (~0.2 s)."""
    stand_in, flags, letter = bytearray(_BMP), bytearray(_BMP), bytearray(_BMP)
    for x in range(_BMP):
        char = chr(x)
        one = char if x < _BUCKET0 else _direct_stand_in.__wrapped__(char)
        if one is not None:
            stand_in[x], flags[x] = ord(one), _DIRECT
        flags[x] |= (
            (_SPACE if char.isspace() else 0)
            | (_WORD if char.isalnum() or char == "_" else 0)
            | (_DECIMAL if char.isdecimal() else 0)
        )
    every = "".join(map(chr, range(_BMP)))
    for target in "abcdefghijklmnopqrstuvwxyz\u00e9":
        for found in re.finditer(re.escape(target), every, re.IGNORECASE):
            letter[found.start()] = ord(target)
    return bytes(stand_in), bytes(flags), bytes(letter)


def _stand_in_bytes(folded: str) -> bytes:
    """An already folded text with every non-ASCII character replaced by its stand-in (one byte each)."""
    if folded.isascii():
        return folded.encode("ascii")
    # C1 controls first: their range holds the bucket bytes that later replacements introduce.
    for char in sorted(non_ascii_chars(folded)):
        folded = folded.replace(char, _stand_in(char))
    return folded.encode("latin-1")


def key_bytes(key: str) -> bytes:
    """The framed projection of a case-folded key in ``phrase_key`` form."""
    return b" " + _stand_in_bytes(key).translate(_PROJECT) + b" "


def _lossless(key: str) -> bool:
    """Whether a projection equal to the key's, with separators in its gaps, implies an equal folded
    text (ASCII letters, digits, ``_`` and single spaces)."""
    return key.isascii() and all(_is_word(c) or c == " " for c in key)


def _phrase(text: str) -> str:
    return _SEP.sub(" ", text).strip()


_OPAQUE = "\u0100"  # a word character of no lossless key


def _aligned_case_kept(text: str, length: int) -> str:
    """The case-kept fold of ``text``, one character per character of its case-folded fold (of
    ``length``); pieces whose lengths differ become that many ``_OPAQUE``."""
    kept = fold(text, casefold=False).text
    if len(kept) == length:
        return kept  # case folding never shortens: equal totals mean equal pieces
    pieces = []
    for char in text:
        piece, lower = fold_char(char, False), fold_char(char)
        pieces.append(piece if len(piece) == len(lower) else _OPAQUE * len(lower))
    return "".join(pieces)


_SELF_STANDING = bytes(x for x in range(256) if x < _BUCKET0 or _direct_stand_in(chr(x)) == chr(x))
"""Bytes of the Latin-1 characters that are their own stand-in (ASCII, most of Latin-1; not the C1
controls, nor characters such as "ß" or "æ" that fold to several)."""


def _direct_bytes(text: str) -> bytes | None:
    """``text`` as raw bytes of stand-ins, one per character, or None when it must be folded first."""
    if text.isascii():
        return text.encode("ascii")
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        pass
    else:
        if not raw.translate(None, _SELF_STANDING):
            return raw  # every character stands for itself: no replacement
    direct = text
    # C1 controls first: their bytes are the buckets that later stand-ins introduce.
    for char in sorted(non_ascii_chars(text)):
        stand_in = _direct_stand_in(char)
        if stand_in is None:
            return None
        if stand_in != char:
            direct = direct.replace(char, stand_in)
    return direct.encode("latin-1")


class Source(NamedTuple):
    """What the engine scans for one text: stand-in bytes (one per folded character), their case-kept
    counterpart (None unless asked for) and the fold map (None: the bytes are one per character of
    the text itself)."""

    source: bytes
    cased: bytes | None
    folded: FoldedText | None


def prepare(text: str, cased: bool = True) -> Source:
    """The stand-in bytes of ``text`` (see the module docstring); ``cased``: also the case-kept ones."""
    raw = _direct_bytes(text)
    if raw is not None:
        return Source(raw, raw if cased else None, None)  # the raw tables keep or fold the case
    folded = fold(text)
    source = _stand_in_bytes(folded.text)
    kept = _stand_in_bytes(_aligned_case_kept(text, len(folded.text))) if cased else None
    return Source(source, kept, folded)


def shouted(text: str, start: int, end: int) -> bool:
    """A short all-capitals hit whose neighbouring word is also in capitals (a shouted headline)."""
    word = text[start:end]
    if len(word) > 3 or not word.isupper():
        return False
    before = text[max(0, start - 20) : start].split()
    after = text[end : end + 20].split()
    neighbours = [before[-1] if before else "", after[0] if after else ""]
    return any(_SHOUT.fullmatch(re.sub(r"\W", "", n)) for n in neighbours)


SENTENCE_REACH = 20
"""Characters read back from a hit by :func:`sentence_start`."""
_SENTENCE_GAP = frozenset(" \t\u00a0\"'\u201c\u2018\u00ab([")
_SENTENCE_END = frozenset(".!?:;\u2026\n\r")


def sentence_start(text: str, start: int) -> bool:
    """Whether ``text[start]`` begins a sentence or a line: before it, past spaces and opening quotes
    or brackets (at most :data:`SENTENCE_REACH` characters back), the text's start, one of ``.!?:;…``
    or a line break. There a capital says nothing."""
    lo = max(0, start - SENTENCE_REACH)
    for char in reversed(text[lo:start]):
        if char in _SENTENCE_END:
            return True
        if char not in _SENTENCE_GAP:
            return False
    return lo == 0


def title_word(word: str) -> bool:
    """Whether ``word`` is one capitalised common word ("Hit", "May": ``common_words`` of
    ``data/toponyms.yaml``): as a case-sensitive alias, its capital is what tells the name from the
    word, so it does not count where capitals say nothing (:func:`titled`)."""
    return (
        len(word) >= 2
        and word.isalpha()
        and word[0].isupper()
        and word[1:].islower()
        and word.lower() in default_cues().common_words
    )


def titled(text: str, start: int, end: int) -> bool:
    """Whether the capital of the hit ``text[start:end]``, a capitalised common word
    (:func:`title_word`), says nothing about it being the name it matches. The word after it (one
    space on) is capitalised, and either
    - it is no common word: the hit begins another name ("Hit Factory", "Hit FM"); or
    - the words stand in a title-case run: one space before the hit too, the word before capitalised
      and ending in a letter or digit, the word after not a place word ("Mortar Rounds Hit Baghdad's
      Green Zone", "Suicide Bomber Hit Army Checkpoint").
    There the word is read as the common word. Punctuation between the words ("Haditha, Hit,
    Ramadi"), a line break, a lower-case word after it ("entered Hit on Thursday"), or a place word
    or weekday after it ("Hit District", "entered Hit Sunday") keep the name."""
    if not (0 <= start < end < len(text) - 1 and text[end] == " " and title_word(text[start:end])):
        return False
    hi = end + 1
    while hi < len(text) and hi < end + 1 + _TITLE_REACH and not text[hi].isspace():
        hi += 1
    after = text[end + 1 : hi]
    if not (after and after[0].isupper()):
        return False
    following = _TRAILING.sub("", after).lower()
    cues = default_cues()
    if following not in cues.common_words:
        return True  # the first word of another name
    if following in cues.place_words or start < 2 or text[start - 1] != " ":
        return False
    lo = start - 1
    while lo > 0 and lo > start - 1 - _TITLE_REACH and not text[lo - 1].isspace():
        lo -= 1
    before = text[lo : start - 1]
    return bool(before) and before[0].isupper() and before[-1].isalnum()


class Probe:
    """The engine's callbacks for one text (``newswatch_native.Probe``): what needs Unicode folding."""

    __slots__ = ("folded", "text")

    def __init__(self, text: str, folded: FoldedText | None) -> None:
        self.text, self.folded = text, folded

    def phrase(self, f_start: int, f_end: int) -> str:
        """The case-folded text between folded indexes in ``phrase_key`` form."""
        if self.folded is None:  # one folded character per character: fold the slice only
            return _phrase("".join(map(fold_char, self.text[f_start:f_end])))
        return _phrase(self.folded.text[f_start:f_end])

    def cased(self, start: int, end: int) -> str:
        """The case-kept fold of ``text[start:end]`` in ``phrase_key`` form."""
        return _phrase("".join(fold_char(c, False) for c in self.text[start:end]))

    def span(self, f_start: int, f_end: int) -> tuple[int, int]:
        """Original offsets of the folded slice (folded texts only)."""
        assert self.folded is not None
        return self.folded.span(f_start, f_end)

    def shouted(self, start: int, end: int) -> bool:
        return shouted(self.text, start, end)

    def titled(self, start: int, end: int) -> bool:
        return titled(self.text, start, end)


ContextWords = tuple[Sequence[tuple[str, bool]], Sequence[tuple[str, bool]], Sequence[tuple[str, bool]]]
"""``(context, negative, own negative)`` words of a rule, each ``(phrase_key(fold(word).text), is
prefix)``; an own negative word names the term itself ("hit by" of Hit) and vetoes only a hit it
overlaps."""

Rule = tuple[int, int, str, bool, int, bool]
"""``(context index or -1, window chars, place id or "", exclusive, rank, titled)``: see
``newswatch_native``."""


def _keys(
    entries: Iterable[tuple[str, bool, int]],
) -> tuple[list[bytes], list[tuple[int, list[tuple[str | None, bool, bool, str, int]]]], list[bytes],
           list[tuple[bool, int]], list[list[int]]]:  # fmt: skip
    """Patterns and key checks of ``(key, case_sensitive, rule)`` entries (see :func:`build_engine`)."""
    grouped: dict[tuple[str, bool], list[int]] = {}
    for key, sensitive, rule in entries:
        if key:
            grouped.setdefault((key, sensitive), []).append(rule)
    groups: list[list[int]] = []
    by_pattern: dict[bytes, list[tuple[str | None, bool, bool, str, int]]] = {}
    cased: dict[bytes, tuple[bool, int]] = {}
    for (key, sensitive), rules in grouped.items():
        lower = fold(key).text if sensitive else key
        lossless = _lossless(lower) and (not sensitive or _lossless(key.lower()))
        gaps = lossless and " " in lower
        groups.append(rules)
        if sensitive and lossless:
            cased[key_bytes(key)] = (gaps, len(groups) - 1)
        else:
            by_pattern.setdefault(key_bytes(lower), []).append(
                (None if lossless else lower, gaps, sensitive, key, len(groups) - 1)
            )
    checks: list[tuple[int, list[tuple[str | None, bool, bool, str, int]]]] = []
    for keys in by_pattern.values():
        if all(exact is None and not gaps and not sensitive for exact, gaps, sensitive, _, _ in keys):
            groups.append([r for *_, group in keys for r in groups[group]])  # every hit accepted as is
            checks.append((len(groups) - 1, []))
        else:
            checks.append((-1, keys))
    return list(by_pattern), checks, list(cased), list(cased.values()), groups


def _context(
    words: ContextWords,
) -> tuple[list[bytes], list[list[tuple[str | None, bool, bool, bool, bool]]], bool]:
    """Patterns (framed keys without the closing space) and word records of one context rule."""
    by_pattern: dict[bytes, list[tuple[str | None, bool, bool, bool, bool]]] = {}
    needs_context = False
    for some, negative, own in ((words[0], False, False), (words[1], True, False), (words[2], True, True)):
        for key, prefix in dict.fromkeys(some):
            if not key:
                continue
            needs_context |= not negative
            lossless = _lossless(key)
            record = (None if lossless else key, lossless and " " in key, prefix, negative, own)
            by_pattern.setdefault(key_bytes(key)[:-1], []).append(record)
    return list(by_pattern), list(by_pattern.values()), needs_context


def build_engine(
    factory: type[T],
    heads: Sequence[tuple[object, ...]],
    entries: Iterable[tuple[str, bool, int]],
    contexts: Sequence[ContextWords],
    rules: Sequence[Rule],
    anchored_above: int | None = None,
) -> Engine[T]:
    """The engine for ``entries`` ``(key, case_sensitive, rule index)`` — a case-insensitive key is
    ``phrase_key(fold(alias).text)``, a case-sensitive one ``phrase_key(fold(alias, casefold=False).text)``
    — with the context rules ``contexts`` and the term ``rules`` (indexes into ``contexts``). Each match
    is ``factory`` (a tuple subclass) of ``heads[rule] + (start, end, text)``. ``anchored_above``:
    the engine's pattern size above which names are looked up from their possible word starts (None: the
    engine's default; the results never depend on it)."""
    folded, checks, cased, cased_keys, groups = _keys(entries)
    extra = {} if anchored_above is None else {"anchored_above": anchored_above}
    return Engine(
        factory,
        heads,
        [_RAW_PROJECT, _RAW_SEPARATORS, _RAW_STRICT, _RAW_CASED],
        [_PROJECT, _SEPARATORS, _STRICT, _PROJECT],
        folded,
        checks,
        cased,
        cased_keys,
        groups,
        [_context(words) for words in contexts],
        rules,
        char_tables=char_tables(),
        title_words=(sorted(default_cues().common_words), sorted(default_cues().place_words)),
        **extra,
    )

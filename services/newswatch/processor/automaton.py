"""Whole-word search for many keys at once: Aho–Corasick automata over a byte projection of text.

A text is *projected* to one byte per folded character (:mod:`newswatch.processor.normalize` folding,
case-folded): ASCII letters, digits and ``_`` stay, every other non-word character becomes a space,
other word characters (Arabic, Greek …) one of 32 bucket bytes, and each run of spaces / hyphens
collapses to one space; the projection is framed by a space on both sides. A key (an alias in
``phrase_key`` form) is projected the same way and framed by spaces, so an automaton hit is always a
whole-word occurrence. Hits of keys whose projection loses information (punctuation, non-ASCII
letters) are re-checked against the folded text. Case-sensitive keys that are plain ASCII words are
searched in their letter case by a second automaton over the *case-kept* projection (the same bytes,
ASCII letters keeping their case), so wrongly-cased occurrences never reach Python; the other
case-sensitive keys are compared with the case-kept fold of each hit.

Most texts (ASCII, Latin-1, and wide characters folding to one character: curly quotes, dashes,
"ī", Arabic letters) are projected with ``bytes.translate`` after replacing each distinct wide
character by a one-byte stand-in; the others (ligatures, "œ", "ß", combining marks, Greek or Cyrillic
letters) are folded with :func:`~newswatch.processor.normalize.fold` first. Offsets are code points
into the text given to :func:`project`.

**Overlap policy** (that of the combined regular expression this replaces), per letter-case class:
scanning left to right, at each position the longest key occurring there as a whole word wins and the
scan resumes after it (leftmost-longest, non-overlapping). Case-insensitive and case-sensitive keys
are two classes, selected independently, so their hits may overlap.

Everything here is immutable once built and never raises for any ``str`` text.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from operator import itemgetter, le
from typing import Generic, TypeVar

import ahocorasick_rs

from newswatch.processor.normalize import FoldedText, fold, fold_char, non_ascii_chars

__all__ = [
    "CONTEXT_MISSING",
    "CONTEXT_OK",
    "CONTEXT_VETOED",
    "ContextRule",
    "KeyHit",
    "KeyIndex",
    "Projection",
    "key_bytes",
    "project",
]

T = TypeVar("T")
_START, _END = itemgetter(0), itemgetter(1)

_SEP = re.compile(r"[\s\-]+")
_BUCKET0, _BUCKETS = 0x80, 32
_QUOTE = '"'  # stand-in of non-word characters that are not separators
# Up to this many key bytes a DFA (faster scans, more memory) is built; above, a contiguous NFA.
_DFA_MAX_KEY_BYTES = 2_000_000


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


@dataclass(slots=True)
class Projection:
    """The projection of one text; see the module docstring.

    ``data[d]`` (``1 <= d <= len(data) - 2``) is collapsed character ``d - 1``; ``runs_*`` map
    collapsed ↔ folded indexes; ``folded`` maps folded → original (None: the same). ``raw`` is the
    text as stand-in bytes, one per character (None when the text had to be folded first).
    """

    text: str
    data: bytes
    raw: bytes | None
    runs_at: list[int]
    runs_from: list[int]
    runs_shift: list[int]
    folded: FoldedText | None
    source: bytes  # what ``data`` was translated from (raw or stand-in bytes), uncollapsed
    strict_table: bytes
    strict: bytes | None = None
    cased: bytes | None = None
    plain: bool = False  # no runs and no folding: data index = original offset + 1

    def __post_init__(self) -> None:
        self.plain = self.folded is None and not self.runs_at

    def separated(self, d_start: int, d_end: int) -> bool:
        """Whether every gap in ``data[d_start:d_end]`` is spaces / hyphens in the text (no other
        punctuation, which the projection also turns into spaces)."""
        if self.strict is None:
            self.strict = _collapse(self.source.translate(self.strict_table), *self._runs())
        return self.strict.find(b"\x01", d_start, d_end) == -1

    def _runs(self) -> tuple[list[int], list[int], list[int]]:
        return self.runs_at, self.runs_from, self.runs_shift

    def folded_index(self, d: int) -> int:
        """Folded index of the character at ``data[d]``."""
        k = bisect_right(self.runs_at, d - 1)
        return d - 1 + (self.runs_shift[k - 1] if k else 0)

    def data_index(self, f: int) -> int:
        """``data`` index of the first character at or after folded index ``f``."""
        k = bisect_right(self.runs_from, f)
        c = f - (self.runs_shift[k - 1] if k else 0)
        if k < len(self.runs_at):
            c = min(c, self.runs_at[k])
        return c + 1

    def span(self, d_start: int, d_end: int) -> tuple[int, int]:
        """Original offsets of ``data[d_start:d_end]`` (``d_start < d_end``)."""
        if self.plain:
            return d_start - 1, d_end - 1
        if self.folded is None:
            k = bisect_right(self.runs_at, d_start - 1)
            shift = self.runs_shift[k - 1] if k else 0
            if k == len(self.runs_at) or self.runs_at[k] > d_end - 2:  # no run inside the hit
                return d_start - 1 + shift, d_end - 1 + shift
        f_start, f_end = self.folded_index(d_start), self.folded_index(d_end - 1) + 1
        return (f_start, f_end) if self.folded is None else self.folded.span(f_start, f_end)

    def window(self, d_start: int, d_end: int, width: int) -> tuple[int, int]:
        """``data`` indexes of the folded window ``width`` characters either side of a hit."""
        lo, hi = max(1, d_start - width), min(len(self.data) - 1, d_end + width)
        if self.plain:
            return lo, hi
        if self.folded is None:
            k = bisect_right(self.runs_at, lo - 2)
            if k == len(self.runs_at) or self.runs_at[k] > hi + 1:  # no run near: distances agree
                return lo, hi
        f_start, f_end = self.folded_index(d_start), self.folded_index(d_end - 1) + 1
        f_lo, f_hi = max(0, f_start - width), min(self.folded_length(), f_end + width)
        return self.data_index(f_lo), self.data_index(f_hi)

    def folded_length(self) -> int:
        return len(self.text) if self.folded is None else len(self.folded.text)

    def phrase_at(self, d_start: int, d_end: int) -> str:
        """The case-folded text under ``data[d_start:d_end]`` in ``phrase_key`` form."""
        f_start, f_end = self.folded_index(d_start), self.folded_index(d_end - 1) + 1
        if self.folded is None:  # one folded character per character: fold the slice only
            return _phrase("".join(map(fold_char, self.text[f_start:f_end])))
        return _phrase(self.folded.text[f_start:f_end])

    def cased_data(self) -> bytes:
        """``data`` with the letter case of the text: ASCII letters (and letters folding to one) keep
        their case; everything else is as in ``data``. A character whose case-kept fold is not as long
        as its case-folded fold ("ß" → "ss") stands as opaque word bytes that no lossless key matches."""
        if self.cased is None:
            if self.raw is not None:
                self.cased = _collapse(self.raw.translate(_RAW_CASED), *self._runs())
            else:
                kept = _aligned_case_kept(self.text, self.folded_length())
                self.cased = _collapse(_stand_in_bytes(kept).translate(_PROJECT), *self._runs())
        return self.cased

    def case_matches(self, d_start: int, d_end: int, cased_key: str) -> bool:
        """Whether the text under ``data[d_start:d_end]`` is ``cased_key`` (a case-sensitive key in
        ``phrase_key`` form) with its letter case, given that it is equal case-insensitively."""
        start, end = self.span(d_start, d_end)
        return _phrase("".join(fold_char(c, False) for c in self.text[start:end])) == cased_key


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


def _runs(separators: bytes) -> tuple[list[int], list[int], list[int]]:
    """Runs of two or more separators: (collapsed index, folded index, total removed) after each."""
    runs_at: list[int] = []
    runs_from: list[int] = []
    runs_shift: list[int] = []
    at = separators.find(b"  ")
    removed = 0
    while at != -1:
        stop = separators.find(b"x", at)  # the bytes are only spaces and "x"
        if stop == -1:
            stop = len(separators)
        removed += stop - at - 1
        runs_at.append(stop - removed)
        runs_from.append(stop)
        runs_shift.append(removed)
        at = separators.find(b"  ", stop)
    return runs_at, runs_from, runs_shift


def _collapse(data: bytes, runs_at: list[int], runs_from: list[int], runs_shift: list[int]) -> bytes:
    """``data`` framed by spaces, each run reduced to its first byte."""
    if not runs_at:
        return b" " + data + b" "
    pieces = [b" "]
    begin = previous = 0
    for stop, removed in zip(runs_from, runs_shift, strict=True):
        pieces.append(data[begin : stop - (removed - previous)])
        begin, previous = stop, removed
    pieces.append(data[begin:])
    pieces.append(b" ")
    return b"".join(pieces)


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


def project(text: str) -> Projection:
    """The projection of ``text`` (see the module docstring)."""
    raw = _direct_bytes(text)
    if raw is not None:
        runs = _runs(raw.translate(_RAW_SEPARATORS))
        data = _collapse(raw.translate(_RAW_PROJECT), *runs)
        return Projection(text, data, raw, *runs, None, raw, _RAW_STRICT)
    folded = fold(text)
    source = _stand_in_bytes(folded.text)
    runs = _runs(source.translate(_SEPARATORS))
    data = _collapse(source.translate(_PROJECT), *runs)
    return Projection(text, data, None, *runs, folded, source, _STRICT)


KeyHit = tuple[int, int, bool, tuple[T, ...]]
"""``(d_start, d_end, case_sensitive, payloads)``: one selected occurrence as ``data`` indexes of the
projection (:meth:`Projection.span` gives original offsets)."""


def _automaton(keys: Sequence[bytes]) -> ahocorasick_rs.BytesAhoCorasick | None:
    if not keys:
        return None
    large = sum(map(len, keys)) > _DFA_MAX_KEY_BYTES
    kind = ahocorasick_rs.Implementation.ContiguousNFA if large else ahocorasick_rs.Implementation.DFA
    return ahocorasick_rs.BytesAhoCorasick(keys, implementation=kind)


@dataclass(frozen=True, slots=True)
class _Key(Generic[T]):
    """One key behind a pattern of the folded automaton that needs a check: the exact folded key
    when the pattern is lossy, the case-kept key when it is case-sensitive (exact comparison)."""

    exact: str | None
    gaps: bool  # a lossless key of several words: its gaps must be separators in the text
    sensitive: bool
    cased: str
    payloads: tuple[T, ...]


class KeyIndex(Generic[T]):
    """Immutable index of ``(key, case_sensitive, payload)`` entries.

    A case-insensitive key is ``phrase_key(fold(alias).text)``, a case-sensitive one
    ``phrase_key(fold(alias, casefold=False).text)``; several payloads may share a key.

    Two automata: the *folded* one (over ``Projection.data``) holds the case-insensitive keys and the
    lossy case-sensitive ones (their letter case is compared exactly per hit); the *cased* one (over
    ``Projection.cased_data()``) holds the lossless case-sensitive keys in their letter case, so a
    lower-case "hit" or "de" never reaches Python. Per pattern id, flat lists say what a hit still
    needs: nothing (``_direct`` / ``_cased_payloads``), a separator check for the gaps of a phrase
    (``_cased_gaps``), or the key checks of ``_keys``.
    """

    def __init__(self, entries: Iterable[tuple[str, bool, T]]) -> None:
        grouped: dict[tuple[str, bool], list[T]] = {}
        for key, sensitive, payload in entries:
            if key:
                grouped.setdefault((key, sensitive), []).append(payload)
        by_pattern: dict[bytes, list[_Key[T]]] = {}
        by_cased: dict[bytes, tuple[bool, tuple[T, ...]]] = {}
        for (key, sensitive), payloads in grouped.items():
            lower = fold(key).text if sensitive else key
            lossless = _lossless(lower) and (not sensitive or _lossless(key.lower()))
            gaps = lossless and " " in lower
            if sensitive and lossless:
                by_cased[key_bytes(key)] = (gaps, tuple(payloads))
                continue
            by_pattern.setdefault(key_bytes(lower), []).append(
                _Key(None if lossless else lower, gaps, sensitive, key, tuple(payloads))
            )
        self._keys = list(by_pattern.values())
        # Patterns all of whose keys are lossless and case-insensitive accept every hit directly.
        self._direct: list[tuple[T, ...] | None] = [
            tuple(p for k in keys for p in k.payloads)
            if all(k.exact is None and not k.gaps and not k.sensitive for k in keys)
            else None
            for keys in self._keys
        ]
        self._cased_gaps = [gaps for gaps, _ in by_cased.values()]
        self._any_gaps = any(self._cased_gaps)
        self._cased_payloads = [payloads for _, payloads in by_cased.values()]
        self._automaton = _automaton(list(by_pattern))
        self._cased = _automaton(list(by_cased))
        self.size = len(grouped)

    def find(self, view: Projection) -> list[KeyHit[T]]:
        """Selected whole-word occurrences (see the overlap policy): case-insensitive ones first,
        then case-sensitive ones, each in text order."""
        insensitive: list[KeyHit[T]] = []
        sensitive: list[KeyHit[T]] = []
        if self._automaton is not None:
            direct_of, keys_of = self._direct, self._keys
            for pid, start, end in self._automaton.find_matches_as_indexes(view.data, overlapping=True):
                direct = direct_of[pid]
                if direct is not None:
                    insensitive.append((start + 1, end - 1, False, direct))
                    continue
                for key in keys_of[pid]:
                    if key.exact is not None and view.phrase_at(start + 1, end - 1) != key.exact:
                        continue
                    if key.gaps and not view.separated(start + 1, end - 1):
                        continue
                    if key.sensitive and not view.case_matches(start + 1, end - 1, key.cased):
                        continue
                    hit = (start + 1, end - 1, key.sensitive, key.payloads)
                    (sensitive if key.sensitive else insensitive).append(hit)
        if self._cased is not None:
            raw = self._cased.find_matches_as_indexes(view.cased_data(), overlapping=True)
            if self._any_gaps:
                gaps_of = self._cased_gaps
                raw = [r for r in raw if not gaps_of[r[0]] or view.separated(r[1] + 1, r[2] - 1)]
            payloads_of = self._cased_payloads
            cased = [(start + 1, end - 1, True, payloads_of[pid]) for pid, start, end in raw]
            sensitive = sensitive + cased if sensitive else cased
        out = _leftmost_longest(insensitive)
        if sensitive:
            out += _leftmost_longest(sensitive)
        return out


def _longest_first(hit: KeyHit[T]) -> tuple[int, int]:
    return hit[0], -hit[1]


def _leftmost_longest(hits: list[KeyHit[T]]) -> list[KeyHit[T]]:
    """Greedy leftmost-longest selection; payloads of one span found twice are merged."""
    if all(map(le, map(_END, hits), map(_START, islice(hits, 1, None)))):
        return hits  # no overlap (the common case): nothing to select
    hits.sort(key=_longest_first)
    kept: list[KeyHit[T]] = []
    for hit in hits:
        if kept and hit[0] == kept[-1][0] and hit[1] == kept[-1][1]:
            kept[-1] = (hit[0], hit[1], hit[2], kept[-1][3] + hit[3])
        elif not kept or hit[0] >= kept[-1][1]:
            kept.append(hit)
    return kept


CONTEXT_VETOED, CONTEXT_OK, CONTEXT_MISSING = 0, 1, 2
"""Verdicts of :meth:`ContextRule.verdict`."""

_Record = tuple[str | None, bool, bool, bool]  # exact key (lossy), gaps, prefix, negative


class ContextRule:
    """The context words and negative-context words of a term: ``(phrase_key(fold(w).text), prefix)``.

    :meth:`holds` searches the window around a hit with the semantics of the regular expression
    ``(?<!\\w)(?:word|prefix\\w*)(?!\\w)`` applied from folded index ``lo`` to ``hi``: the character
    before ``lo`` is seen, the text is cut at ``hi``; an occurrence lying inside the hit is ignored.
    """

    def __init__(self, context: Iterable[tuple[str, bool]], negative: Iterable[tuple[str, bool]]) -> None:
        by_pattern: dict[bytes, list[_Record]] = {}
        self.needs_context = False
        for words, is_negative in ((context, False), (negative, True)):
            for key, prefix in dict.fromkeys(words):
                if not key:
                    continue
                self.needs_context |= not is_negative
                lossless = _lossless(key)
                record = (None if lossless else key, lossless and " " in key, prefix, is_negative)
                by_pattern.setdefault(key_bytes(key)[:-1], []).append(record)
        self._records = list(by_pattern.values())
        # A pattern of one plain word (no exact or gap check): ``(prefix, is_negative)``, else None.
        self._plain: list[tuple[bool, bool] | None] = [
            (rs[0][2], rs[0][3]) if len(rs) == 1 and rs[0][0] is None and not rs[0][1] else None
            for rs in self._records
        ]
        self._has_negative = any(r[3] for rs in self._records for r in rs)
        self._automaton = _automaton(list(by_pattern))

    def holds(self, view: Projection, d_start: int, d_end: int, window: int) -> bool:
        """For a hit at ``view.data[d_start:d_end]``: no negative word and (when the rule has context
        words) some context word within ``window`` folded characters of it."""
        return self.verdict(view, d_start, d_end, window) == CONTEXT_OK

    def verdict(self, view: Projection, d_start: int, d_end: int, window: int) -> int:
        """:data:`CONTEXT_VETOED` (a negative word within ``window``), :data:`CONTEXT_MISSING` (context
        words required, none there) or :data:`CONTEXT_OK`."""
        if self._automaton is None:
            return CONTEXT_OK
        d_lo, d_hi = view.window(d_start, d_end, window)
        base = d_lo - 1
        hay = view.data[base:d_hi] + b" "
        found = False
        last = len(hay) - 1  # the appended space: a key ending in punctuation may not end on it
        plain_of, has_negative = self._plain, self._has_negative
        for pid, s, e in self._automaton.find_matches_as_indexes(hay, overlapping=True):
            if e > last:
                continue
            w_start = base + s + 1
            plain = plain_of[pid]
            if plain is not None:  # the common case, inlined
                if plain[0]:
                    w_end = base + hay.find(b" ", e)
                elif hay[e] == 0x20:
                    w_end = base + e
                else:
                    continue
                if d_start <= w_start and w_end <= d_end:
                    continue
                if plain[1]:
                    return CONTEXT_VETOED
                if not has_negative:
                    return CONTEXT_OK  # no negative word can come later
                found = True
                continue
            for exact, gaps, prefix, is_negative in self._records[pid]:
                if prefix:
                    w_end = base + hay.find(b" ", e)
                elif hay[e] == 0x20:
                    w_end = base + e
                else:
                    continue
                if d_start <= w_start and w_end <= d_end:
                    continue  # inside the hit itself
                if exact is not None and view.phrase_at(w_start, base + e) != exact:
                    continue
                if gaps and not view.separated(w_start, base + e):
                    continue
                if is_negative:
                    return CONTEXT_VETOED
                found = True
        return CONTEXT_OK if found or not self.needs_context else CONTEXT_MISSING

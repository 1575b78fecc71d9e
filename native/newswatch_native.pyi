"""Compiled core of the newswatch keyword matcher (see ``newswatch.processor.automaton``)."""

from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

_T = TypeVar("_T", bound=tuple[object, ...])

class Probe(Protocol):
    """Python-side answers for one text, needed only in rare cases (Unicode folding)."""

    def phrase(self, f_start: int, f_end: int, /) -> str:
        """The case-folded text between folded indexes, in ``phrase_key`` form."""

    def cased(self, start: int, end: int, /) -> str:
        """The case-kept fold of ``text[start:end]``, in ``phrase_key`` form."""

    def span(self, f_start: int, f_end: int, /) -> tuple[int, int]:
        """Original offsets of a folded slice (texts given folded only)."""

    def shouted(self, start: int, end: int, /) -> bool:
        """Whether the case-sensitive hit ``text[start:end]`` is a shouted acronym to ignore."""

class Engine(Generic[_T]):
    """Immutable matching engine: keys, context rules and term rules; thread-safe.

    - ``factory``: the tuple subclass of the results; ``heads[r]``: the first items of a result of
      rule ``r`` (a result is ``heads[r] + (start, end, original)``).
    - ``raw_tables`` / ``folded_tables``: four 256-byte tables each (projection, separators, strict
      projection, case-kept projection) for stand-in bytes of an unfolded / a folded text.
    - ``folded_patterns[i]``: a framed key projection; ``folded_keys[i]``: ``(group, keys)``, ``group``
      >= 0 when every hit is accepted as is, else -1 and ``keys`` as ``(exact or None, gaps, sensitive,
      cased key, group)``.
    - ``cased_patterns[i]`` (case kept) with ``cased_keys[i]`` = ``(gaps, group)``.
    - ``groups[g]``: rule indexes of one key, in order.
    - ``contexts[c]``: ``(patterns, words per pattern as (exact or None, gaps, prefix, negative),
      needs_context)``.
    - ``rules[r]``: ``(context index or -1, window chars, place id or "", exclusive, rank)``; equal
      ranks for one (watch list, term), ranks ordered as those pairs.
    - ``anchored_above``: above this many pattern bytes (default: 2,000,000), names that can only
      start at some word starts (a capital, a non-ASCII letter) are found by anchored walks from those
      starts instead of the scan of every byte; the results are the same either way.

    Raises ValueError for inconsistent arguments.
    """

    def __init__(
        self,
        factory: type[_T],
        heads: Sequence[tuple[object, ...]],
        raw_tables: Sequence[bytes],
        folded_tables: Sequence[bytes],
        folded_patterns: Sequence[bytes],
        folded_keys: Sequence[tuple[int, Sequence[tuple[str | None, bool, bool, str, int]]]],
        cased_patterns: Sequence[bytes],
        cased_keys: Sequence[tuple[bool, int]],
        groups: Sequence[Sequence[int]],
        contexts: Sequence[tuple[Sequence[bytes], Sequence[Sequence[tuple[str | None, bool, bool, bool]]], bool]],
        rules: Sequence[tuple[int, int, str, bool, int]],
        anchored_above: int = ...,
    ) -> None: ...
    @property
    def needs_cased(self) -> bool:
        """Whether ``match`` uses the case-kept source."""

    def match(
        self,
        source: bytes,
        cased: bytes | None,
        folded: bool,
        text: str,
        original: str,
        places: Sequence[tuple[int, int, str]],
        probe: Probe,
    ) -> list[_T]:
        """Every match of ``text`` (offsets into it) in contract order (start, watch list, term, end).

        ``source``: the text as stand-in bytes, one per (folded) character; ``cased``: its case-kept
        counterpart (same length) when ``needs_cased``; ``folded``: the source is of the folded text
        (offsets go through ``probe.span``); ``original``: the last item of each result (a text of
        the same length); ``places``: ``(start, end, geonames id)`` of places resolved in the text.
        The GIL is released while the text is projected and scanned.
        """

def shingle_hashes(data: bytes, shingle_words: int, hash_bits: int) -> list[int]:
    """The shingle hashes of ``data`` (a folded text as UTF-8), one per occurrence, in text order
    (``newswatch.processor.neardup`` documents the scheme). Raises ValueError for bad parameters."""

def minhash_signature(
    data: bytes,
    shingle_words: int,
    hash_bits: int,
    bin_bits: int,
    min_shingles: int,
    densify_step: int,
) -> bytes | None:
    """The one-permutation MinHash signature of ``data`` (2 bytes a bin, little-endian), or None below
    ``min_shingles`` shingle occurrences. Raises ValueError for bad parameters."""

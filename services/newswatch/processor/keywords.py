"""Watch-list term matching: the :class:`Matcher` seam, the term rules and their two implementations.

:class:`AutomatonMatcher` (the one to use; :func:`build_matcher`) finds every alias of every watch list
with one Aho–Corasick automaton (:mod:`newswatch.processor.automaton`) — ``aliases`` case- and
accent-insensitively, ``case_sensitive_aliases`` with their capitalisation (accents still folded) —
and applies each term's rules to every selected hit (the overlap policy is the automaton module's:
leftmost-longest per case class). :class:`RegexMatcher` does the same with two combined regular
expressions; it is the reference the automaton is tested against. The rules:

- whole words / phrases only (a letter or digit may not touch either end; spaces and hyphens inside a
  phrase are interchangeable);
- ``context_words``: at least one must occur within ``context_window_chars`` of the hit;
- ``negative_context``: none may (an occurrence lying entirely inside the hit does not count, one that
  overlaps it does: ``hit by`` vetoes ``Hit``); a negative phrase that names the term itself (one of
  its aliases as whole words: ``hit by``, ``smash hit``) vetoes only a hit it overlaps — "a convoy
  hit by a bomb near Hit" keeps the town — and, for a case-sensitive hit, only at the start of a
  sentence or line, where its capital says nothing ("Hit by shells, …"; "driven out of Hit by Iraqi
  forces" keeps it);
- a term bound to a gazetteer place (``geonames_id``) whose context words are missing is still accepted
  when the place tagger resolved that very mention to that place: ``match(text, places)`` with the
  places tagged in the same text (any that overlaps the hit counts). Negative context still vetoes;
- a case-sensitive acronym of up to three capitals between other capitalised words (a shouted
  headline: ``WHAT IS NEXT``) does not count;
- a case-sensitive alias that is one capitalised common word (``Hit``; ``common_words`` of
  ``data/toponyms.yaml``) does not count where its capital says nothing about the name: in a
  title-case run (``Mortar Rounds Hit Baghdad's Green Zone``) or as the first word of another name
  (``Hit Factory``); :func:`~newswatch.processor.automaton.titled` says which neighbours make one.

Context words are case- and accent-insensitive; a trailing ``*`` makes one a prefix. Offsets in
:class:`Match` are code points into the ORIGINAL text; boilerplate footers are never matched. A match
nested inside a longer match of the same term is dropped. ``match`` never raises for any ``str``.
Instances are immutable: swap a new one in to reload.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from sys import intern
from typing import Any, NamedTuple, Protocol

from newswatch_native import snippets as native_snippets

from newswatch.processor.automaton import (
    CONTEXT_MISSING,
    CONTEXT_OK,
    CONTEXT_VETOED,
    ContextWords,
    Probe,
    Rule,
    build_engine,
    prepare,
    sentence_start,
    shouted,
    title_word,
    titled,
)
from newswatch.processor.normalize import FoldedText, fold, mask_boilerplate
from newswatch.v1.watchlist_pb2 import Term, Watchlist

__all__ = [
    "AutomatonMatcher",
    "Match",
    "Matcher",
    "RegexMatcher",
    "ResolvedPlace",
    "alias_pattern",
    "build_matcher",
    "context_pattern",
    "phrase_key",
    "snippet",
    "snippets",
]

SNIPPET_CHARS = 80
_SEP = re.compile(r"[\s\-]+")


class Match(NamedTuple):
    """One occurrence of a watch-list term in ``source`` (the text given to ``match``).

    ``matched_text`` (``source[start:end]``) and ``snippet`` are computed when read: matching many
    texts stays cheap for callers that only count or score matches.
    """

    watchlist_id: str
    term_id: str
    term_label: str
    kind: str
    weight: float
    start: int
    end: int
    source: str

    @property
    def matched_text(self) -> str:
        return self.source[self.start : self.end]

    @property
    def snippet(self) -> str:
        return snippet(self.source, self.start, self.end)

    def __repr__(self) -> str:
        return (
            f"Match({self.watchlist_id!r}, {self.term_id!r}, {self.matched_text!r}, {self.start}, {self.end})"
        )


class ResolvedPlace(Protocol):
    """A place the tagger resolved in the text being matched (``places.PlaceMatch`` is one): code-point
    offsets into that text and the GeoNames id it resolved to."""

    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def geonames_id(self) -> str: ...


class Matcher(Protocol):
    """Finds watch-list terms in text. Implementations are immutable and safe to share."""

    def match(self, text: str, places: Sequence[ResolvedPlace] = ()) -> list[Match]:
        """Every match in ``text``, ordered by (start, watchlist_id, term_id). ``places``: the places
        tagged in ``text``, which stand in for the context words of terms bound to them. Never raises."""
        ...


def _resolved(places: Sequence[ResolvedPlace], geonames_id: str, start: int, end: int) -> bool:
    """Whether a place resolved to ``geonames_id`` overlaps ``[start, end)``."""
    return bool(geonames_id) and any(
        p.geonames_id == geonames_id and p.start < end and start < p.end for p in places
    )


def phrase_key(alias: str) -> str:
    """The lookup key of a phrase: runs of spaces and hyphens become one space."""
    return _SEP.sub(" ", alias).strip()


def alias_pattern(keys: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern for all whole-word phrases (``phrase_key`` form), factored as a prefix trie.

    At each position the longest phrase that ends on a word boundary wins; a space in a key matches
    any run of spaces and hyphens.
    """
    trie: dict[str, Any] = {}
    for key in keys:
        node = trie
        for char in key:
            node = node.setdefault(char, {})
        node[""] = {}
    if not trie:
        return None
    return re.compile(rf"(?<!\w)(?:{_trie_regex(trie)})(?!\w)")


def _trie_regex(node: dict[str, Any]) -> str:
    branches = [
        (r"[\s\-]+" if char == " " else re.escape(char)) + _trie_regex(child)
        for char, child in sorted(node.items())
        if char
    ]
    if not branches:
        return ""
    if len(branches) == 1 and "" not in node:
        return branches[0]
    return "(?:" + "|".join(branches) + ")" + ("?" if "" in node else "")


def context_pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    """Case-folded whole words or phrases; ``word*`` is a prefix."""
    alts: list[str] = []
    for word in words:
        prefix = word.endswith("*")
        key = phrase_key(fold(word.rstrip("*")).text)
        if not key:
            continue
        body = r"[\s\-]+".join(re.escape(w) for w in key.split(" "))
        alts.append(body + (r"\w*" if prefix else ""))
    if not alts:
        return None
    return re.compile(rf"(?<!\w)(?:{'|'.join(sorted(set(alts), key=len, reverse=True))})(?!\w)")


def snippet(text: str, start: int, end: int, width: int = SNIPPET_CHARS) -> str:
    """The match with about ``width`` characters either side, whitespace collapsed."""
    lo, hi = max(0, start - width), min(len(text), end + width)
    if lo > 0:
        space = text.find(" ", lo, start)
        lo = space + 1 if space != -1 else lo
    if hi < len(text):
        space = text.rfind(" ", end, hi)
        hi = space if space != -1 else hi
    body = " ".join(text[lo:hi].split())
    return ("…" if lo > 0 else "") + body + ("…" if hi < len(text) else "")


def snippets(text: str, spans: Sequence[tuple[int, int]], width: int = SNIPPET_CHARS) -> list[str]:
    """``[snippet(text, start, end, width) for start, end in spans]``, made in one compiled call
    (:func:`snippet` is the definition; tests compare the two). Raises ``ValueError`` for a span that
    is not ``0 <= start <= end <= len(text)`` (a match's offsets always are)."""
    return native_snippets(text, list(spans), width)


@dataclass(frozen=True, slots=True)
class _Rule:
    watchlist_id: str
    term: Term
    window: int
    context: re.Pattern[str] | None
    negative: re.Pattern[str] | None
    own: re.Pattern[str] | None  # negative words naming the term: they veto an overlapped hit only
    titled: bool  # a case-sensitive alias is a capitalised common word (see the module docstring)


class RegexMatcher:
    """Reference :class:`Matcher`: two combined patterns plus per-term context rules (slow with many
    terms: the pattern is a trie of every alias)."""

    def __init__(self, watchlists: Sequence[Watchlist]) -> None:
        self.watchlists: tuple[Watchlist, ...] = tuple(watchlists)
        self._insensitive: dict[str, list[_Rule]] = {}
        self._sensitive: dict[str, list[_Rule]] = {}
        for watchlist in self.watchlists:
            for term in watchlist.terms:
                others, own = own_words(term)
                rule = _Rule(
                    watchlist.watchlist_id,
                    term,
                    int(term.context_window_chars),
                    context_pattern(term.context_words),
                    context_pattern(others),
                    context_pattern(own),
                    _title_term(term),
                )
                for alias in term.aliases:
                    key = phrase_key(fold(alias).text)
                    if key:
                        self._insensitive.setdefault(key, []).append(rule)
                for alias in term.case_sensitive_aliases:
                    key = phrase_key(fold(alias, casefold=False).text)
                    if key:
                        self._sensitive.setdefault(key, []).append(rule)
        self._insensitive_rx = alias_pattern(self._insensitive)
        self._sensitive_rx = alias_pattern(self._sensitive)

    def match(self, text: str, places: Sequence[ResolvedPlace] = ()) -> list[Match]:
        masked = mask_boilerplate(text)
        lower = fold(masked)
        found: dict[tuple[str, str, int, int], Match] = {}
        passes = (
            (self._insensitive_rx, self._insensitive, lower),
            (self._sensitive_rx, self._sensitive, None),
        )
        for pattern, rules, view in passes:
            if pattern is None:
                continue
            view = view or fold(masked, casefold=False)
            for hit in pattern.finditer(view.text):
                start, end = view.span(hit.start(), hit.end())
                if view is not lower and shouted(masked, start, end):
                    continue
                for rule in rules.get(phrase_key(hit.group()), ()):
                    key = (rule.watchlist_id, rule.term.term_id, start, end)
                    if key in found:
                        continue
                    if view is not lower and rule.titled and titled(masked, start, end):
                        continue
                    own = view is lower or (rule.own is not None and sentence_start(masked, start))
                    verdict = _context_verdict(rule, lower, start, end, own)
                    if verdict != CONTEXT_OK and (
                        verdict == CONTEXT_VETOED or not _resolved(places, rule.term.geonames_id, start, end)
                    ):
                        continue
                    found[key] = Match(
                        watchlist_id=rule.watchlist_id,
                        term_id=rule.term.term_id,
                        term_label=rule.term.label or rule.term.term_id,
                        kind=rule.term.kind or "keyword",
                        weight=rule.term.weight,
                        start=start,
                        end=end,
                        source=text,
                    )
        return _outermost(found.values())


def _outermost(matches: Iterable[Match]) -> list[Match]:
    """Drop matches lying inside a longer match of the same term ("Islamic State" in "... of Iraq")."""
    ordered = sorted(matches, key=lambda m: (m.start, -m.end, m.watchlist_id, m.term_id))
    kept: list[Match] = []
    reach: dict[tuple[str, str], int] = {}
    for m in ordered:
        key = (m.watchlist_id, m.term_id)
        if reach.get(key, -1) >= m.end:
            continue
        reach[key] = max(reach.get(key, -1), m.end)
        kept.append(m)
    return sorted(kept, key=lambda m: (m.start, m.watchlist_id, m.term_id, m.end))


def _context_verdict(rule: _Rule, lower: FoldedText, start: int, end: int, own: bool = True) -> int:
    """``CONTEXT_VETOED`` / ``CONTEXT_MISSING`` / ``CONTEXT_OK`` (see :mod:`.automaton`); ``own``:
    whether the negative words naming the term apply to this hit."""
    if rule.context is None and rule.negative is None and rule.own is None:
        return CONTEXT_OK
    fstart, fend = lower.position(start), lower.position(end)
    lo, hi = max(0, fstart - rule.window), min(len(lower.text), fend + rule.window)
    if rule.negative is not None:
        for neg in rule.negative.finditer(lower.text, lo, hi):
            if not (fstart <= neg.start() and neg.end() <= fend):
                return CONTEXT_VETOED
    if rule.own is not None and own:
        for neg in rule.own.finditer(lower.text, lo, hi):
            inside = fstart <= neg.start() and neg.end() <= fend
            if not inside and neg.start() < fend and fstart < neg.end():
                return CONTEXT_VETOED
    if rule.context is None or any(
        not (fstart <= ctx.start() and ctx.end() <= fend) for ctx in rule.context.finditer(lower.text, lo, hi)
    ):
        return CONTEXT_OK
    return CONTEXT_MISSING


def own_words(term: Term) -> tuple[list[str], list[str]]:
    """The term's negative words split into the others and those naming the term itself: their folded
    words hold one of its aliases' folded words in a row ("hit by" and "hit-and-run" name ``Hit``)."""
    if not term.negative_context:
        return [], []  # most terms: no alias folded for nothing (a build of the whole gazetteer)
    names = [phrase_key(fold(alias).text).split() for alias in (*term.aliases, *term.case_sensitive_aliases)]
    others: list[str] = []
    own: list[str] = []
    for word in term.negative_context:
        words = phrase_key(fold(word.rstrip("*")).text).split()
        named = any(
            name and any(words[i : i + len(name)] == name for i in range(len(words) - len(name) + 1))
            for name in names
        )
        (own if named else others).append(word)
    return others, own


def _title_term(term: Term) -> bool:
    """Whether a case-sensitive alias of ``term`` is a capitalised common word (its hits are checked
    for capitals that say nothing: :func:`~newswatch.processor.automaton.titled`)."""
    return any(title_word(alias) for alias in term.case_sensitive_aliases)


def _context_words(words: Iterable[str]) -> list[tuple[str, bool]]:
    """``(folded phrase key, is prefix)`` of context words, as :func:`context_pattern` reads them."""
    out: list[tuple[str, bool]] = []
    for word in words:
        key = phrase_key(fold(word.rstrip("*")).text)
        if key:
            out.append((key, word.endswith("*")))
    return out


class AutomatonMatcher:
    """The :class:`Matcher` to use: one automaton over every alias of every watch list, the term
    rules of the module docstring applied to each selected hit — all in compiled code
    (:func:`newswatch.processor.automaton.build_engine`), which also builds the :class:`Match` tuples.

    Building takes ~0.5 s for 10,000 terms (~12 s for 400,000 aliases; the first build of a process
    also makes the per-character tables, ~0.3 s); build a new instance off to the side and swap it in
    to reload. ``size`` is the number of distinct keys. ``match`` hands most texts to the engine as
    they are (boilerplate masked there, ``Engine.match_text``) and releases the GIL while the text is
    masked, projected and scanned; one instance may serve several threads.
    ``anchored_above``: see :func:`~newswatch.processor.automaton.build_engine` (tests set 0 to take
    the path of large key sets with few keys).
    """

    def __init__(self, watchlists: Sequence[Watchlist], *, anchored_above: int | None = None) -> None:
        self.watchlists: tuple[Watchlist, ...] = tuple(watchlists)
        contexts: dict[ContextWords, int] = {}
        heads: list[tuple[str, str, str, str, float]] = []
        rules: list[tuple[int, int, str, bool]] = []  # context index, window, place id, titled
        entries: list[tuple[str, bool, int]] = []
        weights: dict[float, float] = {}  # one float object per weight: fewer objects to touch per match
        for watchlist in self.watchlists:
            watchlist_id = intern(watchlist.watchlist_id)  # one string for every match of the list
            for term in watchlist.terms:
                others, own = own_words(term)
                words = (
                    tuple(_context_words(term.context_words)),
                    tuple(_context_words(others)),
                    tuple(_context_words(own)),
                )
                context = contexts.setdefault(words, len(contexts)) if any(words) else -1
                needs_context = context >= 0 and any(words[0])
                heads.append(
                    (watchlist_id, term.term_id, term.label or term.term_id, intern(term.kind or "keyword"),
                     weights.setdefault(term.weight, term.weight))
                )  # fmt: skip
                rules.append(
                    (
                        context,
                        int(term.context_window_chars),
                        term.geonames_id if needs_context else "",
                        _title_term(term),
                    )
                )
                rule = len(heads) - 1
                entries += [(phrase_key(fold(a).text), False, rule) for a in term.aliases]
                entries += [
                    (phrase_key(fold(a, casefold=False).text), True, rule)
                    for a in term.case_sensitive_aliases
                ]
        self._engine = build_engine(
            Match, heads, entries, list(contexts), _term_rules(heads, rules, entries), anchored_above
        )
        self._cased = self._engine.needs_cased
        self.size = len({(key, sensitive) for key, sensitive, _ in entries if key})

    def match(self, text: str, places: Sequence[ResolvedPlace] = ()) -> list[Match]:
        if not text:
            return []
        spans = [(p.start, p.end, p.geonames_id) for p in places] if places else []
        found = self._engine.match_text(text, spans, Probe)
        if found is not None:  # masked and matched in one call (no folding needed)
            return found
        masked = mask_boilerplate(text)
        source, cased, folded = prepare(masked, self._cased)
        return self._engine.match(
            source, cased, folded is not None, masked, text, spans, Probe(masked, folded)
        )


def _term_rules(
    heads: list[tuple[str, str, str, str, float]],
    rules: list[tuple[int, int, str, bool]],
    entries: list[tuple[str, bool, int]],
) -> list[Rule]:
    """The engine's rules: each with its rank (order of (watch list id, term id)), whether its
    selected hits can never nest (all keys of its term in one letter-case class, none twice: then no
    nesting check is needed) and whether its case-sensitive hits are checked for title-case runs."""
    terms = sorted({head[:2] for head in heads})
    rank = {term: n for n, term in enumerate(terms)}
    classes: dict[tuple[str, str], set[bool]] = {}
    seen: set[tuple[str, bool, str, str]] = set()
    shared: set[tuple[str, str]] = set()
    for key, sensitive, rule in entries:
        term = heads[rule][:2]
        classes.setdefault(term, set()).add(sensitive)
        if (key, sensitive, *term) in seen:
            shared.add(term)
        seen.add((key, sensitive, *term))
    shared |= {term for term, kinds in classes.items() if len(kinds) > 1}
    return [
        (context, window, place_id, head[:2] not in shared, rank[head[:2]], titled)
        for head, (context, window, place_id, titled) in zip(heads, rules, strict=True)
    ]


def build_matcher(watchlists: Sequence[Watchlist]) -> Matcher:
    """The matcher for ``watchlists`` (build a new one when they change and swap it in)."""
    return AutomatonMatcher(watchlists)

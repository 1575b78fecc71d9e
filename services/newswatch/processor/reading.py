"""Reading cues: what the words around each candidate toponym say about it (rules 1 and 2 of
:mod:`newswatch.processor.resolve`, which documents them).

:class:`Reader` turns the :class:`~newswatch.processor.toponyms.Mention` objects of one field into
:class:`Candidate` objects, dropping the mentions that read as a person's name or as part of another
name. What a key implies in any article comes from :mod:`newswatch.processor.keyfacts`; facts about
the article's text from :mod:`newswatch.processor.textfacts`. Around a mention, the word before and
the word after are read within 48 characters with anchored regular expressions (the word before on
the reversed text, so no search runs over the window), and what a word says as a cue (a person
title, a speech verb, a place word ...) is looked up once per distinct word and kept (bounded).

The same rules run in native code (:class:`newswatch_native.PlaceReader`, driven by
:meth:`newswatch.processor.resolve.Resolver.matches`): :class:`Reader` is their definition, and
:class:`Probe` answers what the native reader leaves to Python (words with non-ASCII characters, a
place word before "of" where one beyond ASCII may stand, "Name, " before an abbreviation, short
capitals in non-ASCII text). ``OF_WORDS``, ``TO_WORD`` and ``POSSESSIVE_ENDINGS`` are handed to the
native reader from here.

Pure and deterministic; never raises for any input. Thread-safe (caches are dictionaries replaced
when full).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from newswatch.processor.gazetteer import GazetteerIndex
from newswatch.processor.keyfacts import KeyFactsCache, Readings
from newswatch.processor.overrides import Cues
from newswatch.processor.textfacts import Article, sentence_initial, shouted_nearby
from newswatch.processor.toponyms import Mention

__all__ = ["CACHE_WORDS", "OF_WORDS", "POSSESSIVE_ENDINGS", "TO_WORD", "Candidate", "Probe", "Reader"]

CACHE_WORDS = 8_192  # distinct words before and after names whose cues are kept (each side)
_WINDOW = 48
# The word before a name and the spaces between, matched on the reversed text before the name.
_PREV_REVERSED = re.compile(r"([ \t]+)([\w.'’]*[^\W_])")
_NEXT = re.compile(r"([ \t]+)([^\W_][\w'’]*)")
_AFTER_NAME_COMMA = re.compile(r"[^\W\d_]\.?[ \t]*,[ \t]*$")
# "according to" before a name, read backwards: (?i)\baccording to\s+$
_ACCORDING_REVERSED = re.compile(r"(?i)\s+ot gnidrocca(?!\w)")
_AGE = re.compile(r",\s*\d{1,3}\s*,")
# A residence after a person's age, read backwards: "Joyce Glover, 22, Palestine", "Smith, 49, of Paris"
_RESIDENCE_REVERSED = re.compile(r"[ \t]*(?:fo[ \t]+)?,[ \t]*\d{1,3}[ \t]*,")
OF_WORDS = frozenset(["of", "de", "d'", "du"])  # "the town of", "la ville de" ...
_OF_REVERSED = frozenset(w[::-1] for w in OF_WORDS)
_SPACES = (" ", "\t")
_WORDLIKE = re.compile(r"\w")
POSSESSIVE_ENDINGS = ("'s", "’s")
TO_WORD = "to"  # of "according to"
# The word before a name: (the word in lower case without final dots, capitalised and neither a
# sentence word, a modifier nor a possessive, person title, given name, speech verb, preposition,
# may end "the town of", may end "according to"). Without a word after spaces, the last two are
# unknown (True): the regular expressions decide.
_Before = tuple[str, bool, bool, bool, bool, bool, bool, bool]
_NO_WORD_BEFORE: _Before = ("", False, False, False, False, False, False, False)
_UNKNOWN_WORD_BEFORE: _Before = ("", False, False, False, False, False, True, True)
# The word after a name: (capitalised, name suffix, institution, speech verb, place word, local word).
_After = tuple[bool, bool, bool, bool, bool, bool]
_NO_WORD_AFTER: _After = (False, False, False, False, False, False)


class Candidate:
    """A mention that the reading cues keep, with what its surroundings say. Whether it starts a
    sentence and whether its line is title case (or shouted) are read on first use: few need it."""

    __slots__ = (
        "_initial", "_loose", "article", "big", "city", "common", "field", "local", "mention", "options",
        "pair_bonus", "place_word", "prep", "quiet", "readings",
    )  # fmt: skip

    def __init__(
        self, field: int, mention: Mention, readings: Readings, article: Article, prep: bool,
        place_word: bool, common: bool, quiet: bool, local: bool, initial: bool | None, loose: bool | None,
    ) -> None:  # fmt: skip
        self.field = field
        self.mention = mention
        self.readings = readings
        self.options = readings.options
        self.big = readings.big
        self.article = article
        self.prep = prep  # a locative preposition before: "in X"
        self.place_word = place_word  # "the town of X", "X province"
        self.common = common  # a common word here: needs evidence
        self.quiet = quiet  # context only, never reported (a demonym when demonyms are off)
        self.local = local  # a local institution follows: "Jordan Elementary", "Berea police"
        self.pair_bonus: dict[int, float] = {}  # entry index -> bonus for "X, Y" pairs
        self.city = mention.key.endswith(" City")  # "Dublin City": maybe the town's council
        self._initial = initial
        self._loose = loose

    def initial(self) -> bool:
        """Whether the mention starts a sentence or a line."""
        if self._initial is None:
            self._initial = sentence_initial(self.article.texts[self.field], self.mention.start)
        return self._initial

    def loose(self) -> bool:
        """Whether capitalisation says nothing here: shouted, or a title-case line."""
        if self._loose is None:
            self._loose = self.article.title_line(self.field, self.mention.start)
        return self._loose


class Reader:
    """Reads the mentions of one field. Immutable apart from its caches; share one instance."""

    def __init__(self, index: GazetteerIndex, cues: Cues) -> None:
        self.index = index
        self.cues = cues
        self.keys = KeyFactsCache(index, cues)
        self._befores: dict[str, _Before] = {}  # reversed word -> what it says before a name
        self._afters: dict[str, _After] = {}
        self._place_before = _place_words_reversed(cues.place_words)

    def _before(self, token: str) -> _Before:
        """What the word before a name says; ``token`` is that word reversed (cached)."""
        known = self._befores.get(token)
        if known is None:
            cues = self.cues
            word = token[::-1].rstrip(".").lower()
            known = (
                word,
                token[-1].isupper()
                and word not in cues.sentence_words
                and word not in cues.modifiers
                and not word.endswith(POSSESSIVE_ENDINGS),  # possessive: "Iraq's Mosul"
                word in cues.person_titles,
                word in cues.first_names,
                word in cues.speech_verbs,
                word in cues.prepositions,
                token.lower() in _OF_REVERSED,
                token.lower() == TO_WORD[::-1],
            )
            if len(self._befores) >= CACHE_WORDS:
                self._befores = {}
            self._befores[token] = known
        return known

    def _after(self, token: str) -> _After:
        """What the word after a name says (cached)."""
        known = self._afters.get(token)
        if known is None:
            cues = self.cues
            word = token.lower()
            known = (
                token[0].isupper(),
                word in cues.name_suffixes,
                word in cues.institution_words,
                word in cues.speech_verbs,
                word in cues.place_words,
                word in cues.local_words,
            )
            if len(self._afters) >= CACHE_WORDS:
                self._afters = {}
            self._afters[token] = known
        return known

    def read(
        self, field: int, article: Article, mentions: Sequence[Mention], persons: set[str], demonyms: bool
    ) -> list[Candidate]:
        """Candidates of one field after the reading cues; keys read as persons go to ``persons``.

        The words around a mention are read within ``_WINDOW`` characters; what precedes it is
        matched on the reversed text (``rev[size - start:]`` reads backwards from the mention).
        """
        text = article.texts[field]
        rev = article.reversed(field)
        size = len(text)
        known, befores, afters = self.keys.known, self._befores, self._afters
        out: list[Candidate] = []
        ends: set[int] = set()  # ends of the mentions kept so far
        for m in mentions:
            start, end = m.start, m.end
            facts = known.get(m.number) or self.keys.facts(m.key, m.number)
            lo = start - _WINDOW if start > _WINDOW else 0
            stop = size - lo  # the window's far end in ``rev``
            # The word before, when spaces (not a line break) separate it from the name. ("$" of a
            # regular expression matches before a final line break too: so does this.)
            at = size - start + 1 if start > lo and text[start - 1] == "\n" else size - start
            before = _UNKNOWN_WORD_BEFORE  # no word, or not after spaces
            if at < stop and rev[at] in _SPACES:
                found = _PREV_REVERSED.match(rev, at, stop)
                if found:
                    token = found.group(2)
                    if token[0] == "." and len(token) > 5:  # "... president. Cincinnati"
                        before = _NO_WORD_BEFORE
                    else:
                        before = befores.get(token) or self._before(token)
                        if before[1] and (start - found.start(2) + at) in ends:
                            before = (*before[:1], False, *before[2:])  # the name before is a place
            after = _NO_WORD_AFTER
            next_word = False  # a word follows, after spaces
            if end < size and text[end] in _SPACES:
                found = _NEXT.match(text, end, end + _WINDOW)
                if found:
                    token = found.group(2)
                    after = afters.get(token) or self._after(token)
                    next_word = True
            _, names_before, title, first_name_before, speech_before, prep, of_before, to_before = before
            upper_next, suffix, institution, speech_after, place_after, local = after
            if not local and text.rfind(",", start - 6 if start > 6 else 0, start) != -1:
                local = _RESIDENCE_REVERSED.match(rev, size - start, stop) is not None  # a home town
            readings = facts.every
            if readings is not facts.plain and not _after_name_comma(text[lo:start]):
                readings = facts.plain
            if not readings.options or suffix:
                continue  # "West Nile virus", "Reston ebolavirus"
            loose = True if m.shouted else None  # a title-case line: read when needed
            person = title
            if names_before:  # a capitalised word before
                if loose is None:
                    loose = article.title_line(field, start)
                if not loose and not first_name_before:
                    continue  # inside another name: "Air France", "Wells Fargo"
                person = person or not loose
            if not person and facts.first_name and next_word:
                if loose is None:
                    loose = article.title_line(field, start)
                if not loose:
                    person = upper_next and not institution
            big = readings.big
            if not person and facts.single and not big and not readings.capital:  # "Moscow said" is the state
                person = (
                    speech_after
                    or (
                        not upper_next  # the name ends here
                        and (
                            speech_before
                            or (
                                to_before  # "according to X"
                                and _ACCORDING_REVERSED.match(rev, size - start, stop) is not None
                            )
                        )
                    )
                    or (end < size and text[end] == "," and _AGE.match(text, end, end + _WINDOW) is not None)
                )
            if person:  # a person's name here, and (one sense per article) everywhere else
                if not big:
                    persons.add(m.key)
                continue
            if (
                not m.shouted
                and end - start <= 3
                and text[start:end].isupper()
                and shouted_nearby(text, start, end)
            ):
                continue
            initial = None
            common = facts.common_word
            # "Cottage prices rose. The cottage sold": a capital that only starts a sentence or a
            # title-case line, of a word the article also writes in lower case
            if not common and facts.single and article.lower_case.get(facts.lower) is not False:
                initial = sentence_initial(text, start)
                if not initial and loose is None:
                    loose = article.title_line(field, start)
                common = (initial or bool(loose)) and article.uses_in_lower_case(facts.lower)
            ends.add(end)
            out.append(
                Candidate(
                    field, m, readings, article, prep,
                    place_after
                    or (of_before and self._place_before.match(rev, size - start, stop) is not None),
                    common, facts.demonym and not demonyms, local, initial, loose,
                )
            )  # fmt: skip
        return out


class Probe:
    """What the native reader (:class:`newswatch_native.PlaceReader`) asks of Python about one
    article (``field``: the index of a text): the words with non-ASCII characters, a place word
    before "of" where the native reader cannot tell, "Name, " before an abbreviation, and short
    capitals in non-ASCII text."""

    __slots__ = ("article", "reader")

    def __init__(self, article: Article, reader: Reader) -> None:
        self.article = article
        self.reader = reader

    def _window(self, field: int, start: int) -> tuple[str, str, int, int]:
        """The field, its reverse, where ``start`` is in the reverse and where the window ends."""
        text = self.article.texts[field]
        lo = start - _WINDOW if start > _WINDOW else 0
        return text, self.article.reversed(field), len(text) - start, len(text) - lo

    def before(self, token: str) -> _Before:
        return self.reader._before(token)

    def after(self, token: str) -> _After:
        return self.reader._after(token)

    def place_before(self, field: int, start: int) -> bool:
        _, rev, at, stop = self._window(field, start)
        return self.reader._place_before.match(rev, at, stop) is not None

    def after_name_comma(self, field: int, start: int) -> bool:
        text = self.article.texts[field]
        return _after_name_comma(text[start - _WINDOW if start > _WINDOW else 0 : start])

    def short_caps(self, field: int, start: int, end: int) -> bool:
        text = self.article.texts[field]
        return text[start:end].isupper() and shouted_nearby(text, start, end)


def _place_words_reversed(words: Iterable[str]) -> re.Pattern[str]:
    """Matches the reversed text before a name that ends in a place word and "of" ("town of", "ville
    de"): ``(?i)\\b(?:WORDS)\\s+(?:of|de|d'|du)\\s*$`` read backwards, the word boundary included."""
    words = sorted(words, key=len, reverse=True)
    wordlike = "|".join(re.escape(w[::-1]) for w in words if _WORDLIKE.match(w))
    other = "|".join(re.escape(w[::-1]) for w in words if not _WORDLIKE.match(w))
    boundaries = [f"(?:{wordlike})(?!\\w)" if wordlike else "", f"(?:{other})(?=\\w)" if other else ""]
    of = "|".join(re.escape(w) for w in sorted(_OF_REVERSED))
    return re.compile(rf"(?i)\s*(?:{of})\s+(?:{'|'.join(b for b in boundaries if b)})")


def _after_name_comma(before: str) -> bool:
    """Whether ``before`` ends in "Name, " (where a state abbreviation may follow)."""
    tail = before[:-1] if before[-1:] == "\n" else before
    return tail.rstrip(" \t").endswith(",") and _AFTER_NAME_COMMA.search(before) is not None

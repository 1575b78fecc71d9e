"""Compiled core of the newswatch keyword matcher (see ``newswatch.processor.automaton``)."""

from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

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
    - ``contexts[c]``: ``(patterns, words per pattern as (exact or None, gaps, prefix, negative, own),
      needs_context)``; an ``own`` (negative) word counts only where it overlaps the hit.
    - ``rules[r]``: ``(context index or -1, window chars, place id or "", exclusive, rank, titled)``;
      equal ranks for one (watch list, term), ranks ordered as those pairs; ``titled``: its
      case-sensitive hits are dropped where ``probe.titled(start, end)`` says so (asked only when
      a space and a capital or a non-ASCII character follow the hit).
    - ``anchored_above``: above this many pattern bytes (default: 2,000,000), names that can only
      start at some word starts (a capital, a non-ASCII letter) are found by hash lookups from those
      starts instead of the scan of every byte; the results are the same either way.
    - ``char_tables``: per character of the Basic Multilingual Plane (65,536 bytes each): its raw
      stand-in byte, flags (1: it has one, 2: ``str.isspace``, 4: regular-expression ``\\w``, 8:
      ``\\d``) and the lower-case ASCII letter or 0xE9 ("é") it matches under ``re.IGNORECASE``
      (``automaton.char_tables``); without them ``match_text`` always returns None.
    - ``title_words``: ``(common words, place words)`` in lower case, the lists of ``automaton.titled``:
      with them the engine decides that check itself where the words around a hit are ASCII (without
      them, or around other characters, ``probe.titled`` answers).

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
        contexts: Sequence[tuple[Sequence[bytes], Sequence[Sequence[tuple[str | None, bool, bool, bool, bool]]], bool]],
        rules: Sequence[tuple[int, int, str, bool, int, bool]],
        anchored_above: int = ...,
        char_tables: tuple[bytes, bytes, bytes] | None = None,
        title_words: tuple[Sequence[str], Sequence[str]] | None = None,
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

    def match_text(
        self, text: str, places: Sequence[tuple[int, int, str]], probe_class: Callable[[str, None], Probe]
    ) -> list[_T] | None:
        """``match`` of ``text`` as given: its boilerplate footers masked as
        ``normalize.mask_boilerplate`` masks them and its raw stand-in bytes made here, in one call
        (the GIL released while it masks, projects and scans); ``probe_class(masked text, None)``
        makes the probe when a check needs one. None when the text must be folded first (a character
        with no raw stand-in, or outside the BMP) or without ``char_tables``: then mask, prepare and
        call ``match``."""

    def boilerplate_spans(self, text: str) -> list[tuple[int, int]] | None:
        """``normalize.boilerplate_spans(text)``, computed here (None without ``char_tables`` or for a
        text with characters outside the BMP)."""

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

def equal_bins(a: bytes, b: bytes, /) -> int:
    """How many 2-byte bins of two signatures are equal (0 when the lengths differ or are odd)."""

def band_keys(sig: bytes, bands: int, band_bytes: int, /) -> list[int]:
    """Per band ``b < bands``: ``int.from_bytes(sig[b * band_bytes : (b + 1) * band_bytes], "little") |
    b << 8 * band_bytes``. Raises ValueError unless ``1 <= band_bytes <= 7`` and ``bands <= 255``."""

def snippets(text: str, spans: list[tuple[int, int]], width: int, /) -> list[str]:
    """``[keywords.snippet(text, start, end, width) for start, end in spans]`` (code-point offsets).
    Raises ValueError for a span that is not ``0 <= start <= end <= len(text)``."""

class EntryWriter:
    """Protobuf wire bytes of a message's repeated ``matches`` and ``places`` entries (the
    ``EnrichedArticle`` layout), to merge with ``MergeFromString``: the message equals the one built
    by ``add`` per entry. The field numbers come from the generated descriptors, the item positions
    from the tuples' ``_fields``; nothing is known here. Immutable; thread-safe.

    - ``places_number``: the repeated place field; ``place_numbers``: name, matched_text, geonames_id,
      country_code (strings), field (enum), start, end (``uint32``); ``place_items``: the tuple
      positions of name, matched_text, geonames_id, country_code, start, end.
    - ``matches_number``: the repeated match field; ``match_numbers``: watchlist_id, term_id,
      term_label, kind, matched_text (strings), field (enum), start, end (``uint32``), snippet (string);
      ``match_items``: the tuple positions of watchlist_id, term_id, term_label, kind, start, end.

    Raises ValueError for a field number outside 1..2**29-1 or repeated within its message; the
    methods raise OverflowError for a ``field`` outside ``int32`` (``add`` raises ValueError).
    """

    def __init__(
        self,
        places_number: int,
        place_numbers: Sequence[int],
        place_items: Sequence[int],
        matches_number: int,
        match_numbers: Sequence[int],
        match_items: Sequence[int],
    ) -> None: ...
    def places(self, places: Sequence[tuple[object, ...]], field: int, /) -> bytes | None:
        """The entries of ``places`` (one text field's, ``field`` its ``TextField``), in order. None when
        an item cannot be written as ``add`` writes it (not a str or an int, a lone surrogate, an offset
        outside ``uint32``): then ``add`` them."""

    def matches(
        self, text: str, field: int, found: Sequence[tuple[object, ...]], width: int, /
    ) -> bytes | None:
        """The entries of ``found`` (matches in ``text``, ``field`` its ``TextField``), in order, with
        ``matched_text = text[start:end]`` and ``snippet = keywords.snippet(text, start, end, width)``
        (code points); ``b""`` when ``found`` is empty. None when ``text`` or an item cannot be written
        as ``add`` writes it (a lone surrogate, a span not ``0 <= start <= end <= len(text)``, an item
        of another type): then ``add`` them."""

class PlaceNames:
    """Every gazetteer key in one Aho-Corasick automaton (key ``k`` is ``keys[k]``), and the whole
    toponym scan of ``newswatch.processor.toponyms`` per text. Immutable; thread-safe. Raises
    ValueError when the automaton cannot be built."""

    def __init__(self, keys: Sequence[str]) -> None: ...
    def __len__(self) -> int: ...
    @property
    def max_key_chars(self) -> int:
        """The length of the longest key in code points."""

    def find(self, text: str, /) -> list[tuple[int, int, int]]:
        """Every occurrence of every key, overlapping, as ``(key number, start, end)`` in code points.
        Raises UnicodeEncodeError for lone surrogates. The GIL is released."""

    def scan(self, text: str, alnum: str, factory: type[_T], /) -> list[_T]:
        """The mentions of ``text`` (folded, case kept, separators as spaces) as ``factory`` tuples
        ``(start, end, key, number, shouted)`` in code points, in order, non-overlapping: key
        occurrences on word boundaries, runs of capitals read title-cased, leftmost-longest.
        ``alnum``: the non-ASCII characters of ``text`` that are letters or digits (``str.isalnum``).
        Raises UnicodeEncodeError for lone surrogates. The GIL is released while the text is scanned."""

def caps_runs_of(text: str, /) -> list[tuple[int, int]]:
    """Spans of the runs of capitals that the scan title-cases (``toponyms._CAPS_RUN``, found where
    two capitals follow a non-letter)."""

class PlaceReadings:
    """The options of a key under one reading: ``scored`` as ``(entry index, how, prior, big kind,
    weak)``, the subdivision numbers of the options (0 left out), a country among them, a big place
    (country, subdivision, continent, region, demonym) among them, a capital among them."""

    def __init__(
        self,
        scored: Sequence[tuple[int, int, float, bool, int]],
        admin1s: Sequence[int],
        country: bool,
        big: bool,
        capital: bool,
    ) -> None: ...

class PlaceFacts:
    """What a key implies in any article (``keyfacts.KeyFacts``): the key, its lower case, whether
    that is a word in lower case (``textfacts.lower_case_word``), one word, a common word, a given
    name, a demonym, its readings (``plain`` is ``every`` when the same)."""

    def __init__(
        self,
        key: str,
        lower: str,
        lower_word: bool,
        single: bool,
        common_word: bool,
        first_name: bool,
        demonym: bool,
        every: PlaceReadings,
        plain: PlaceReadings,
    ) -> None: ...

class Limits(Protocol):
    """The thresholds of ``newswatch.processor.resolve`` as attributes."""

    @property
    def admin1_bonus(self) -> float: ...
    @property
    def admin1_possible_bonus(self) -> float: ...
    @property
    def neighbour_bonus(self) -> float: ...
    @property
    def pair_bonus(self) -> float: ...
    @property
    def local_penalty(self) -> float: ...
    @property
    def alt_local_penalty(self) -> float: ...
    @property
    def home_bonus(self) -> float: ...
    @property
    def home_min_names(self) -> int: ...
    @property
    def home_margin(self) -> int: ...
    @property
    def rounds(self) -> int: ...
    @property
    def country_bonuses(self) -> Sequence[float]: ...
    @property
    def small_population(self) -> int: ...
    @property
    def alt_min_population(self) -> int: ...
    @property
    def alt_anywhere_population(self) -> int: ...
    @property
    def weak_always(self) -> int: ...
    @property
    def weak_place_word(self) -> int: ...
    @property
    def possible_max_readings(self) -> int: ...
    @property
    def how_alt(self) -> int: ...

class PlaceResolver:
    """Rules 3 and 4 of ``newswatch.processor.resolve`` (pairs, one sense per name, context scores,
    evidence). ``entries[i]``: ``(kind flags, subdivision number, country number, population)``
    (flags: 1 a town, 2 a first-level subdivision, 4 a country; country numbers in the codes' sort
    order, 0 for none); ``neighbours``: country number -> neighbour numbers. Immutable; thread-safe."""

    def __init__(
        self, entries: Sequence[tuple[int, int, int, int]], neighbours: dict[int, Sequence[int]], limits: Limits
    ) -> None: ...

class ArticleProbe(Protocol):
    """What the reader asks of Python about one article (``reading.Probe``)."""

    def before(self, token: str, /) -> tuple[str, bool, bool, bool, bool, bool, bool, bool]: ...
    def after(self, token: str, /) -> tuple[bool, bool, bool, bool, bool, bool]: ...
    def place_before(self, field: int, start: int, /) -> bool: ...
    def after_name_comma(self, field: int, start: int, /) -> bool: ...
    def short_caps(self, field: int, start: int, end: int, /) -> bool: ...

class Cues(Protocol):
    """The word lists of ``overrides.Cues`` that the reading cues consult (lower case)."""

    @property
    def sentence_words(self) -> frozenset[str]: ...
    @property
    def modifiers(self) -> frozenset[str]: ...
    @property
    def person_titles(self) -> frozenset[str]: ...
    @property
    def first_names(self) -> frozenset[str]: ...
    @property
    def speech_verbs(self) -> frozenset[str]: ...
    @property
    def prepositions(self) -> frozenset[str]: ...
    @property
    def name_suffixes(self) -> frozenset[str]: ...
    @property
    def institution_words(self) -> frozenset[str]: ...
    @property
    def place_words(self) -> frozenset[str]: ...
    @property
    def local_words(self) -> frozenset[str]: ...

class TextRules(Protocol):
    """What ``textfacts`` reads as the native reader does (``textfacts.native_rules``)."""

    @property
    def openers(self) -> str: ...
    @property
    def enders(self) -> str: ...
    @property
    def small_words(self) -> frozenset[str]: ...
    @property
    def title_line_max(self) -> int: ...
    @property
    def of_words(self) -> frozenset[str]: ...
    @property
    def to_word(self) -> str: ...
    @property
    def possessive_endings(self) -> Sequence[str]: ...
    @property
    def place_words(self) -> frozenset[str] | None: ...
    @property
    def wide_place_words(self) -> int: ...
    @property
    def upper(self) -> str: ...
    @property
    def lower(self) -> dict[str, str]: ...

class PlaceReader:
    """Rules 1 and 2 of ``newswatch.processor.resolve`` (``reading.Reader``), then ``resolver``, in one
    call per article, returning ``factory`` tuples. Reads sentence starts, title-case lines, the
    words an article writes in lower case and the cues around a name itself (``rules`` and the
    character tables); asks the probe for the rest (non-ASCII words, see ``ArticleProbe``). Keeps
    the facts of the keys met (bounded). Thread-safe."""

    def __init__(
        self,
        resolver: PlaceResolver,
        cues: Cues,
        rules: TextRules,
        facts_of: Callable[[str, int], PlaceFacts],
        cache_keys: int,
        char_flags: bytes,
        char_letters: bytes,
        factory: type[_T],
        entries: Sequence[object],
        how_demonym: int,
        /,
    ) -> None:
        """``facts_of(key, number)``: the facts of key ``number`` of the index, asked once per key and
        kept (``cache_keys`` at most; the cache is emptied when full); ``char_flags`` and
        ``char_letters``: the flags of each character of the Basic Multilingual Plane and the ASCII
        letter it matches under ``re.IGNORECASE`` (65,536 bytes each: ``automaton.char_tables()``);
        ``factory``: the class of the results, a named tuple of eleven fields (``PlaceMatch``);
        ``entries``: the places of ``resolver`` (objects with ``name``, ``geonames_id``,
        ``country_code``, ``kind``, ``admin1``, ``lat`` and ``lon``); ``how_demonym``: the ``how`` of a
        demonym. Raises ValueError for tables of another size or entries that are not the resolver's."""

    def matches(
        self,
        texts: Sequence[str],
        mentions: Sequence[Sequence[tuple[int, int, str, int, bool]]],
        probe: ArticleProbe,
        demonyms: bool,
        /,
    ) -> list[list[Any]]:
        """The places of an article's fields: per field, ``factory((name, matched_text, geonames_id,
        country_code, kind, start, end, admin1, demonym, lat, lon))`` of each accepted mention, in text
        order (``mentions[f]``: ``(start, end, key, key number, shouted)`` of ``texts[f]``;
        ``demonyms``: report demonyms). Asks ``probe`` what it does not read itself (non-ASCII words and
        windows); the disambiguation (rules 3 and 4) runs with the GIL released. Raises ValueError for
        a mention outside its field."""

class Folding:
    """A per-character folding table of the Basic Multilingual Plane (``normalize.fold_table``);
    immutable, thread-safe. ``changes``: ``(character, folded form)`` of every character that does not
    fold to itself (an ASCII one to one ASCII character). Raises ValueError otherwise."""

    def __init__(self, changes: list[tuple[str, str]], /) -> None: ...
    def fold(self, text: str, /) -> tuple[str, list[tuple[int, int]]] | None:
        """``(folded text, changes)``, changes the sorted ``(index, width)`` of the characters not
        folding to exactly one; None for a text with a character outside the BMP or a lone surrogate."""

    def fold_bytes(self, text: str, /) -> bytes | None:
        """The folded text as UTF-8; None as for :meth:`fold`."""

def murmur2(data: bytes, /) -> int:
    """Kafka's key hash (the Java client's ``Utils.murmur2``, aiokafka's ``partitioner.murmur2``): an
    unsigned 32-bit integer; a key's partition is ``(murmur2(key) & 0x7FFFFFFF) % partitions``."""

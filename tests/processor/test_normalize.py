"""Folding with offsets back to the original, and boilerplate masking."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from newswatch.processor import normalize
from newswatch.processor.keywords import AutomatonMatcher
from newswatch.processor.normalize import boilerplate_spans, fold, fold_char, mask_boilerplate


@pytest.mark.parametrize(
    ("text", "folded", "cased"),
    [
        ("\u00c9tat islamique", "etat islamique", "Etat islamique"),
        ("E\u0301tat", "etat", "Etat"),
        ("Stra\u00dfe", "strasse", "Stra\u00dfe"),
        ("l\u2019EI \u2013 Hi\u0304t", "l'ei - hit", "l'EI - Hit"),
        ("\ufb01n\u00a0de", "fin de", "fin de"),
        (
            "\u062a\u064e\u062f\u0652\u0645\u064f\u0631",
            "\u062a\u062f\u0645\u0631",
            "\u062a\u062f\u0645\u0631",
        ),
        ("Bu\u0640\u0640sh", "bush", "Bush"),
    ],
)
def test_fold(text: str, folded: str, cased: str) -> None:
    assert fold(text).text == folded
    assert fold(text, casefold=False).text == cased


def test_span_maps_back_to_original_offsets() -> None:
    text = "Les ruines de Palmy\u0301re et l'\u00c9tat"
    view = fold(text)
    start = view.text.index("palmyre")
    assert view.span(start, start + len("palmyre")) == (14, 22)
    assert text[14:22] == "Palmy\u0301re"
    assert view.position(14) == start


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_origin_is_monotonic_and_in_range(text: str) -> None:
    view = fold(text)
    assert len(view.origin) == len(view.text)
    assert list(view.origin) == sorted(view.origin)
    assert all(0 <= i < len(text) for i in view.origin)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
@example("Ǽ")  # a special letter (Æ) hidden inside a decomposition
def test_folding_ignores_composition_and_case(text: str) -> None:
    nfc, nfd = unicodedata.normalize("NFC", text), unicodedata.normalize("NFD", text)
    assert fold(nfc).text == fold(nfd).text
    ascii_only = "".join(c for c in text if c.isascii())
    assert fold(ascii_only.upper()).text == fold(ascii_only.lower()).text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_masking_keeps_length_and_newlines(text: str) -> None:
    masked = mask_boilerplate(text)
    assert len(masked) == len(text)
    assert [i for i, c in enumerate(masked) if c == "\n"] == [i for i, c in enumerate(text) if c == "\n"]


def test_seed_footer_is_masked_to_the_end(seed_text: str) -> None:
    spans = boilerplate_spans(seed_text)
    assert spans == [(seed_text.index("La source originale"), len(seed_text))]
    masked = mask_boilerplate(seed_text)
    assert "Avis de non-responsabilit" not in masked and "Copyright" not in masked
    assert "Hit in the Anbar province" in masked


@pytest.mark.parametrize(
    ("text", "masked_phrase", "kept_phrase"),
    [
        ("Disclaimer: opinions are the author's.\n\nDaesh attacked Hit." + " x" * 40, "opinions", "Daesh"),
        ("News body " * 10 + "\nAll rights reserved. Daesh", "Daesh", "News body"),
        ("News body " * 10 + "\nTous droits r\u00e9serv\u00e9s 2016", "droits", "News"),
        ("News body " * 10 + "\nThe original source of this article is X", "original source", "News"),
    ],
)
def test_footers(text: str, masked_phrase: str, kept_phrase: str) -> None:
    masked = mask_boilerplate(text)
    assert masked_phrase not in masked
    assert kept_phrase in masked


def _reference_fold(text: str, casefold: bool) -> tuple[str, list[int]]:
    """Character by character, the definition ``fold`` computes faster."""
    pieces = [fold_char(c, casefold) for c in text]
    return "".join(pieces), [i for i, p in enumerate(pieces) for _ in p]


# Letters folding to several or no characters, case traps, separators, and plain ASCII.
special = st.sampled_from(list("\u00df\u00e6\u00c6\u0153\u0152\ufb01\u2026\u0130\u0131\u017f\u212a"))
special = st.one_of(special, st.sampled_from(list("\u00e9\u00c9\u0301 aA-\n\u00a0\u200b")))


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.one_of(st.characters(), special), max_size=60), st.booleans())
@example("\u200b", False)  # everything folds to nothing
@example("\u00e9\u0301\u0153", True)
def test_fold_equals_the_per_character_definition(text: str, casefold: bool) -> None:
    view = fold.__wrapped__(text, casefold)
    folded, origin = _reference_fold(text, casefold)
    assert view.text == folded
    assert list(view.origin) == origin and len(view.origin) == len(origin)
    assert [view.origin[i] for i in range(len(origin))] == origin
    for x in range(len(text) + 2):
        assert view.position(x) == next((i for i, o in enumerate(origin) if o >= x), len(origin))


@pytest.mark.parametrize("casefold", [True, False])
def test_compiled_table_folds_every_bmp_character_as_fold_char(casefold: bool) -> None:
    table = normalize.folding(casefold)
    for code in (*range(0xD800), *range(0xE000, 0x10000)):
        char = chr(code)
        out = fold_char(char, casefold)
        assert table.fold(char) == (out, [] if len(out) == 1 else [(0, len(out))]), hex(code)


def test_compiled_table_leaves_astral_characters_and_surrogates_to_python() -> None:
    table = normalize.folding(True)
    assert table.fold("Palmyre \U0001f600") is None
    assert table.fold("Palmyre \ud800") is None
    assert table.fold_bytes("x\ud800") is None
    long = "\u00c9tat " * 50 + "\ud800\U0001f600"
    assert normalize.fold_bytes(long) == _reference_fold(long, True)[0].encode("utf-8", "surrogatepass")
    assert fold.__wrapped__(long, True).text == _reference_fold(long, True)[0]


long_texts = st.text(
    alphabet=st.one_of(st.characters(max_codepoint=0xFFFF), special, special, special),
    min_size=normalize.NATIVE_MIN_CHARS,
    max_size=normalize.NATIVE_MIN_CHARS + 200,
)


@settings(max_examples=300, deadline=None)
@given(long_texts, st.booleans())
@example("\u00e9\u0301\u0153\u200b" * 60, True)
@example("\u200b" * 250, False)  # everything folds to nothing
def test_long_texts_fold_in_one_compiled_pass_as_the_definition(text: str, casefold: bool) -> None:
    view = fold.__wrapped__(text, casefold)
    folded, origin = _reference_fold(text, casefold)
    assert view.text == folded
    assert list(view.origin) == origin and len(view.origin) == len(origin)
    for x in range(0, len(text) + 2, 7):
        assert view.position(x) == next((i for i, o in enumerate(origin) if o >= x), len(origin))
    if casefold:
        assert normalize.fold_bytes(text) == folded.encode("utf-8", "surrogatepass")


footer_pieces = st.lists(
    st.one_of(
        st.characters(),
        st.sampled_from(
            ["copyright", "COPYRIGHT ", "\u00a9", "\n", " ", "Disclaimer:", ">", "2016", "\u0130", "\u017f"]
        ),
    ),
    max_size=30,
).map("".join)
FOOTER_WORDS = [
    "copyright", "Copyright", "COPYRİGHT", "copyriGht", "(c)", "(C)", "\u00a9", "2016",
    "\u0662\u0660\u0661\u0666", "201", "Disclaimer", "DISCLAIMER", ":", "Avis de non-responsabilit\u00e9",
    "avis de non-responsabilitE", "La source originale de cet article", "The original source of this article",
    "All rights reserved", "ALL RIGHTS RESERVED", "Tous droits r\u00e9serv\u00e9s", "tous droits reserves",
    "TOUS DROITS R\u00c9SERV\u00c9S", "\u212a", "\u017f", "\u0131", "\u0130", "s", "k", "i", "\n", "\n\n",
    "\n \n", " ", "\t", ">", "*", "#", "[", "]", "_", "\u2028", "\u00a0", "\u3000", "\x0b", "word", "é",
]  # fmt: skip
_filler = st.text(alphabet="ab \n", max_size=40)
footer_texts = st.one_of(
    footer_pieces,
    st.tuples(
        _filler,
        st.sampled_from(FOOTER_WORDS[:20]),
        _filler,
        st.sampled_from(["\n\n", "\n \n", "\n"]),
        _filler,
    ).map(lambda parts: "\n".join(parts[:2]) + "".join(parts[2:])),
    st.lists(st.one_of(st.sampled_from(FOOTER_WORDS), st.characters()), max_size=40).map("".join),
    st.lists(st.sampled_from(FOOTER_WORDS), max_size=40).map(" ".join),
)
_ENGINE = AutomatonMatcher([])._engine


@settings(max_examples=800, deadline=None)
@given(footer_texts, st.integers(0, 60))
@example("\u00a9 2016", 0)
@example("aaaaaaa\n\u00a9 2016\n\nb", 0)  # a footer in the last two thirds runs to the end
@example("x\nCOPYR\u0130GHT\u3000\u0662\u0660\u0661\u0666 \n\n\u212aept", 0)
def test_compiled_footer_spans_equal_the_reference(text: str, lines: int) -> None:
    """The footer search of the compiled matcher (``Engine.boilerplate_spans``) finds exactly the spans of
    :func:`boilerplate_spans` (None only for texts outside the BMP, left to Python)."""
    text = "line\n" * lines + text
    found = _ENGINE.boilerplate_spans(text)
    if max(map(ord, text), default=0) >= 0x10000:
        assert found is None
    else:
        assert found == boilerplate_spans(text)


@settings(max_examples=500, deadline=None)
@given(footer_pieces)
def test_footer_search_only_at_line_starts_finds_the_same(text: str) -> None:
    expected = [m.span() for m in normalize._FOOTER.finditer(text)]
    assert [m.span() for m in normalize._footer_lines(text)] == expected
    if expected:
        assert normalize._may_have_footer(text)  # the shortcut never hides a footer


@settings(max_examples=300, deadline=None)
@given(footer_pieces, st.integers(0, 80))
@example("Report \U0001f4f0\n\u00a9 2016 Example\n\nmore", 0)  # outside the BMP: the Python search masks
@example("Report \U0001f4f0\n\u00a9 2016 Example\n\nmore", 60)
@example("Report\n\u00a9 2016 Example\n\nmore", 60)
def test_masking_is_the_same_with_or_without_the_marker_shortcut(text: str, lines: int) -> None:
    """Masked spans are those of :func:`boilerplate_spans`, whichever search finds them (the compiled one,
    or for texts outside the BMP the Python one, with or without its marker shortcut)."""
    text = "line\n" * lines + text  # few lines: no shortcut; many: the marker check first
    spans = normalize.boilerplate_spans(text)
    expected = list(text)
    for start, end in spans:
        expected[start:end] = [c if c == "\n" else " " for c in text[start:end]]
    assert mask_boilerplate(text) == "".join(expected)

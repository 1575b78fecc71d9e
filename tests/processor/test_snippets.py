"""Match snippets: ``keywords.snippet`` (the definition) and ``keywords.snippets`` (compiled, one call
per text) give the same strings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newswatch.processor.keywords import SNIPPET_CHARS, snippet, snippets

# Every character ``str.split()`` splits on, a few that look like spaces but are not, and text.
_SPACES = " \t\n\v\f\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000"
_NOT_SPACES = "\u180e\u200b\u200d\u2060\ufeff"
_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(_SPACES + _NOT_SPACES + "  -…"),
        st.characters(codec="utf-8"),
        st.sampled_from("aé字😀"),
    ),
    max_size=300,
)


@st.composite
def _text_and_spans(draw: st.DrawFn) -> tuple[str, list[tuple[int, int]]]:
    text = draw(_TEXT)
    point = st.integers(0, len(text))
    spans = [tuple(sorted(pair)) for pair in draw(st.lists(st.tuples(point, point), max_size=6))]
    return text, [(start, end) for start, end in spans]


@given(_text_and_spans(), st.integers(0, 120))
def test_compiled_snippets_equal_the_definition(case: tuple[str, list[tuple[int, int]]], width: int) -> None:
    text, spans = case
    assert snippets(text, spans, width) == [snippet(text, start, end, width) for start, end in spans]


def test_whitespace_is_what_str_split_splits_on() -> None:
    """Every code point, each between two letters: the collapsed body is ``str.split()``'s."""
    chars = [chr(n) for n in range(0x110000) if not 0xD800 <= n <= 0xDFFF]
    text = "a" + "a".join(chars) + "a"
    width = len(text)
    (got,) = snippets(text, [(0, 1)], width)
    assert got == snippet(text, 0, 1, width) == " ".join(text.split())


@pytest.mark.parametrize(
    ("text", "start", "end", "expected"),
    [
        ("Hit", 0, 3, "Hit"),
        ("", 0, 0, ""),
        ("a  b\t\nc", 0, 1, "a b c"),
        ("x" * 100 + " the town of Hit was", 113, 116, "…the town of Hit was"),
        ("the town of Hit was " + "y" * 100, 12, 15, "the town of Hit was…"),
        ("é" * 90 + " Hīt " + "ü" * 90, 91, 94, "…Hīt…"),
    ],
)
def test_snippet_table(text: str, start: int, end: int, expected: str) -> None:
    assert snippet(text, start, end) == expected
    assert snippets(text, [(start, end)]) == [expected]


@pytest.mark.parametrize("span", [(3, 2), (0, 5), (5, 5)])
def test_a_span_outside_the_text_is_refused(span: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="outside"):
        snippets("abcd", [span], SNIPPET_CHARS)

"""Main-text extraction: HTML detection, decoding (named cases), caps, and properties on hostile input."""

from __future__ import annotations

import codecs

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newswatch.poller import extract
from newswatch.poller.extract import TEXT_MAX_CHARS, decode_html, extract_main_text, is_html, media_type

PAGE = (
    "<!DOCTYPE html><html><body><nav>Home News</nav><article>{}</article>"
    "<footer>(c) Site</footer></body></html>"
)


@pytest.mark.parametrize(
    ("name", "content_type", "body", "expected"),
    [
        ("html", "text/html", b"anything", True),
        ("html with charset", "Text/HTML; charset=UTF-8", b"", True),
        ("xhtml", "application/xhtml+xml", b"<html/>", True),
        ("json", "application/json", b"<html><body>x</body></html>", False),
        ("pdf", "application/pdf", b"%PDF-1.7", False),
        ("rss", "application/rss+xml", b"<rss/>", False),
        ("plain text", "text/plain", b"<html>", False),
        ("none, doctype", None, b"  <!DOCTYPE html><html>", True),
        ("none, bom and html", None, codecs.BOM_UTF8 + b"<html lang=en>", True),
        ("none, xml declaration then html", None, b'<?xml version="1.0"?>\n<html xmlns="x">', True),
        ("none, comment then html", None, b"<!-- generated --><html>", True),
        ("none, body only", None, b"<body>", True),
        ("none, text", None, b"Palmyra", False),
        ("none, rss", None, b"<?xml version='1.0'?><rss>", False),
        ("empty type, pdf", "", b"%PDF", False),
    ],
)
def test_is_html(name: str, content_type: str | None, body: bytes, expected: bool) -> None:
    assert is_html(content_type, body) is expected, name


def test_media_type() -> None:
    assert media_type(" Text/HTML ; charset=utf-8") == "text/html"
    assert media_type(None) == ""


FRENCH = "L'État islamique a détruit le temple de Bel à Palmyre — « Tadmor »."


@pytest.mark.parametrize(
    ("name", "body", "content_type"),
    [
        ("utf-8 undeclared", FRENCH.encode(), "text/html"),
        ("utf-8 BOM", codecs.BOM_UTF8 + FRENCH.encode(), "text/html; charset=iso-8859-1"),
        ("utf-16 BOM", FRENCH.encode("utf-16"), None),
        (
            "header charset",
            FRENCH.replace("—", "-").replace("«", '"').replace("»", '"').encode("latin-1"),
            "text/html; charset=ISO-8859-1",
        ),
        ("quoted header charset", FRENCH.encode("cp1252"), 'text/html; charset="windows-1252"'),
        ("meta charset", b'<meta charset="windows-1252">' + FRENCH.encode("cp1252"), "text/html"),
        (
            "http-equiv meta",
            b'<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
            + FRENCH.encode("cp1252"),
            None,
        ),
        ("undeclared cp1252", FRENCH.encode("cp1252"), "text/html"),
        ("unknown label falls back", FRENCH.encode(), "text/html; charset=x-no-such-charset"),
        ("meta utf-16 means utf-8", b'<meta charset="utf-16">' + FRENCH.encode(), None),
    ],
)
def test_decode_html(name: str, body: bytes, content_type: str | None) -> None:
    text = decode_html(body, content_type)
    assert "Palmyre" in text and "\ufffd" not in text, name
    assert "État" in text and "détruit" in text, name


def test_undecodable_bytes_become_replacement_characters() -> None:
    assert decode_html(b"Palmyra \xff\xfe\x81", "text/html; charset=utf-8") == "Palmyra \ufffd\ufffd\ufffd"


def test_main_text_is_capped_at_a_space() -> None:
    paragraph = "Palmyra lies in the Syrian desert north-east of Damascus, report number {}. " * 10
    paragraphs = (f"<p>{paragraph.format(*[n] * 10)}</p>" for n in range(TEXT_MAX_CHARS // 700 + 50))
    text = extract_main_text(PAGE.format("".join(paragraphs)))
    assert TEXT_MAX_CHARS // 2 < len(text) <= TEXT_MAX_CHARS
    assert text[-1] != " " and text.split()[-1] in {*paragraph.split(), *(f"{n}." for n in range(400))}


def test_only_the_first_input_chars_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extract, "INPUT_MAX_CHARS", 2000)
    early = "<p>" + "Palmyra was retaken on Sunday by government troops. " * 10 + "</p>"
    late = "<p>" + "Hidden after the cap " * 200 + "</p>"
    text = extract_main_text(PAGE.format(early + " " * 3000 + late))
    assert "Palmyra was retaken" in text and "Hidden" not in text


def test_no_main_text_is_empty() -> None:
    assert extract_main_text("") == ""
    assert extract_main_text("<html><body><script>var x = 1;</script></body></html>") == ""


_HOSTILE_FRAGMENT = st.sampled_from(
    [
        "<p>",
        "</p>",
        "<div>",
        "<nav>",
        "<script>",
        "<!--",
        "-->",
        "&amp;",
        "&#0;",
        "&#xD800;",
        "<![CDATA[",
        "<table><tr><td>",
        "<svg><foreignObject>",
        "\x00",
        "\ud800",
        "\u202e",
        "<" * 5,
    ]
)
_HOSTILE = st.lists(st.one_of(_HOSTILE_FRAGMENT, st.text(max_size=40)), max_size=60).map("".join)
_TAG = st.sampled_from(
    [
        "<p>",
        "</p>",
        "<div>",
        "</div>",
        "<nav>",
        "</nav>",
        "<script>",
        "</script>",
        "<br/>",
        "<b>",
        "</b>",
        "<table><tr><td>",
        "</td></tr></table>",
        "<!-- note -->",
        "<h2>",
        "</h2>",
    ]
)
_WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéàüПалмира0123456789 .,", max_size=80)
_MARKUP = st.lists(st.one_of(_TAG, _WORDS), max_size=60).map("".join)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=2000), content_type=st.one_of(st.none(), st.text(max_size=60)))
def test_decode_and_detect_never_raise(body: bytes, content_type: str | None) -> None:
    assert isinstance(decode_html(body, content_type), str)
    assert isinstance(is_html(content_type, body), bool)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markup=_HOSTILE)
def test_extraction_of_hostile_markup_never_raises(markup: str) -> None:
    text = extract_main_text(PAGE.format(markup))
    assert isinstance(text, str) and len(text) <= TEXT_MAX_CHARS


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markup=_MARKUP)
def test_extracted_text_is_plain(markup: str) -> None:
    text = extract_main_text(PAGE.format(markup))
    assert "<" not in text and ">" not in text
    assert text == text.strip()

"""Declared charsets and byte-order marks are honoured: the same French entry in every encoding a feed may
use, labelled in the XML declaration, in the HTTP Content-Type, by a BOM, or by several of them."""

from __future__ import annotations

import codecs

import pytest

from newswatch.errors import ParseError
from newswatch.poller.parser import parse_feed

TITLE = "Palmyre : l'État islamique déjà « repoussé » — été"
ASCII_TITLE = "Palmyra: Islamic State pushed back"


def rss(title: str, declaration: str = "") -> str:
    return (
        f'{declaration}<rss version="2.0"><channel><title>Mondialisation</title>'
        f"<item><guid>g1</guid><title>{title}</title><description>{title}</description></item>"
        "</channel></rss>"
    )


def decl(encoding: str) -> str:
    return f'<?xml version="1.0" encoding="{encoding}"?>'


CASES = [
    # id, body, Content-Type header
    ("utf-8 undeclared", rss(TITLE).encode("utf-8"), "application/rss+xml"),
    ("utf-8 declared", rss(TITLE, decl("UTF-8")).encode("utf-8"), "application/rss+xml"),
    ("utf-8 BOM", codecs.BOM_UTF8 + rss(TITLE, decl("utf-8")).encode("utf-8"), "application/rss+xml"),
    ("utf-8 BOM, no declaration", codecs.BOM_UTF8 + rss(TITLE).encode("utf-8"), "application/xml"),
    ("utf-16 LE BOM", rss(TITLE, decl("utf-16")).encode("utf-16-le").join([codecs.BOM_UTF16_LE, b""]), None),
    ("utf-16 BE BOM", codecs.BOM_UTF16_BE + rss(TITLE, decl("utf-16")).encode("utf-16-be"), None),
    ("utf-32 BOM", rss(TITLE, decl("utf-32")).encode("utf-32"), "application/rss+xml"),
    ("iso-8859-1 declared", rss(TITLE.replace("—", "-"), decl("ISO-8859-1")).encode("latin-1"), None),
    ("windows-1252 declared", rss(TITLE, decl("windows-1252")).encode("cp1252"), "application/rss+xml"),
    ("windows-1252 in HTTP only", rss(TITLE).encode("cp1252"), "application/rss+xml; charset=windows-1252"),
    ("iso-8859-15 declared", rss(TITLE.replace("—", "-"), decl("iso-8859-15")).encode("iso-8859-15"), None),
    ("utf-8 in HTTP and declaration", rss(TITLE, decl("utf-8")).encode(), "text/xml; charset=UTF-8"),
    ("quoted HTTP charset", rss(TITLE).encode("cp1252"), 'application/xml; charset="windows-1252"'),
]


@pytest.mark.parametrize(("body", "content_type"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_declared_charsets_and_boms_are_honoured(body: bytes, content_type: str | None) -> None:
    parsed = parse_feed(body, "https://www.mondialisation.ca/feed", content_type)
    expected = TITLE.replace("—", "-") if b"8859" in body.upper() else TITLE
    assert [(e.title, e.summary) for e in parsed.entries] == [(expected, expected)]
    assert parsed.title == "Mondialisation"


def test_a_cyrillic_feed_in_koi8_r() -> None:
    title = "Пальмира освобождена"
    body = rss(title, decl("KOI8-R")).encode("koi8-r")
    assert [e.title for e in parse_feed(body, "https://ru.example/feed", "text/xml").entries] == [title]


def test_a_bom_without_any_other_label_decides() -> None:
    body = codecs.BOM_UTF16_LE + rss(ASCII_TITLE).encode("utf-16-le")
    assert [e.title for e in parse_feed(body, "https://f.example/feed", None).entries] == [ASCII_TITLE]


def test_a_bom_wins_over_a_disagreeing_http_charset_and_declaration() -> None:
    body = codecs.BOM_UTF16_BE + rss(TITLE, decl("iso-8859-1")).encode("utf-16-be")
    parsed = parse_feed(body, "https://f.example/feed", "application/rss+xml; charset=utf-8")
    assert [e.title for e in parsed.entries] == [TITLE]


def test_bytes_that_break_their_bom_are_a_clear_parse_error() -> None:
    body = codecs.BOM_UTF16_LE + rss(ASCII_TITLE).encode("utf-16-le") + b"\x00\xd8"  # lone surrogate
    with pytest.raises(ParseError) as info:
        parse_feed(body, "https://f.example/feed", None)
    assert info.value.outcome == "bad_encoding" and not info.value.retriable

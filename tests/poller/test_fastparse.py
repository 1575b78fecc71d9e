"""The fast path on its own: JSON Feed, what it declines, and fuzzing (it never raises)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newswatch.errors import ParseError
from newswatch.poller.fastparse import parse_fast
from newswatch.poller.parser import parse_feed

from .conftest import fixture_bytes

URL = "https://json.example.org/feed.json"


def test_json_feed_11() -> None:
    feed = parse_feed(fixture_bytes("jsonfeed11.json"), URL, "application/feed+json")
    assert (feed.version, feed.title, feed.language) == ("json11", "JSON wire", "en")
    first, second, third = feed.entries
    assert first.guid == "json-0001"
    assert first.title == "Restorers return to Palmyra & its museum"
    assert first.content == "A team surveyed the galleries.\nWork resumes in spring."
    assert first.summary == "A team surveyed the galleries."
    assert first.published == datetime(2025, 3, 3, 7, 30, tzinfo=UTC)
    assert first.authors == ("Ada Fixture",)
    assert first.language == "fr"
    assert (second.guid, second.link) == ("2", "https://json.example.org/2025/03/euphrates")
    assert second.published == datetime(2025, 3, 2, 12, 0, tzinfo=UTC)
    assert second.authors == ("Wire Fixture",)
    assert (third.title, third.published, third.language) == ("", None, "en")


def test_json_feed_10_is_recognised_by_its_body_alone() -> None:
    body = json.dumps(
        {"version": "https://jsonfeed.org/version/1", "title": "t", "items": [{"id": "a", "title": "x"}]}
    ).encode()
    feed = parse_feed(body, URL, "application/json")
    assert feed.version == "json1"
    assert [e.title for e in feed.entries] == ["x"]


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("other JSON", b'{"version": "2", "items": []}'),
        ("not JSON", b"{not json"),
        ("a list", b"[1, 2]"),
    ],
)
def test_json_that_is_not_a_json_feed_is_not_a_feed(name: str, body: bytes) -> None:
    assert parse_fast(body, URL) is None, name
    with pytest.raises(ParseError) as info:
        parse_feed(body, URL)
    assert info.value.outcome == "not_a_feed", name


@pytest.mark.parametrize(
    ("name", "body", "content_type"),
    [
        ("not well-formed", b"<rss version='2.0'><channel><item></channel></rss>", None),
        ("latin-1", b"<?xml version='1.0' encoding='iso-8859-1'?><rss version='2.0'><channel/></rss>", None),
        ("utf-16", '<rss version="2.0"><channel/></rss>'.encode("utf-16"), None),
        (
            "text/xml, non-ASCII",
            '<rss version="2.0"><channel><title>é</title></channel></rss>'.encode(),
            "text/xml",
        ),
        (
            "charset disagrees",
            b'<rss version="2.0"><channel/></rss>',
            "application/rss+xml; charset=windows-1252",
        ),
        ("unknown root", b"<html><body/></html>", None),
        ("xml:base", b'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://a/"/>', None),
        (
            "two descriptions",
            b"<rss version='2.0'><channel><item><description>a</description>"
            b"<description>b</description></item></channel></rss>",
            None,
        ),
        (
            "markup in a title",
            b"<rss version='2.0'><channel><item><title>a<b>c</b></title></item></channel></rss>",
            None,
        ),
        (
            "media:title",
            b"<rss version='2.0' xmlns:media='http://search.yahoo.com/mrss/'><channel><item>"
            b"<media:title>m</media:title></item></channel></rss>",
            None,
        ),
        (
            "nested title",
            b"<rss version='2.0' xmlns:x='urn:x'><channel><item><x:a><title>t</title></x:a>"
            b"</item></channel></rss>",
            None,
        ),
        (
            "base64 atom content",
            b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><content mode="base64">'
            b"eA==</content></entry></feed>",
            None,
        ),
        (
            "item outside the channel",
            b"<rss version='2.0'><channel/><item><title>t</title></item></rss>",
            None,
        ),
    ],
)
def test_declines_what_it_does_not_reproduce(name: str, body: bytes, content_type: str | None) -> None:
    assert parse_fast(body, "https://x.example/feed", content_type) is None, name


def test_the_parser_never_reads_external_entities_or_dtds(tmp_path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    body = (
        f'<!DOCTYPE rss SYSTEM "file://{secret}"><rss version="2.0"><channel><item><title>t</title>'
        "</item></channel></rss>"
    ).encode()
    feed = parse_fast(body, "https://x.example/feed")
    assert feed is not None
    assert [e.title for e in feed.entries] == ["t"]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.sampled_from(["title", "items", "language", "home_page_url"]), _json, max_size=4).map(
        lambda d: {"version": "https://jsonfeed.org/version/1.1", **d}
    ),
    st.lists(
        st.dictionaries(
            st.sampled_from(
                ["id", "url", "title", "content_html", "summary", "authors", "author", "date_published"]
            ),
            _json,
            max_size=6,
        ),
        max_size=4,
    ),
)
def test_json_feed_never_raises(doc: dict[str, object], items: list[dict[str, object]]) -> None:
    body = json.dumps({**doc, "items": items}).encode()
    feed = parse_fast(body, URL)
    assert feed is not None
    assert len(feed.entries) == len(items)


_element = st.sampled_from(["title", "link", "guid", "description", "pubDate", "author", "dc:creator", "x:y"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_element, st.text(max_size=30)), max_size=8))
def test_rss_items_never_raise_and_agree_with_feedparser(children: list[tuple[str, str]]) -> None:
    from xml.sax.saxutils import escape

    inner = "".join(f"<{name}>{escape(text)}</{name}>" for name, text in children)
    body = (
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:x="urn:x"><channel>'
        f"<title>t</title><item>{inner}</item></channel></rss>"
    ).encode()
    from newswatch.poller.parser import parse_with_feedparser

    fast = parse_fast(body, "https://x.example/feed")
    if fast is not None:
        try:
            slow = parse_with_feedparser(body, "https://x.example/feed")
        except ParseError:
            return
        assert fast.entries == slow.entries


_offsets = st.sampled_from(["+0000", "-0530", "+1400", "GMT", "UT", "UTC", "Z", "-1200", "+0100"])


# hypothesis wants naive bounds
_naive = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1))  # noqa: DTZ001


@settings(max_examples=300, deadline=None)
@given(_naive, _offsets, st.booleans())
def test_common_dates_read_as_feedparser_reads_them(when: datetime, offset: str, iso: bool) -> None:
    from feedparser.datetimes import _parse_date

    from newswatch.poller.parser import parse_date, struct_to_datetime

    if iso:
        tail = "Z" if offset in ("GMT", "UT", "UTC", "Z") else f"{offset[:3]}:{offset[3:]}"
        text = when.strftime("%Y-%m-%dT%H:%M:%S") + tail
    else:
        text = when.strftime("%a, %d %b %Y %H:%M:%S ") + offset
    assert parse_date(text) == struct_to_datetime(_parse_date(text)), text


@pytest.mark.parametrize(
    ("name", "markup", "text"),
    [
        ("quoted > in an attribute", '<a title="x > y" href="/">link</a> text', "link text"),
        ("upper-case block tags", "<P>One</P><DIV>Two</DIV>", "One\nTwo"),
        ("comment dropped", "a<!-- hidden <p>x</p> -->b", "ab"),
        ("unclosed comment drops the rest", "a<!-- never closed", "a"),
        ("script body dropped, any case", "<SCRIPT type='t'>x<y</SCRIPT>kept", "kept"),
        ("self-closed script keeps what follows", "<script/>kept", "kept"),
        ("unclosed script drops the rest", "kept<script>x()", "kept"),
        ("a lone < is text", "a < b and c<3", "a < b and c<3"),
        ("escaped markup stays text", "&lt;p&gt;x&lt;/p&gt;", "<p>x</p>"),
        ("double escaping decoded once", "AT&amp;amp;T", "AT&amp;T"),
        ("numeric references", "caf&#233; &#x2014; ok", "café — ok"),
        ("br and nbsp", "one<br/>two&nbsp;&nbsp;three", "one\ntwo three"),
        ("blank lines collapse", "<p> a </p>\n\n<p>\tb\r\n</p>", "a\nb"),
    ],
)
def test_html_to_text_table(name: str, markup: str, text: str) -> None:
    from newswatch.poller.parser import html_to_text

    assert html_to_text(markup) == text, name


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>/!-&;ab pPsScript=\"'\n\t")), max_size=60))
def test_html_to_text_output_is_collapsed_and_stripped(markup: str) -> None:
    from newswatch.poller.parser import html_to_text

    text = html_to_text(markup)
    assert text == text.strip()
    assert "\n\n" not in text
    assert "  " not in text


def test_a_link_broken_by_a_line_break_reads_as_feedparser_reads_it() -> None:
    from newswatch.poller.parser import parse_feed, parse_with_feedparser

    body = '<rss version="2.0"><channel><item><link>Â\r\x80</link></item></channel></rss>'.encode()
    url = "https://x.example/"
    assert parse_feed(body, url).entries == parse_with_feedparser(body, url).entries

"""WebSub discovery in the parser: the first feed-level ``hub`` and ``self`` links, on both parse paths."""

from __future__ import annotations

import json
from xml.sax.saxutils import quoteattr

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from newswatch.errors import ParseError
from newswatch.poller.fastparse import parse_fast
from newswatch.poller.parser import parse_feed, parse_with_feedparser

URL = "https://news.example.org/dir/feed.xml"
ATOM_NS = 'xmlns:atom="http://www.w3.org/2005/Atom"'


def _rss(channel: str, item: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" {ATOM_NS}><channel><title>T</title>'
        f"{channel}<item><title>a</title><guid>g-1</guid>{item}</item></channel></rss>"
    ).encode()


def _atom(links: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>'
        f"<id>urn:x</id>{links}<entry><id>urn:e1</id><title>a</title></entry></feed>"
    ).encode()


HUB = '<atom:link rel="hub" href="https://hub.example.net/"/>'
SELF = '<atom:link rel="self" type="application/rss+xml" href="https://news.example.org/feed"/>'

# name, body, fast path expected to answer, hub_url, self_url
CASES = [
    ("rss_hub_and_self", _rss(f"<link>https://news.example.org/</link>{HUB}{SELF}"), True,
     "https://hub.example.net/", "https://news.example.org/feed"),
    ("rss_self_only", _rss(f"{SELF}<link>https://news.example.org/</link>"), True,
     None, "https://news.example.org/feed"),
    ("rss_absent", _rss("<link>https://news.example.org/</link>"), True, None, None),
    ("rss_first_hub_wins",
     _rss(f'{HUB}<atom:link rel="hub" href="https://second.example.net/"/>'), True,
     "https://hub.example.net/", None),
    ("rss_hub_in_an_item_is_not_the_feeds",
     _rss("", '<atom:link rel="hub" href="https://item-hub.example.net/"/>'), True, None, None),
    ("atom_hub_and_relative_self",
     _atom('<link href="https://news.example.org/"/><link rel="hub" href="https://hub.example.net/h"/>'
           '<link rel="self" href="/feed.atom"/>'), True,
     "https://hub.example.net/h", "https://news.example.org/feed.atom"),
    ("atom_absent", _atom('<link href="https://news.example.org/"/>'), True, None, None),
    ("rss_not_well_formed_goes_to_feedparser",
     _rss(f"<description>a & b</description>{HUB}{SELF}"), False,
     "https://hub.example.net/", "https://news.example.org/feed"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "body", "fast", "hub", "self_url"), CASES, ids=[c[0] for c in CASES])
def test_discovery(name: str, body: bytes, fast: bool, hub: str | None, self_url: str | None) -> None:
    assert (parse_fast(body, URL) is not None) is fast
    for parse in (parse_feed, parse_with_feedparser):
        parsed = parse(body, URL)
        assert (parsed.hub_url, parsed.self_url) == (hub, self_url), parse.__name__


def test_rss_self_link_does_not_replace_the_page_link() -> None:
    body = _rss(f"<link>https://news.example.org/</link>{SELF}")
    assert parse_feed(body, URL).link == parse_with_feedparser(body, URL).link == "https://news.example.org/"


def test_atom_self_link_is_not_the_page_link() -> None:
    body = _atom(
        '<link href="https://news.example.org/"/><link rel="self" href="https://news.example.org/f"/>'
    )
    assert parse_feed(body, URL).link == "https://news.example.org/"


def test_json_feed_hubs_and_feed_url() -> None:
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "J",
        "feed_url": "/feed.json",
        "hubs": [{"type": "rssCloud", "url": "https://cloud.example.net/"},
                 {"type": "WebSub", "url": "https://hub.example.net/"}],
        "items": [{"id": "1", "content_text": "x"}],
    }  # fmt: skip
    parsed = parse_feed(json.dumps(doc).encode(), URL)
    assert (parsed.hub_url, parsed.self_url) == (
        "https://hub.example.net/",
        "https://news.example.org/feed.json",
    )
    del doc["hubs"], doc["feed_url"]
    parsed = parse_feed(json.dumps(doc).encode(), URL)
    assert (parsed.hub_url, parsed.self_url) == (None, None)


_HREF = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40)


@given(hub=_HREF, self_href=_HREF, rel=st.sampled_from(["hub", "self", "HUB", "hub self", "", "alternate"]))
@example(hub="", self_href="0 ;", rel="hub")  # joining drops ";" and leaves a trailing space
def test_any_link_values_never_break_parsing(hub: str, self_href: str, rel: str) -> None:
    links = f"<atom:link rel={quoteattr(rel)} href={quoteattr(hub)}/>"
    links += f"<atom:link rel='self' href={quoteattr(self_href)}/>"
    body = _rss(f"<link>https://news.example.org/</link>{links}")
    try:
        parsed = parse_feed(body, URL)
    except ParseError:
        return
    assert parsed.hub_url is None or isinstance(parsed.hub_url, str)
    assert parsed.self_url is None or parsed.self_url.strip() == parsed.self_url != ""

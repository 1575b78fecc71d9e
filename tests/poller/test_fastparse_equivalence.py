"""The fast path against feedparser: the repository's fixtures and feedparser's own ~2,200 test feeds.

Deliberate differences: none on entry count, guid, link and title, nor on the WebSub hub and self links.
The fast path declines (returns None) rather than guess whenever feedparser's reading depends on something
it does not reproduce.
"""

from __future__ import annotations

import io
from dataclasses import astuple

import feedparser
import pytest

from newswatch.errors import ParseError
from newswatch.poller.fastparse import parse_fast
from newswatch.poller.parser import ParsedFeed, is_hostile, parse_feed, parse_with_feedparser

from .conftest import FIXTURES
from .corpus import corpus_files

URL = "https://feeds.example.org/dir/feed.xml"
WELL_FORMED = ["atom10.xml", "rss10.xml", "rss10_syndication.xml", "rss20_sy_hourly.xml"]
WELL_FORMED += ["rss20_ttl.xml", "rss20_50_items.xml", "atom10_50_items.xml"]


def _key(feed: ParsedFeed) -> list[tuple[str | None, ...]]:
    return [(feed.hub_url, feed.self_url), *((e.guid, e.link, e.title) for e in feed.entries)]


@pytest.mark.parametrize("name", WELL_FORMED)
def test_fixtures_take_the_fast_path_and_agree_on_every_field(name: str) -> None:
    body = (FIXTURES / name).read_bytes()
    fast = parse_fast(body, URL)
    assert fast is not None, "a well-formed fixture must take the fast path"
    slow = parse_with_feedparser(body, URL)
    assert [astuple(e) for e in fast.entries] == [astuple(e) for e in slow.entries]
    assert (fast.version, fast.title, fast.language, fast.ttl_seconds, fast.update_period_seconds) == (
        slow.version,
        slow.title,
        slow.language,
        slow.ttl_seconds,
        slow.update_period_seconds,
    )
    assert (fast.link, fast.hub_url, fast.self_url) == (slow.link, slow.hub_url, slow.self_url)


def test_script_inside_markup_is_left_to_feedparser() -> None:
    body = (FIXTURES / "rss20.xml").read_bytes()  # a <script> inside content:encoded
    assert parse_fast(body, URL) is None
    assert parse_feed(body, URL) == parse_with_feedparser(body, URL)


def test_corpus_never_raises_anything_but_parse_error() -> None:
    failures = []
    for path in corpus_files():
        try:
            parse_feed(path.read_bytes(), URL)
        except ParseError:
            continue
        except Exception as exc:  # noqa: BLE001 - the point is to catch anything else
            failures.append(f"{path.name}: {exc!r}")
    assert not failures, failures[:20]


def test_corpus_fast_path_agrees_with_feedparser_when_it_answers() -> None:
    answered = disagreements = 0
    report = []
    for path in corpus_files():
        body = path.read_bytes()
        if not body.strip() or is_hostile(body):
            continue
        if feedparser.parse(io.BytesIO(body)).get("bozo"):
            continue
        fast = parse_fast(body, URL)
        if fast is None:
            continue
        answered += 1
        slow = parse_with_feedparser(body, URL)
        if _key(fast) != _key(slow):
            disagreements += 1
            report.append(f"{path.relative_to(path.parents[2])}: {_key(fast)} != {_key(slow)}")
    assert not disagreements, "\n".join(report[:30])
    assert answered > 500  # the fast path must actually cover most of the well-formed corpus

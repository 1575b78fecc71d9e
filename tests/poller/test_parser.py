"""parse_feed on hand-written RSS 2.0 / Atom 1.0 / RSS 1.0 fixtures, hostile and broken bodies."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newswatch.errors import ParseError
from newswatch.poller.parser import MAX_ENTRIES, html_to_text, is_hostile, parse_feed

from .conftest import fixture_bytes


def test_rss20() -> None:
    feed = parse_feed(fixture_bytes("rss20.xml"), "https://news.example.org/rss")
    assert feed.version == "rss20"
    assert feed.language == "en"
    assert len(feed.entries) == 3
    first = feed.entries[0]
    assert first.guid == "fixture-rss20-0001"
    assert first.title == "Archaeologists return to Palmyra\u2019s museum"
    assert first.summary == "A team of restorers surveyed the damaged galleries."
    assert "alert(1)" not in first.summary
    assert first.content.endswith("They listed & photographed every fragment \u2014 a first since 2017.")
    assert "<" not in first.content
    assert first.authors == ("Ada Fixture",)
    assert first.published == datetime(2025, 3, 3, 8, 30, tzinfo=UTC)
    second = feed.entries[1]
    assert second.guid == ""
    assert second.link == "https://news.example.org/2025/03/euphrates-levels"
    assert second.content == ""
    assert feed.entries[2].published is None


def test_atom10() -> None:
    feed = parse_feed(fixture_bytes("atom10.xml"), "https://atom.example.net/feed.atom")
    assert feed.version == "atom10"
    assert feed.language == "fr"
    first, second = feed.entries
    assert first.title == "La reconstruction de Palmyre avance"
    assert first.link == "https://atom.example.net/articles/palmyre-reconstruction"
    assert first.authors == ("Camille Essai", "Dominique Test")
    assert first.published == datetime(2025, 3, 4, 5, 45, tzinfo=UTC)
    assert first.content.splitlines() == [
        "Les \u00e9quipes ont d\u00e9gag\u00e9 l'entr\u00e9e du temple.",
        "Les travaux reprendront au printemps.",
    ]
    assert first.language == "fr"
    assert second.language == "en"
    assert second.summary == "Plain xhtml summary."
    assert second.published == datetime(2025, 3, 3, 12, 0, tzinfo=UTC)


def test_rss10() -> None:
    feed = parse_feed(fixture_bytes("rss10.xml"), "https://rdf.example.com/feed")
    assert feed.version == "rss10"
    assert [e.link for e in feed.entries] == ["https://rdf.example.com/a/1", "https://rdf.example.com/a/2"]
    assert feed.entries[0].authors == ("Wire Fixture",)
    assert feed.entries[1].language == "en-GB"


def test_billion_laughs_is_refused_before_parsing() -> None:
    with pytest.raises(ParseError) as info:
        parse_feed(fixture_bytes("billion_laughs.xml"), "https://evil.example/feed")
    assert info.value.outcome == "hostile"
    assert not info.value.retriable


@pytest.mark.parametrize(
    "body",
    [
        b'<!DOCTYPE x [<!entity a "b">]><rss version="2.0"><channel/></rss>',
        '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE x [<!ENTITY a "b">]><rss/>'.encode("utf-16"),
        '<!DOCTYPE x [<!ENTITY a "b">]><rss/>'.encode("utf-32-be"),
    ],
    ids=["lower-case", "utf-16", "utf-32"],
)
def test_entity_declarations_in_any_case_or_encoding_are_hostile(body: bytes) -> None:
    assert is_hostile(body)
    with pytest.raises(ParseError, match="entity"):
        parse_feed(body, "https://evil.example/feed")


@pytest.mark.parametrize(
    ("body", "outcome"),
    [
        (b"", "empty"),
        (b" \n\t ", "empty"),
        (fixture_bytes("not_a_feed.html"), "not_a_feed"),
        (b"\x00\xff{}", "not_a_feed"),
    ],
    ids=["empty", "whitespace", "html", "garbage"],
)
def test_bodies_that_are_not_feeds(body: bytes, outcome: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_feed(body, "https://x.example/feed")
    assert info.value.outcome == outcome


def test_bytes_are_never_opened_as_a_file_name(tmp_path) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_bytes(fixture_bytes("rss20.xml"))
    with pytest.raises(ParseError):
        parse_feed(str(secret).encode(), "https://x.example/feed")


def test_feed_without_entries_is_valid() -> None:
    feed = parse_feed(
        b'<rss version="2.0"><channel><title>Quiet</title></channel></rss>', "https://q.example/"
    )
    assert feed.entries == ()
    assert feed.title == "Quiet"


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<p>One</p><p>Two</p>", "One\nTwo"),
        ("a &amp; b&nbsp;c", "a & b c"),
        ("<style>p{}</style><script>x()</script>kept", "kept"),
        ("  plain   text  ", "plain text"),
    ],
)
def test_html_to_text(markup: str, text: str) -> None:
    assert html_to_text(markup) == text


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=512))
def test_parse_feed_raises_only_parse_error(body: bytes) -> None:
    try:
        feed = parse_feed(body, "https://fuzz.example/feed")
    except ParseError as exc:
        assert exc.outcome in ("hostile", "empty", "not_a_feed")
    else:
        assert isinstance(feed.entries, tuple)


@pytest.mark.parametrize(
    ("name", "fixture", "ttl", "update_period"),
    [
        ("RSS 2.0 <ttl> in minutes", "rss20_ttl.xml", 2700.0, None),
        ("RSS 1.0 sy:updatePeriod daily, 4 times", "rss10_syndication.xml", None, 21600.0),
        ("RSS 2.0 sy:updatePeriod hourly, twice; ttl 'soon' ignored", "rss20_sy_hourly.xml", None, 1800.0),
        ("no hints", "rss20.xml", None, None),
        ("Atom has neither", "atom10.xml", None, None),
    ],
)
def test_pace_hints(name: str, fixture: str, ttl: float | None, update_period: float | None) -> None:
    feed = parse_feed(fixture_bytes(fixture), "https://hints.example/feed")
    assert (feed.ttl_seconds, feed.update_period_seconds) == (ttl, update_period), name
    assert feed.entries  # the hints do not get in the way of the entries


def test_pace_hint_fixtures_keep_entry_dates_for_the_observed_frequency() -> None:
    feed = parse_feed(fixture_bytes("rss20_ttl.xml"), "https://ttl.example.org/rss")
    assert [e.published.hour if e.published else None for e in feed.entries] == [11, 10, 8, 8, None]


@pytest.mark.parametrize(
    ("name", "channel", "ttl"),
    [
        ("zero", "<ttl>0</ttl>", None),
        ("negative", "<ttl>-10</ttl>", None),
        ("not a number", "<ttl>abc</ttl>", None),
        ("empty", "<ttl/>", None),
        ("fine", "<ttl>1</ttl>", 60.0),
    ],
)
def test_malformed_ttl_is_no_hint(name: str, channel: str, ttl: float | None) -> None:
    body = f'<rss version="2.0"><channel><title>t</title>{channel}</channel></rss>'.encode()
    assert parse_feed(body, "https://t.example/").ttl_seconds == ttl, name


@pytest.mark.parametrize(
    ("name", "item", "count", "refused"),
    [
        ("rss at the limit", "<item><guid>g{}</guid></item>", MAX_ENTRIES, False),
        ("rss over the limit", "<item><guid>g{}</guid></item>", MAX_ENTRIES + 1, True),
        (
            "prefixed atom entries over the limit",
            "<a:entry><a:id>g{}</a:id></a:entry>",
            MAX_ENTRIES + 1,
            True,
        ),
        ("items with attributes over the limit", '<item rdf:about="x{}"/>', MAX_ENTRIES + 1, True),
        ("other tags starting alike are not entries", "<itemized>{}</itemized>", MAX_ENTRIES + 1, False),
    ],
)
def test_entry_count_cap(name: str, item: str, count: int, refused: bool) -> None:
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>'
        + "".join(item.format(i) for i in range(count))
        + "</channel></rss>"
    ).encode()
    if refused:
        with pytest.raises(ParseError) as err:
            parse_feed(body, "http://127.0.0.1/feed")
        assert err.value.outcome == "too_many_entries"
    else:
        try:
            parse_feed(body, "http://127.0.0.1/feed")
        except ParseError as exc:
            assert exc.outcome != "too_many_entries", name

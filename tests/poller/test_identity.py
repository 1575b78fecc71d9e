"""canonical_url and article_id: named cases plus properties (idempotent, tracking-proof, total)."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newswatch.poller.identity import TRACKING_PARAMS, article_id, canonical_url, is_tracking_param


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTP://Example.COM/a/B", "http://example.com/a/B"),
        ("https://example.com:443/x", "https://example.com/x"),
        ("http://example.com:80", "http://example.com/"),
        ("http://example.com:8080/x", "http://example.com:8080/x"),
        ("https://example.com./x#section-2", "https://example.com/x"),
        ("https://example.com/x?b=2&a=1", "https://example.com/x?a=1&b=2"),
        ("https://example.com/x?utm_source=rss&id=7&fbclid=Z&UTM_Medium=m", "https://example.com/x?id=7"),
        ("https://example.com/x?gclid=1&mc_cid=2&mc_eid=3&ref=home", "https://example.com/x"),
        ("https://user:pw@example.com/x", "https://example.com/x"),
        ("https://[2001:DB8::1]:443/x", "https://[2001:db8::1]/x"),
        ("  https://example.com/x  ", "https://example.com/x"),
        ("https://example.com/x?q=a%20b&p=c+d", "https://example.com/x?p=c+d&q=a%20b"),
        ("urn:uuid:1234", "urn:uuid:1234"),
        ("not a url", "not a url"),
        ("", ""),
    ],
)
def test_canonical_url(raw: str, expected: str) -> None:
    assert canonical_url(raw) == expected


def test_tracking_param_names() -> None:
    assert is_tracking_param("utm_campaign")
    assert is_tracking_param("FBCLID")
    assert not is_tracking_param("id")
    assert not is_tracking_param("reference")


def test_article_id_prefers_guid_then_link_then_content() -> None:
    by_guid = article_id("tag:example.com,2025:1", "https://example.com/a", "text")
    assert by_guid == article_id("tag:example.com,2025:1", "https://other.example/b", "other text")
    by_link = article_id("", "https://example.com/a?utm_source=x", "text")
    assert by_link == article_id(None, "https://EXAMPLE.com/a", "different text")
    assert by_link != by_guid
    by_content = article_id(None, None, "text")
    assert by_content == article_id("  ", "", "text")
    assert by_content != article_id(None, None, "other text")
    assert len(by_guid) == len(by_link) == len(by_content) == 32
    assert all(c in string.hexdigits for c in by_guid + by_link + by_content)


def test_guid_that_is_a_url_is_canonicalised() -> None:
    assert article_id("https://example.com/a?fbclid=1", None, "") == article_id(
        None, "https://example.com/a", ""
    )


_segment = st.text(alphabet=string.ascii_letters + string.digits + "-._~%", max_size=8)
_param = st.tuples(st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=6), _segment).filter(
    lambda kv: not is_tracking_param(kv[0])
)
_urls = st.builds(
    lambda scheme, host, port, path, params, frag: (
        f"{scheme}://{host}{port}/{'/'.join(path)}"
        + ("?" + "&".join(f"{k}={v}" for k, v in params) if params else "")
        + (f"#{frag}" if frag else "")
    ),
    st.sampled_from(["http", "https", "HTTP", "Https"]),
    st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,10}(\.[A-Za-z]{2,5}){1,2}", fullmatch=True),
    st.sampled_from(["", ":80", ":443", ":8080"]),
    st.lists(_segment, max_size=4),
    st.lists(_param, max_size=4),
    _segment,
)
_tracking = st.lists(
    st.tuples(
        st.sampled_from([*sorted(TRACKING_PARAMS), "utm_source", "utm_medium", "UTM_Campaign"]), _segment
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_urls, st.text(max_size=60)))
def test_canonical_url_is_idempotent_and_total(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


@settings(max_examples=300, deadline=None)
@given(_urls, _tracking)
def test_tracking_params_never_change_the_id(url: str, tracking: list[tuple[str, str]]) -> None:
    base, _, fragment = url.partition("#")
    extra = "&".join(f"{k}={v}" for k, v in tracking)
    tracked = base + ("&" if "?" in base else "?") + extra + (f"#{fragment}" if fragment else "")
    assert canonical_url(tracked) == canonical_url(url)
    assert article_id(None, tracked, "x") == article_id(None, url, "y")
    assert article_id(tracked, None, "x") == article_id(url, None, "y")


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.text()), st.one_of(st.none(), st.text()), st.one_of(st.none(), st.text()))
def test_article_id_never_raises(guid: str | None, link: str | None, content: str | None) -> None:
    value = article_id(guid, link, content)
    assert len(value) == 32
    assert set(value) <= set("0123456789abcdef")

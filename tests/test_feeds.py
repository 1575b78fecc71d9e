"""The feed catalogue: ids, YAML validation (named cases) and add/list/remove on the real broker."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from newswatch.errors import UnsafeURLError
from newswatch.feeds import (
    FeedCatalogueError,
    add_feeds,
    feed_id_for,
    list_feeds,
    load_feeds_yaml,
    make_feed,
    remove_feed,
    validate_feed_url,
)
from newswatch.settings import Settings

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "feeds"
A = "feeds: [{url: 'https://a.example/', "  # an entry with a valid URL; each case closes it


def test_feed_id_is_stable_over_url_variants() -> None:
    fid = feed_id_for("https://news.example.org/rss")
    assert len(fid) == 16 and int(fid, 16) >= 0
    assert feed_id_for("HTTPS://News.Example.org:443/rss?utm_source=x#top") == fid
    assert feed_id_for("https://news.example.org/rss2") != fid


def test_valid_yaml() -> None:
    first, second = load_feeds_yaml(FIXTURES / "valid_feeds.yaml")
    assert first.url == "https://www.mondialisation.ca/feed"
    assert (first.title, first.language, first.poll_interval_seconds) == ("Mondialisation.ca", "fr", 600)
    assert list(first.tags) == ["geopolitics", "fr"]
    assert first.enabled and not second.enabled
    assert second.feed_id == feed_id_for("https://news.example.org/rss")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("not a mapping", "- url: https://a.example/", "list under 'feeds'"),
        ("feeds not a list", "feeds: {url: x}", "list under 'feeds'"),
        ("invalid yaml", "feeds: [", "not valid YAML"),
        ("entry not a mapping", "feeds: [https://a.example/]", r"feeds\[0\]: expected a mapping"),
        ("missing url", "feeds: [{title: t}]", r"feeds\[0\]: field 'url' is required"),
        (
            "bad scheme",
            "feeds: [{url: 'ftp://a.example/f'}]",
            r"feeds\[0\] \(ftp://a\.example/f\): field 'url'",
        ),
        ("credentials", "feeds: [{url: 'https://u:p@a.example/'}]", "field 'url': credentials"),
        ("unknown field", A + "intervall: 5}]", "unknown field 'intervall'"),
        (
            "interval text",
            A + "poll_interval_seconds: often}]",
            "whole number",
        ),
        (
            "interval bool",
            A + "poll_interval_seconds: true}]",
            "whole number",
        ),
        (
            "interval range",
            A + "poll_interval_seconds: 999999}]",
            "0 \\(default\\)",
        ),
        ("tags not list", A + "tags: news}]", "field 'tags'"),
        ("enabled text", A + "enabled: 'sometimes'}]", "field 'enabled'"),
        ("language", A + "language: 'French!'}]", "BCP 47"),
        (
            "duplicate",
            "feeds: [{url: 'https://a.example/f'}, {url: 'HTTPS://A.example/f?utm_source=x'}]",
            r"feeds\[1\].*same feed as feeds\[0\]",
        ),
    ],
)
def test_invalid_yaml_names_entry_and_field(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FeedCatalogueError, match=message) as info:
        load_feeds_yaml(path)
    assert str(path) in str(info.value), name
    assert isinstance(info.value, ValueError) and not info.value.retriable


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FeedCatalogueError, match="cannot read"):
        load_feeds_yaml(tmp_path / "absent.yaml")


@pytest.mark.parametrize("url", ["http://127.0.0.1/feed", "http://localhost/feed", "http://10.0.0.1/f"])
def test_validate_feed_url_refuses_private_unless_allowed(url: str) -> None:
    with pytest.raises(UnsafeURLError):
        validate_feed_url(url, allow_private=False)
    assert validate_feed_url(f" {url} ", allow_private=True) == url


@pytest.mark.integration
async def test_add_list_remove(settings: Settings) -> None:
    run = uuid.uuid4().hex[:12]
    url = f"http://127.0.0.1:9/{run}/feed"
    feed = make_feed(url, title=f"catalogue test {run}", tags=["test"], poll_interval_seconds=60)
    try:
        (stored,) = await add_feeds(settings, [feed])
        assert stored.feed_id == feed_id_for(url)
        assert stored.HasField("added_at")
        listed = {f.feed_id: f for f in await list_feeds(settings)}
        assert listed[stored.feed_id].title == f"catalogue test {run}"
        # Re-adding updates the feed and keeps when it was first added.
        feed.title = "renamed"
        (again,) = await add_feeds(settings, [feed])
        assert again.added_at == stored.added_at
        assert {f.feed_id: f for f in await list_feeds(settings)}[stored.feed_id].title == "renamed"
        # Remove by URL variant, then the feed is gone and a second remove reports nothing to do.
        assert await remove_feed(settings, url + "?utm_source=cli")
        assert stored.feed_id not in {f.feed_id for f in await list_feeds(settings)}
        assert not await remove_feed(settings, stored.feed_id)
    finally:
        await remove_feed(settings, feed_id_for(url))


@pytest.mark.integration
async def test_add_refuses_private_url_without_permission(settings: Settings) -> None:
    strict = settings.replace(allow_private_networks=False)
    with pytest.raises(UnsafeURLError):
        await add_feeds(strict, [make_feed("http://127.0.0.1/feed")])

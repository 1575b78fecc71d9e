"""The feed catalogue: ids, YAML validation (named cases) and add/list/remove on the real broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from newswatch.cli import _feed_row, build_parser
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
    assert not first.full_text and second.full_text
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
        ("full_text text", A + "full_text: 'always'}]", "field 'full_text' must be true or false"),
        ("full_text number", A + "full_text: 1}]", "field 'full_text' must be true or false"),
        ("full_text null", A + "full_text: null}]", "field 'full_text' must be true or false"),
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
    feed = make_feed(
        url, title=f"catalogue test {run}", tags=["test"], poll_interval_seconds=60, full_text=True
    )
    try:
        (stored,) = await add_feeds(settings, [feed])
        assert stored.feed_id == feed_id_for(url)
        assert stored.HasField("added_at")
        listed = {f.feed_id: f for f in await list_feeds(settings)}
        assert listed[stored.feed_id].title == f"catalogue test {run}"
        assert listed[stored.feed_id].full_text
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


def test_make_feed_full_text_defaults_off() -> None:
    assert not make_feed("https://a.example/f").full_text
    assert make_feed("https://a.example/f", full_text=True).full_text


def test_cli_feeds_add_full_text_flag() -> None:
    parser = build_parser()
    assert parser.parse_args(["feeds", "add", "https://a.example/f", "--full-text"]).full_text is True
    assert parser.parse_args(["feeds", "add", "https://a.example/f"]).full_text is False


def test_feeds_list_row_shows_the_text_source() -> None:
    assert "  text=full  " in _feed_row(make_feed("https://a.example/f", full_text=True))
    assert "  text=feed  " in _feed_row(make_feed("https://a.example/f"))


def _cli(settings: Settings, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "NEWSWATCH_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "NEWSWATCH_ALLOW_PRIVATE_NETWORKS": "true",
        "NEWSWATCH_TOPIC_PARTITIONS": str(settings.topic_partitions),
    }
    return subprocess.run(
        [sys.executable, "-m", "newswatch", *argv], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.integration
def test_cli_full_text_add_import_and_list(settings: Settings, tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:12]
    added_url = f"http://127.0.0.1:9/{run}/added"
    imported_url = f"http://127.0.0.1:9/{run}/imported"
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text(f"feeds:\n  - url: {imported_url}\n    full_text: true\n", encoding="utf-8")
    try:
        added = _cli(settings, "feeds", "add", added_url, "--full-text")
        assert added.returncode == 0, added.stderr
        imported = _cli(settings, "feeds", "import", str(feeds_file))
        assert imported.returncode == 0, imported.stderr
        listed = _cli(settings, "feeds", "list")
        rows = {line.split()[0]: line for line in listed.stdout.splitlines()}
        assert "text=full" in rows[feed_id_for(added_url)]
        assert "text=full" in rows[feed_id_for(imported_url)]
        as_json = _cli(settings, "feeds", "list", "--json")
        records = {r["feed_id"]: r for r in map(json.loads, as_json.stdout.splitlines())}
        assert records[feed_id_for(added_url)]["full_text"] is True
    finally:
        for url in (added_url, imported_url):
            _cli(settings, "feeds", "remove", url)


def test_cli_import_names_a_bad_full_text_value(tmp_path: Path) -> None:
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text(
        "feeds:\n  - url: https://a.example/f\n    full_text: sometimes\n", encoding="utf-8"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "newswatch", "feeds", "import", str(feeds_file)],
        env={**os.environ, "NEWSWATCH_KAFKA_BOOTSTRAP": "127.0.0.1:1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1  # invalid input, reported before anything is written
    assert "feeds[0]" in proc.stderr and "field 'full_text' must be true or false" in proc.stderr

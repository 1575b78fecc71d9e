"""The feed catalogue: ``newswatch.feeds.v1`` (compacted; key ``feed_id``, value ``Feed``; tombstone = gone).

- :func:`feed_id_for` — 16 hex characters of the SHA-256 of the canonical URL, so the same feed added
  twice (with or without tracking parameters, default port, upper-case host) is one feed;
- :func:`load_feeds_yaml` — ``feeds: [{url, title?, language?, poll_interval_seconds?, tags?, enabled?,
  full_text?, feed_id?}]``; raises :class:`FeedCatalogueError` naming the file, the entry and the field.
  ``full_text: true`` has the poller fetch each new article's page and keep its main text
  (:mod:`newswatch.poller.fulltext`);
- :func:`add_feeds` / :func:`remove_feed` / :func:`list_feeds` — read and write the topic (topics are
  created first). Writes wait for Kafka's acknowledgement.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from newswatch import contracts, kafka, netguard
from newswatch.errors import NewswatchError
from newswatch.poller.identity import canonical_url
from newswatch.settings import Settings
from newswatch.topics import FEEDS
from newswatch.v1.feed_pb2 import Feed

__all__ = [
    "MAX_POLL_INTERVAL_SECONDS",
    "FeedCatalogueError",
    "add_feeds",
    "feed_id_for",
    "list_feeds",
    "load_feeds_yaml",
    "make_feed",
    "remove_feed",
    "validate_feed_url",
]

MAX_POLL_INTERVAL_SECONDS = 86400
_FIELDS = {"url", "title", "language", "poll_interval_seconds", "tags", "enabled", "full_text", "feed_id"}
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
_FEED_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class FeedCatalogueError(NewswatchError, ValueError):
    """A feed definition is invalid (not retriable: fix the input)."""


def feed_id_for(url: str) -> str:
    """Stable id of the feed at ``url``: a hash of its canonical URL (16 hex characters)."""
    return hashlib.sha256(canonical_url(url).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def validate_feed_url(url: str, allow_private: bool) -> str:
    """The stripped URL when newswatch may poll it; raises UnsafeURLError otherwise."""
    netguard.check_url(url, allow_private)
    return url.strip()


def make_feed(
    url: str,
    *,
    title: str = "",
    language: str = "",
    poll_interval_seconds: int = 0,
    tags: tuple[str, ...] | list[str] = (),
    enabled: bool = True,
    full_text: bool = False,
    feed_id: str = "",
) -> Feed:
    """A Feed message with its id derived from the URL unless given."""
    url = url.strip()
    return Feed(
        feed_id=feed_id or feed_id_for(url),
        url=url,
        title=title,
        language=language,
        enabled=enabled,
        poll_interval_seconds=poll_interval_seconds,
        tags=list(tags),
        full_text=full_text,
    )


def _check_fields(where: str, item: Mapping[str, Any]) -> None:
    unknown = sorted(set(map(str, item)) - _FIELDS)
    if unknown:
        raise FeedCatalogueError(
            f"{where}: unknown field {unknown[0]!r} (allowed: {', '.join(sorted(_FIELDS))})"
        )
    url = item.get("url")
    if not isinstance(url, str) or not url.strip():
        raise FeedCatalogueError(f"{where}: field 'url' is required and must be a string")
    try:
        netguard.check_url(url, allow_private=True)
    except NewswatchError as exc:
        raise FeedCatalogueError(f"{where}: field 'url': {exc}") from None
    for name in ("title", "language", "feed_id"):
        if name in item and not isinstance(item[name], str):
            raise FeedCatalogueError(f"{where}: field {name!r} must be a string")
    if item.get("language") and not _LANGUAGE.match(item["language"]):
        raise FeedCatalogueError(f"{where}: field 'language' must be a BCP 47 tag such as 'fr' or 'en-GB'")
    if item.get("feed_id") is not None and not _FEED_ID.match(item["feed_id"]):
        raise FeedCatalogueError(f"{where}: field 'feed_id' must be 1-64 characters of A-Z a-z 0-9 . _ -")
    interval = item.get("poll_interval_seconds", 0)
    if isinstance(interval, bool) or not isinstance(interval, int):
        raise FeedCatalogueError(f"{where}: field 'poll_interval_seconds' must be a whole number of seconds")
    if interval != 0 and not 1 <= interval <= MAX_POLL_INTERVAL_SECONDS:
        raise FeedCatalogueError(
            f"{where}: field 'poll_interval_seconds' must be 0 (default) or 1-{MAX_POLL_INTERVAL_SECONDS}"
        )
    tags = item.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
        raise FeedCatalogueError(f"{where}: field 'tags' must be a list of non-empty strings")
    for name, default in (("enabled", True), ("full_text", False)):
        if not isinstance(item.get(name, default), bool):
            raise FeedCatalogueError(f"{where}: field {name!r} must be true or false")


def load_feeds_yaml(path: Path) -> list[Feed]:
    """Read and validate a feeds file. Raises FeedCatalogueError (also for unreadable files)."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FeedCatalogueError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise FeedCatalogueError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("feeds"), list):
        raise FeedCatalogueError(f"{path}: expected a mapping with a list under 'feeds'")
    feeds: list[Feed] = []
    first_entry: dict[str, int] = {}
    for index, item in enumerate(doc["feeds"]):
        where = f"{path}: feeds[{index}]"
        if not isinstance(item, dict):
            raise FeedCatalogueError(f"{where}: expected a mapping with at least 'url'")
        if isinstance(item.get("url"), str):
            where += f" ({item['url'].strip()})"
        _check_fields(where, item)
        feed = make_feed(
            item["url"],
            title=item.get("title", "").strip(),
            language=item.get("language", "").strip(),
            poll_interval_seconds=item.get("poll_interval_seconds", 0),
            tags=[t.strip() for t in item.get("tags", [])],
            enabled=item.get("enabled", True),
            full_text=item.get("full_text", False),
            feed_id=item.get("feed_id") or "",
        )
        if feed.feed_id in first_entry:
            raise FeedCatalogueError(
                f"{where}: same feed as feeds[{first_entry[feed.feed_id]}] (feed_id {feed.feed_id})"
            )
        first_entry[feed.feed_id] = index
        feeds.append(feed)
    return feeds


async def list_feeds(settings: Settings) -> list[Feed]:
    """Every feed in the catalogue, sorted by URL."""
    await kafka.ensure_topics(settings, [FEEDS])
    items = await kafka.read_compacted(settings, FEEDS, Feed)
    return sorted(items.values(), key=lambda f: (f.url, f.feed_id))


async def _write(settings: Settings, records: list[tuple[str, Feed | None]]) -> None:
    producer = kafka.make_producer(settings, "feeds")
    await producer.start()
    try:
        futures = [await kafka.publish(producer, FEEDS, key, value) for key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def add_feeds(settings: Settings, feeds: list[Feed]) -> list[Feed]:
    """Validate and store ``feeds`` (replacing feeds with the same id, keeping their ``added_at`` and,
    unless given, their ``health``).

    Raises UnsafeURLError / FeedCatalogueError before anything is written. Returns the stored feeds.
    """
    prepared: list[Feed] = []
    for feed in feeds:
        url = validate_feed_url(feed.url, settings.allow_private_networks)
        stored = Feed()
        stored.CopyFrom(feed)
        stored.url = url
        stored.feed_id = feed.feed_id or feed_id_for(url)
        if not _FEED_ID.match(stored.feed_id):
            raise FeedCatalogueError(f"{url}: feed_id {stored.feed_id!r} is not 1-64 of A-Z a-z 0-9 . _ -")
        if stored.poll_interval_seconds > MAX_POLL_INTERVAL_SECONDS:
            raise FeedCatalogueError(f"{url}: poll_interval_seconds above {MAX_POLL_INTERVAL_SECONDS}")
        prepared.append(stored)
    await kafka.ensure_topics(settings, [FEEDS])
    existing = await kafka.read_compacted(settings, FEEDS, Feed)
    for stored in prepared:
        old = existing.get(stored.feed_id)
        if old is not None and old.HasField("health") and not stored.HasField("health"):
            stored.health.CopyFrom(old.health)  # the poller's view of the feed survives an edit
        if old is not None and old.HasField("added_at"):
            stored.added_at.CopyFrom(old.added_at)
        elif not stored.HasField("added_at"):
            stored.added_at.CopyFrom(contracts.timestamp())
    await _write(settings, [(f.feed_id, f) for f in prepared])
    return prepared


async def remove_feed(settings: Settings, feed_id_or_url: str) -> bool:
    """Remove a feed by id or URL (tombstone). Returns False when no such feed is in the catalogue."""
    wanted = feed_id_or_url.strip()
    await kafka.ensure_topics(settings, [FEEDS])
    existing = await kafka.read_compacted(settings, FEEDS, Feed)
    if "://" in wanted:
        canonical = canonical_url(wanted)
        ids = [
            fid
            for fid, f in existing.items()
            if fid == feed_id_for(wanted) or canonical_url(f.url) == canonical
        ]
    else:
        ids = [wanted] if wanted in existing else []
    if not ids:
        return False
    await _write(settings, [(fid, None) for fid in ids])
    return True

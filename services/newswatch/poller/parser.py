"""Feed bodies → entries: RSS 0.9x/1.0/2.0, Atom 0.3/1.0 and JSON Feed through feedparser.

Contract of :func:`parse_feed`: CPU-bound and blocking (the service calls it in ``asyncio.to_thread``);
returns a :class:`ParsedFeed` or raises :class:`~newswatch.errors.ParseError` whose ``outcome`` is one of
:data:`PARSE_ERROR_REASONS`:

- ``hostile`` — the body declares an XML entity (``<!ENTITY``, any case, also in UTF-16/32). feedparser's
  loose parser expands internal entities ("billion laughs"), so such bodies never reach it;
- ``empty`` — nothing but whitespace;
- ``not_a_feed`` — feedparser recognised no feed format and found no entries.

Text fields are plain text: HTML is stripped (scripts and styles dropped, entities decoded, whitespace
collapsed). Dates are timezone-aware UTC or None. The feed's own pace hints (RSS 2.0 ``<ttl>``,
``sy:updatePeriod`` / ``sy:updateFrequency``) are read by :mod:`newswatch.poller.freshness`: seconds, or
None when absent or malformed.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import feedparser

from newswatch.errors import ParseError
from newswatch.poller.freshness import ttl_seconds, update_period_seconds

__all__ = ["PARSE_ERROR_REASONS", "Entry", "ParsedFeed", "html_to_text", "is_hostile", "parse_feed"]

PARSE_ERROR_REASONS: tuple[str, ...] = ("hostile", "empty", "not_a_feed")
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\s*\n\s*")
_BLOCK = frozenset(
    {"address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "figure"}
    | {"footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre"}
    | {"section", "table", "td", "th", "tr", "ul"}
)
_SKIP = frozenset({"script", "style", "template", "noscript"})


@dataclass(frozen=True, slots=True)
class Entry:
    guid: str
    link: str
    title: str
    summary: str
    content: str
    authors: tuple[str, ...]
    published: datetime | None
    language: str


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    version: str  # feedparser's name for the format, e.g. "rss20", "atom10"; "" when unknown
    title: str
    link: str
    language: str
    entries: tuple[Entry, ...]
    ttl_seconds: float | None = None  # <ttl>
    update_period_seconds: float | None = None  # sy:updatePeriod / sy:updateFrequency


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skipping += 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment: paragraphs on their own lines, runs of spaces collapsed."""
    if "<" not in markup and "&" not in markup:
        text = markup
    else:
        extractor = _TextExtractor()
        extractor.feed(markup)
        extractor.close()
        text = "".join(extractor.parts)
    text = _SPACES.sub(" ", text)
    return _BLANK_LINES.sub("\n", text).strip()


def is_hostile(body: bytes) -> bool:
    """True when ``body`` declares an XML entity, in any case, in single- or multi-byte encodings."""
    return bool(_ENTITY.search(body) or (b"\x00" in body and _ENTITY.search(body.replace(b"\x00", b""))))


def _text(value: Any) -> str:
    return html_to_text(value) if isinstance(value, str) else ""


def _when(entry: Mapping[str, Any]) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            try:
                year, month, day, hour, minute, second = (int(v) for v in parsed[:6])
                return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
            except (TypeError, ValueError):
                continue
    return None


def _authors(entry: Mapping[str, Any]) -> tuple[str, ...]:
    names = [
        _text(a.get("name") or a.get("email") or "")
        for a in entry.get("authors") or ()
        if isinstance(a, Mapping)
    ]
    if not names and isinstance(entry.get("author"), str):
        names.append(_text(entry["author"]))
    return tuple(dict.fromkeys(n for n in names if n))


def _details(entry: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    yield from (c for c in entry.get("content") or () if isinstance(c, Mapping))
    for key in ("summary_detail", "title_detail"):
        if isinstance(entry.get(key), Mapping):
            yield entry[key]


def _entry(entry: Mapping[str, Any], feed_language: str) -> Entry:
    contents = [_text(c.get("value")) for c in entry.get("content") or () if isinstance(c, Mapping)]
    content = max(contents, key=len, default="")
    summary = _text(entry.get("summary"))
    language = next((str(d["language"]) for d in _details(entry) if d.get("language")), feed_language)
    return Entry(
        guid=str(entry.get("id") or "").strip(),
        link=str(entry.get("link") or "").strip(),
        title=_text(entry.get("title")),
        summary=summary,
        content="" if content == summary else content,
        authors=_authors(entry),
        published=_when(entry),
        language=language,
    )


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse a feed body fetched from ``url`` (used to resolve relative links). Raises ParseError."""
    if not body.strip():
        raise ParseError("empty body", outcome="empty")
    if is_hostile(body):
        raise ParseError("body declares an XML entity (refused before parsing)", outcome="hostile")
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    # A stream, never bytes: given bytes, feedparser first tries to open them as a local file name.
    result = feedparser.parse(io.BytesIO(body), response_headers=headers)
    version = str(result.get("version") or "")
    if not result.entries and not version:
        reason = result.get("bozo_exception")
        raise ParseError(f"not a feed: {reason!r}" if reason else "not a feed", outcome="not_a_feed")
    feed = result.feed
    language = str(feed.get("language") or "").strip()
    return ParsedFeed(
        version=version,
        title=_text(feed.get("title")),
        link=str(feed.get("link") or ""),
        language=language,
        entries=tuple(_entry(e, language) for e in result.entries),
        ttl_seconds=ttl_seconds(feed.get("ttl")),
        update_period_seconds=update_period_seconds(
            feed.get("sy_updateperiod"), feed.get("sy_updatefrequency")
        ),
    )

"""Feed bodies → entries: RSS 0.9x/1.0/2.0, Atom 0.3/1.0 and JSON Feed.

Two paths give the same values: :mod:`newswatch.poller.fastparse` (lxml, JSON Feed; at least 10x faster)
takes the well-formed feeds it is sure about and returns None for anything else, which then goes through
feedparser (:func:`parse_with_feedparser`, tolerant of broken XML and odd encodings).

Contract of :func:`parse_feed`: CPU-bound and blocking (the service calls it in ``asyncio.to_thread``);
returns a :class:`ParsedFeed` or raises :class:`~newswatch.errors.ParseError` whose ``outcome`` is one of
:data:`PARSE_ERROR_REASONS`:

- ``hostile`` — the body declares an XML entity (``<!ENTITY``, any case, also in UTF-16/32). feedparser's
  loose parser expands internal entities ("billion laughs"), so such bodies never reach it;
- ``empty`` — nothing but whitespace;
- ``not_a_feed`` — feedparser recognised no feed format and found no entries;
- ``too_many_entries`` — more than :data:`MAX_ENTRIES` ``<item>`` / ``<entry>`` start tags;
- ``bad_encoding`` — the bytes after a byte-order mark are not valid in its encoding.

A byte-order mark decides the encoding before the XML declaration and the HTTP charset
(:mod:`newswatch.poller.encoding`); otherwise the declaration, then the HTTP charset, then UTF-8.

Text fields are plain text: HTML is stripped (scripts and styles dropped, entities decoded, whitespace
collapsed). Dates are timezone-aware UTC or None. The feed's own pace hints (RSS 2.0 ``<ttl>``,
``sy:updatePeriod`` / ``sy:updateFrequency``) are read by :mod:`newswatch.poller.freshness`: seconds, or
None when absent or malformed. WebSub discovery: ``hub_url`` and ``self_url`` are the first feed-level
link with ``rel="hub"`` / ``rel="self"`` (Atom ``link``, ``atom:link`` in RSS; JSON Feed ``hubs`` of type
WebSub and ``feed_url``), resolved against the feed URL; None when absent. They are untrusted input: the
WebSub subscriber validates them before any use.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import feedparser
from feedparser.datetimes import _parse_date as _feedparser_date

from newswatch.errors import ParseError
from newswatch.poller.encoding import apply_bom
from newswatch.poller.freshness import ttl_seconds, update_period_seconds

__all__ = [
    "PARSE_ERROR_REASONS",
    "Entry",
    "ParsedFeed",
    "build_entry",
    "html_to_text",
    "is_hostile",
    "parse_date",
    "parse_feed",
    "parse_with_feedparser",
    "plain_text",
    "struct_to_datetime",
]

PARSE_ERROR_REASONS: tuple[str, ...] = ("hostile", "empty", "not_a_feed", "too_many_entries", "bad_encoding")
# Feeds carry tens of entries; 100,000 of them (3.5 MB, under the body cap) took feedparser 280 MB and
# 15 s. Bodies with more entry start tags than this are refused before any parser sees them.
MAX_ENTRIES = 10_000
_ENTRY_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s/>]")
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLOCK = frozenset(
    {"address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "figure"}
    | {"footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre"}
    | {"section", "table", "td", "th", "tr", "ul"}
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
    )
}
_RFC822 = re.compile(
    r"(?:[A-Za-z]{3}, )?(\d{1,2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-]\d{4}|GMT|UTC|UT|Z)"
)
_ISO8601 = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})")
_ATTRIBUTES = r"""(?:[^>"']|"[^"]*"|'[^']*')*"""
_ANY_TAG = re.compile(rf"</?[A-Za-z][^\s/>]*{_ATTRIBUTES}>|<!--.*?(?:-->|\Z)|<[!?][^>]*>", re.DOTALL)
_SKIP = ("script", "style", "template", "noscript")
_SKIP_HINT = re.compile(r"<[sStTnN]")
_SKIPPED = re.compile(
    rf"<({'|'.join(_SKIP)})(?=[\s/>]){_ATTRIBUTES}(?<!/)>.*?(?:</\1\s*>|\Z)", re.DOTALL | re.IGNORECASE
)
_BLOCK_TAG = re.compile(rf"</?(?:{'|'.join(sorted(_BLOCK))})(?=[\s/>]){_ATTRIBUTES}>", re.IGNORECASE)


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
    hub_url: str | None = None  # first feed-level rel="hub" link (WebSub)
    self_url: str | None = None  # first feed-level rel="self" link (WebSub topic)


def _markup_to_text(markup: str) -> str:
    """Tags removed (a newline for block tags), script/style/... bodies dropped, entities decoded.

    Regular expressions only (tags with quoted attributes, comments, declarations, processing
    instructions); a ``<`` that starts none of them is text, as in browsers.
    """
    text = _SKIPPED.sub("", markup) if _SKIP_HINT.search(markup) else markup
    text = _BLOCK_TAG.sub("\n", text)
    text = _ANY_TAG.sub("", text)
    if "&" not in text:
        return text
    if text.count("&") == text.count("&amp;"):  # the common case, without a call per reference
        return text.replace("&amp;", "&")
    return unescape(text)


def _collapse(line: str) -> str:
    if "  " in line or "\t" in line or "\r" in line or "\xa0" in line or "\f" in line or "\v" in line:
        return _SPACES.sub(" ", line)
    return line


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment: paragraphs on their own lines, runs of spaces collapsed."""
    text = markup if "<" not in markup and "&" not in markup else _markup_to_text(markup)
    if "\n" not in text:
        return _collapse(text).strip()
    return "\n".join(_collapse(line) for line in (raw.strip() for raw in text.split("\n")) if line)


def is_hostile(body: bytes) -> bool:
    """True when ``body`` declares an XML entity, in any case, in single- or multi-byte encodings."""
    return bool(_ENTITY.search(body) or (b"\x00" in body and _ENTITY.search(body.replace(b"\x00", b""))))


def plain_text(value: object) -> str:
    """:func:`html_to_text` of a string; "" for anything else (None, a missing field)."""
    return html_to_text(value) if isinstance(value, str) else ""


def struct_to_datetime(parsed: Any) -> datetime | None:
    """A UTC ``time.struct_time``-like 9-tuple (feedparser's ``*_parsed``) as an aware datetime, or None."""
    if not parsed:
        return None
    try:
        year, month, day, hour, minute, second = (int(v) for v in parsed[:6])
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _common_date(value: str) -> datetime | None:
    """The two common shapes, read without feedparser's chain of parsers (same result); None otherwise."""
    try:
        if match := _RFC822.fullmatch(value):
            day, month, year, hour, minute, second, offset = match.groups()
            when = datetime(
                int(year), _MONTHS[month.lower()], int(day), int(hour), int(minute), int(second), tzinfo=UTC
            )
        elif match := _ISO8601.fullmatch(value):
            year, month, day, hour, minute, second, offset = match.groups()
            when = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=UTC)
        else:
            return None
    except (KeyError, ValueError):
        return None
    if offset and offset[0] in "+-":
        digits = offset[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        when = when - delta if offset[0] == "+" else when + delta
    return when


def parse_date(value: str | None) -> datetime | None:
    """A feed date (RFC 822, W3C-DTF/ISO 8601 and the other forms feedparser knows) in UTC, or None."""
    if not value:
        return None
    return _common_date(value.strip()) or struct_to_datetime(_feedparser_date(value))


def _when(entry: Mapping[str, Any]) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        # dict.get: feedparser's own get maps a missing updated_parsed to published_parsed, with a warning.
        when = struct_to_datetime(dict.get(entry, key) if isinstance(entry, dict) else entry.get(key))
        if when is not None:
            return when
    return None


def build_entry(
    *,
    guid: str,
    link: str,
    title: str,
    summary: str,
    contents: Iterable[str],
    authors: Iterable[str],
    published: datetime | None,
    language: str,
) -> Entry:
    """The :class:`Entry` of raw (HTML or text) values; both parse paths end here.

    The longest content wins and is dropped when its text equals the summary's; author names are
    deduplicated in order and blank ones dropped.
    """
    content = max((plain_text(c) for c in contents), key=len, default="")
    summary_text = plain_text(summary)
    return Entry(
        guid=guid.strip(),
        link=link.strip(),
        title=plain_text(title),
        summary=summary_text,
        content="" if content == summary_text else content,
        authors=tuple(dict.fromkeys(n for n in map(plain_text, authors) if n)),
        published=published,
        language=language,
    )


def _authors(entry: Mapping[str, Any]) -> list[str]:
    names = [
        str(a.get("name") or a.get("email") or "")
        for a in entry.get("authors") or ()
        if isinstance(a, Mapping)
    ]
    if not any(n.strip() for n in names) and isinstance(entry.get("author"), str):
        names.append(entry["author"])
    return names


def _details(entry: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    yield from (c for c in entry.get("content") or () if isinstance(c, Mapping))
    for key in ("summary_detail", "title_detail"):
        if isinstance(entry.get(key), Mapping):
            yield entry[key]


def _string(value: object) -> str:
    return value if isinstance(value, str) else ""


def _entry(entry: Mapping[str, Any], feed_language: str) -> Entry:
    return build_entry(
        guid=str(entry.get("id") or ""),
        link=str(entry.get("link") or ""),
        title=_string(entry.get("title")),
        summary=_string(entry.get("summary")),
        contents=[
            c["value"]
            for c in entry.get("content") or ()
            if isinstance(c, Mapping) and isinstance(c.get("value"), str)
        ],
        authors=_authors(entry),
        published=_when(entry),
        language=next((str(d["language"]) for d in _details(entry) if d.get("language")), feed_language),
    )


def _feed_links(links: object) -> tuple[str | None, str | None]:
    """First ``hub`` and first ``self`` href of feedparser's ``feed.links`` (already absolute)."""
    hub = self_url = None
    for link in links if isinstance(links, list) else ():
        href = link.get("href") if isinstance(link, Mapping) else None
        if not isinstance(href, str) or not href.strip():
            continue
        rels = str(link.get("rel") or "").lower().split()
        if hub is None and "hub" in rels:
            hub = href.strip()
        if self_url is None and "self" in rels:
            self_url = href.strip()
    return hub, self_url


def _refuse(body: bytes) -> None:
    if not body.strip():
        raise ParseError("empty body", outcome="empty")
    if is_hostile(body):
        raise ParseError("body declares an XML entity (refused before parsing)", outcome="hostile")
    entries = sum(1 for _ in zip(_ENTRY_TAG.finditer(body), range(MAX_ENTRIES + 1), strict=False))
    if entries > MAX_ENTRIES:
        raise ParseError(
            f"more than {MAX_ENTRIES} entries (refused before parsing)", outcome="too_many_entries"
        )


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse a feed body fetched from ``url`` (used to resolve relative links). Raises ParseError.

    The fast path first; feedparser when it declines.
    """
    # Imported here: fastparse builds on this module's values and helpers.
    from newswatch.poller.fastparse import parse_fast

    _refuse(body)
    body, content_type = apply_bom(body, content_type)
    fast = parse_fast(body, url, content_type)
    return fast if fast is not None else _feedparser(body, url, content_type)


def parse_with_feedparser(body: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """:func:`parse_feed` through feedparser only (the reference the fast path is measured against)."""
    _refuse(body)
    body, content_type = apply_bom(body, content_type)
    return _feedparser(body, url, content_type)


def _feedparser(body: bytes, url: str, content_type: str | None) -> ParsedFeed:
    # Without a content type feedparser decodes as ISO-8859-1 once any header is given: say "XML", so
    # the XML declaration (or UTF-8) decides, as it does on the fast path.
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    # A stream, never bytes: given bytes, feedparser first tries to open them as a local file name.
    result = feedparser.parse(io.BytesIO(body), response_headers=headers)
    version = str(result.get("version") or "")
    if not result.entries and not version:
        reason = result.get("bozo_exception")
        raise ParseError(f"not a feed: {reason!r}" if reason else "not a feed", outcome="not_a_feed")
    feed = result.feed
    language = str(feed.get("language") or "").strip()
    hub, self_url = _feed_links(feed.get("links"))
    return ParsedFeed(
        version=version,
        title=plain_text(feed.get("title")),
        link=str(feed.get("link") or ""),
        language=language,
        entries=tuple(_entry(e, language) for e in result.entries),
        ttl_seconds=ttl_seconds(feed.get("ttl")),
        update_period_seconds=update_period_seconds(
            feed.get("sy_updateperiod"), feed.get("sy_updatefrequency")
        ),
        hub_url=hub,
        self_url=self_url,
    )

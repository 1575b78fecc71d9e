"""The fast parse path: well-formed RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 with lxml, JSON Feed 1.x with json.

Contract of :func:`parse_fast`: CPU-bound, blocking, never raises; returns the :class:`ParsedFeed` that
feedparser would give (same entries: guid, link, title, summary/content text, published, authors) or None
when it is not sure, and the caller falls back to feedparser. It declines: bodies that are not
well-formed XML, declare an encoding other than UTF-8/ASCII or arrive as ``text/*`` without a charset
and with non-ASCII bytes, unknown roots, ``xml:base`` or HTML ``base``/``lang`` attributes, items outside
their usual place, and any entry element whose meaning in feedparser it does not reproduce (a second
description, ``media:title``, a nested element feedparser would read as a field, markup inside a text
element, a script or comment inside HTML, UTF-8 text that feedparser would "repair" as if read as
Latin-1, ...). On feedparser's own ~2,200 test feeds it answers for about 70% of the well-formed ones
and agrees with feedparser on every entry field (tests/poller/test_fastparse_equivalence.py). The lxml
parser never resolves entities, loads DTDs or touches the network, and bodies
declaring an entity are refused before this runs (:func:`~newswatch.poller.parser.is_hostile`).

JSON Feed (``application/feed+json``, or a body starting with ``{`` whose ``version`` is
``https://jsonfeed.org/version/1*``) is parsed here only; feedparser 6.0 does not read it. Versions are
``json1`` and ``json11``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import threading
from typing import Any

from feedparser.api import StrictFeedParser
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin, make_safe_absolute_uri
from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type information

from newswatch.poller.freshness import ttl_seconds, update_period_seconds
from newswatch.poller.parser import Entry, ParsedFeed, build_entry, parse_date, plain_text

__all__ = ["parse_fast"]

_RSS10 = "http://purl.org/rss/1.0/"
_RSS090 = "http://my.netscape.com/rdf/simple/0.9/"
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_ATOM10 = "http://www.w3.org/2005/Atom"
_ATOM03 = "http://purl.org/atom/ns#"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_RSS_VERSIONS = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}
_PREFIXES: dict[str, str] = {k.lower(): v for k, v in _FeedParserMixin.namespaces.items()}
_DECLARATION = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_URL_CONTROLS = re.compile(r"[\t\r\n]")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._-]+)", re.IGNORECASE)
_EMAIL = re.compile(
    r"(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))"
    r"([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"
)
_SCRIPT = re.compile(r"<\s*script", re.IGNORECASE)
# Tags feedparser reads as an item or entry wherever they are (it lower-cases names); over-counts are fine.
_ITEM_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s/>]", re.IGNORECASE)
_REFERENCE = re.compile("&([A-Za-z0-9_]+);")
_UTF8 = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
_KINDS = {"text": "text/plain", "html": "text/html", "xhtml": "application/xhtml+xml"}
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Entry children feedparser reads but that change none of our fields.
_IGNORED = frozenset(
    {"category", "enclosure", "comments", "source", "contributor", "rights", "copyright", "expirationdate"}
    | {"dc_subject", "dc_rights", "dc_publisher", "dc_contributor", "dc_language", "dcterms_valid"}
    | {"media_category", "media_content", "media_credit", "media_group", "media_license", "media_player"}
    | {"media_rating", "media_restriction", "media_thumbnail", "itunes_category", "itunes_image"}
    | {"itunes_subtitle", "itunes_owner", "itunes_link", "itunes_keywords", "itunes_duration"}
    | {"georssgeom", "where", "tags", "keywords", "cloud", "image", "generator"}
)
_AUTHOR = frozenset({"author", "dc_author", "dc_creator", "itunes_author"})
_DATES = {
    "pubdate": "published",
    "published": "published",
    "issued": "published",
    "dcterms_issued": "published",
    "updated": "updated",
    "modified": "updated",
    "dc_date": "updated",
    "dcterms_modified": "updated",
    "lastbuilddate": "updated",
    "created": "created",
    "dcterms_created": "created",
}


class _Decline(Exception):
    """The fast path is not sure: feedparser decides."""


_local = threading.local()


def _parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:  # lxml parsers must not be shared between threads
        parser = _local.parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=False
        )
    return parser


def _name(el: Any) -> str | None:
    """feedparser's name for an element (``prefix_local``, lower case); None for comments and PIs."""
    tag = el.tag
    return _tag_name(tag, el.prefix) if isinstance(tag, str) else None


@functools.lru_cache(maxsize=4096)
def _tag_name(tag: str, prefix: str | None) -> str:
    if tag[0] != "{":
        return tag.lower()
    ns, _, local = tag[1:].partition("}")
    mapped = _PREFIXES.get(ns.lower(), prefix)
    if mapped is None and ns:
        raise _Decline("element in an unknown default namespace")
    return f"{mapped.lower()}_{local.lower()}" if mapped else local.lower()


def _handled_by_feedparser(name: str) -> bool:
    return hasattr(StrictFeedParser, f"_start_{name}") or hasattr(StrictFeedParser, f"_end_{name}")


def _fix(text: str) -> str:
    """feedparser's last touches on every value: UTF-8 read as Latin-1 repaired, C1 controls as cp1252."""
    if text.isascii():
        return text
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        if text.encode("iso-8859-1").decode("utf-8") != text:
            raise _Decline("UTF-8 read as Latin-1: feedparser's repair depends on its encoding guess")
    return text.translate(_cp1252)


def _text(el: Any) -> str:
    """Text of an element holding text or escaped markup; declines when it holds elements."""
    if len(el):
        raise _Decline("markup inside a text element")
    return _fix((el.text or "").strip())  # feedparser strips before its repairs


def _lang(el: Any) -> str:
    while el is not None:
        lang = el.get(_XML_LANG)
        if lang is not None:
            return lang.replace("_", "-") if lang else ""
        el = el.getparent()
    return ""


def _own_lang(el: Any, inherited: str) -> str:
    lang: str | None = el.get(_XML_LANG)
    return inherited if lang is None else lang.replace("_", "-")


def _author(text: str) -> str:
    """feedparser's split of ``email (Name)`` author strings: the name, else the e-mail address."""
    match = _EMAIL.search(text) if "@" in text else None
    if not match:
        return text
    email = match.group(0)
    name = text.replace(email, "").replace("()", "").replace("<>", "").replace("&lt;&gt;", "").strip()
    name = name.removeprefix("(").removesuffix(")").strip()
    return name or email


class _Item:
    """One RSS item or Atom entry read the way feedparser reads it."""

    def __init__(self, el: Any, base: str, atom: bool, feed_language: str) -> None:
        self.base, self.atom = base, atom
        self.guid = self.link = ""
        self.has_link = False  # feedparser: a link element, even empty, stops the guid becoming the link
        self.title: str | None = None
        self.summary: str | None = None
        self.summary_from_content = False
        self.contents: list[str] = []
        self.authors: list[str] = []
        self.dates: dict[str, str] = {}
        self.languages: list[str] = []  # content, summary, title (feedparser's order)
        about = el.get(f"{{{_RDF}}}about")
        if about:
            self.guid = _fix(about)
        title_lang = summary_lang = ""
        item_lang = _lang(el)
        content_langs: list[str] = []
        for child in el:
            name = _name(child)
            if name is None:
                continue
            if name in ("title", "dc_title"):
                if self.title is None or (not self.title and name == "title"):
                    self.title = self._value(child, "text/plain")
                    title_lang = _own_lang(child, item_lang)
            elif name == "link":
                self._link(child)
            elif name in ("guid", "id"):
                self._guid(child)
            elif name in ("description", "summary", "dc_description"):
                if self.summary is not None and not self.summary_from_content:
                    raise _Decline("second summary")
                self.summary = self._value(child, "text/html" if name != "summary" else "text/plain")
                self.summary_from_content = False
                summary_lang = _own_lang(child, item_lang)
            elif name in ("content_encoded", "content"):
                if self.contents:
                    raise _Decline("second content")
                kind = "text/html" if name == "content_encoded" else "text/plain"
                if name == "content" and (child.get("src") or child.get("mode") == "base64"):
                    raise _Decline("out-of-line or base64 content")
                self.contents.append(self._value(child, kind))
                content_langs.append(_own_lang(child, item_lang))
                if self.summary is None:
                    self.summary, self.summary_from_content = self.contents[0], True
            elif name in _AUTHOR:
                self.authors.append(self._person(child))
            elif name in _DATES:
                self.dates[_DATES[name]] = _text(child)
            elif name in _IGNORED or not _handled_by_feedparser(name):
                if len(child):
                    _check_nested(child)
            else:
                raise _Decline(f"entry element {name} not reproduced")
        self.languages = [*content_langs, summary_lang, title_lang]
        self.feed_language = feed_language

    def _value(self, el: Any, default_type: str) -> str:
        declared = el.get("type")
        kind = _KINDS.get(declared.lower(), declared.lower()) if declared else default_type
        mode = el.get("mode")
        if mode is not None:
            if mode == "base64":
                raise _Decline("base64 text")
            if self.atom and mode == "xml":
                kind = "application/xhtml+xml"
        if kind == "application/xhtml+xml" and len(el):
            if len(el) != 1 or (el.text or "").strip() or (el[0].tail or "").strip():
                raise _Decline("xhtml content not in one div")
            return _fix(etree.tostring(el[0], encoding=str, with_tail=False))
        if kind not in _HTML_TYPES and kind != "text/plain":
            raise _Decline(f"content type {kind}")
        value = _text(el)
        if "<!" in value or _SCRIPT.search(value):
            raise _Decline("script or comment inside markup")  # feedparser's sanitiser has its own view
        return value

    def _link(self, el: Any) -> None:
        href = el.get("href")
        if href is None:
            if self.atom:
                raise _Decline("atom link without href")
            value = _text(el).strip()
            if _URL_CONTROLS.search(value):
                raise _Decline("tab or line break inside a link")  # URL parsing drops them before repairs
            value = _urljoin(self.base, value) if value else ""
            self.has_link = True
            if "&" in value:
                value = _REFERENCE.sub(r"&\g<1>", value.replace("&amp;", "&"))
            self.link = value
            return
        rel = el.get("rel", "alternate")
        kind = el.get("type", "application/atom+xml" if rel == "self" else "text/html").lower()
        if rel == "alternate" and kind in _HTML_TYPES:
            self.link, self.has_link = _urljoin(self.base, href), True

    def _guid(self, el: Any) -> None:
        is_link = el.get("isPermaLink", el.get("ispermalink", "true")) == "true"
        value = _text(el).strip()
        if is_link and _URL_CONTROLS.search(value):
            raise _Decline("tab or line break inside a permalink guid")
        self.guid = _urljoin(self.base, value) if value and is_link else value
        if is_link and not self.has_link:
            self.link, self.has_link = self.guid, True

    def _person(self, el: Any) -> str:
        if not len(el):
            return _author(_text(el).strip())
        parts = {_name(c): c for c in el}
        if set(parts) - {"name", "email", "uri", "url", "homepage", None}:
            raise _Decline("unknown author element")
        name = _text(parts["name"]).strip() if "name" in parts else ""
        email = _text(parts["email"]).strip() if "email" in parts else ""
        return name or email

    def entry(self) -> Entry:
        when = next(
            (d for d in (parse_date(self.dates.get(k)) for k in ("published", "updated", "created")) if d),
            None,
        )
        return build_entry(
            guid=self.guid,
            link=self.link,
            title=self.title or "",
            summary=self.summary or "",
            contents=self.contents,
            authors=self.authors,
            published=when,
            language=next((lang for lang in self.languages if lang), self.feed_language),
        )


_NESTED_FIELDS = frozenset({"title", "link", "guid", "id", "description", "summary", "content", "author"})


def _reads_unknown(name: str) -> bool:
    return name not in _IGNORED and _handled_by_feedparser(name)


def _check_nested(el: Any) -> None:
    """feedparser reads nested elements by name wherever they are: decline on field-like descendants."""
    for sub in el.iterdescendants():
        name = _name(sub)
        if name is not None and (
            name in _NESTED_FIELDS or name in _DATES or name in _AUTHOR or _reads_unknown(name)
        ):
            raise _Decline(f"nested {name}")


def _encoding_ok(body: bytes, content_type: str | None) -> bool:
    if body[:2] in (b"\xff\xfe", b"\xfe\xff") or body[:1] == b"\x00":
        return False
    declared = _DECLARATION.match(body.removeprefix(b"\xef\xbb\xbf"))
    if declared and declared.group(1).decode().lower() not in _UTF8:
        return False
    if content_type:
        charset = _CHARSET.search(content_type)
        if charset:
            return charset.group(1).lower() in _UTF8
        if content_type.strip().lower().startswith("text/") and not body.isascii():
            return False
    return True


def _absolute(base: str, href: str) -> str | None:
    """``href`` made absolute against ``base`` (a WebSub hub or topic URL), None when nothing is left:
    joining can drop a trailing part (``"0 ;"`` becomes ``".../0 "``), so the result is stripped again."""
    return _urljoin(base, href).strip() or None


def _channel(meta: Any, base: str) -> tuple[dict[str | None, Any], str | None, str | None]:
    """Feed-level elements by feedparser name, and the first ``hub`` and ``self`` link hrefs.

    Links with a ``rel`` other than ``alternate`` (hub, self, related, ...) are not the feed's page link.
    """
    fields: dict[str | None, Any] = {}
    hub = self_url = None
    for child in meta if meta is not None else ():
        name = _name(child)
        if name == "link":
            rel = child.get("rel")
            if rel is not None and rel != "alternate":
                href = (child.get("href") or "").strip()
                rels = rel.lower().split()
                if href and hub is None and "hub" in rels:
                    hub = _absolute(base, href)
                if href and self_url is None and "self" in rels:
                    self_url = _absolute(base, href)
                continue
        fields[name] = child
    return fields, hub, self_url


def _xml(body: bytes, url: str, content_type: str | None) -> ParsedFeed:
    if b"base=" in body or b" lang=" in body or not _encoding_ok(body, content_type):
        raise _Decline("xml:base, lang or encoding")
    try:
        root = etree.fromstring(body, _parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise _Decline("not well-formed") from exc
    base = make_safe_absolute_uri(url) or url
    tag = root.tag if isinstance(root.tag, str) else ""
    namespaces = {v.lower() for v in root.nsmap.values()}
    if tag == "rss":
        attr = root.get("version", "")
        version = _RSS_VERSIONS.get(attr) or ("rss20" if attr.startswith("2.") else "rss")
        channel = root.find("channel")
        items, atom = ([] if channel is None else channel.findall("item")), False
        meta = channel
    elif tag == f"{{{_RDF}}}RDF" and root.nsmap.get(None) in (_RSS10, _RSS090) and _ATOM10 not in namespaces:
        ns = root.nsmap[None]
        version = "rss10" if ns == _RSS10 else "rss090"
        items, atom, meta = root.findall(f"{{{ns}}}item"), False, root.find(f"{{{ns}}}channel")
    elif tag == f"{{{_ATOM10}}}feed" or (
        tag == f"{{{_ATOM03}}}feed" and root.get("version") == "0.3" and not namespaces & {_RSS10, _ATOM10}
    ):
        ns = tag[1:].partition("}")[0]
        version = "atom10" if ns == _ATOM10 else "atom03"
        items, atom, meta = root.findall(f"{{{ns}}}entry"), True, root
    else:
        raise _Decline("unknown root")
    if len(_ITEM_TAG.findall(body)) != len(items):
        raise _Decline("items outside their usual place")
    fields, hub, self_url = _channel(meta, base)
    language = _lang(root)
    for key in ("language", "dc_language"):
        if key in fields:
            language = _text(fields[key]).strip()
    link = fields.get("link")
    return ParsedFeed(
        version=version,
        title=plain_text(_text(fields["title"])) if "title" in fields else "",
        link=_urljoin(base, (link.get("href") if atom else _text(link)) or "") if link is not None else "",
        language=language,
        entries=tuple(_Item(item, base, atom, language).entry() for item in items),
        ttl_seconds=ttl_seconds(_text(fields["ttl"])) if "ttl" in fields else None,
        update_period_seconds=update_period_seconds(
            _text(fields["sy_updateperiod"]) if "sy_updateperiod" in fields else None,
            _text(fields["sy_updatefrequency"]) if "sy_updatefrequency" in fields else None,
        ),
        hub_url=hub,
        self_url=self_url,
    )


def _json_text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _json_entry(item: dict[str, Any], base: str, language: str) -> Entry:
    authors = item.get("authors")
    people: list[Any] = authors if isinstance(authors, list) else [item.get("author")]
    link = _json_text(item.get("url")) or _json_text(item.get("external_url"))
    return build_entry(
        guid=str(item.get("id") or ""),
        link=_urljoin(base, link) if link else "",
        title=_json_text(item.get("title")),
        summary=_json_text(item.get("summary")),
        contents=[_json_text(item.get("content_html")) or _json_text(item.get("content_text"))],
        authors=[_json_text(p.get("name")) for p in people if isinstance(p, dict)],
        published=parse_date(_json_text(item.get("date_published")) or _json_text(item.get("date_modified"))),
        language=_json_text(item.get("language")) or language,
    )


def _json_feed(body: bytes, url: str) -> ParsedFeed:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise _Decline("not JSON") from exc
    version = doc.get("version") if isinstance(doc, dict) else None
    if not isinstance(version, str) or not version.startswith("https://jsonfeed.org/version/1"):
        raise _Decline("not a JSON Feed")
    items = doc.get("items")
    if not isinstance(items, list):
        raise _Decline("JSON Feed without items")
    base = make_safe_absolute_uri(url) or url
    language = _json_text(doc.get("language"))
    hubs = doc.get("hubs")
    hub = next(
        (
            _json_text(h.get("url")).strip()
            for h in (hubs if isinstance(hubs, list) else ())
            if isinstance(h, dict) and _json_text(h.get("type")).lower() == "websub" and h.get("url")
        ),
        None,
    )
    feed_url = _json_text(doc.get("feed_url")).strip()
    return ParsedFeed(
        version="json11" if version.rstrip("/").endswith("1.1") else "json1",
        title=plain_text(doc.get("title")),
        link=_json_text(doc.get("home_page_url")),
        language=language,
        entries=tuple(_json_entry(i, base, language) for i in items if isinstance(i, dict)),
        hub_url=_absolute(base, hub) if hub else None,
        self_url=_absolute(base, feed_url) if feed_url else None,
    )


def parse_fast(body: bytes, url: str, content_type: str | None = None) -> ParsedFeed | None:
    """The feed as feedparser would read it, or None to let feedparser decide. Never raises."""
    head = body.lstrip()[:1]
    try:
        if head == b"{" or (content_type or "").lower().startswith("application/feed+json"):
            return _json_feed(body, url)
        return _xml(body, url, content_type)
    except (_Decline, ValueError, TypeError, LookupError, RecursionError, etree.LxmlError):
        return None  # anything unforeseen: feedparser decides

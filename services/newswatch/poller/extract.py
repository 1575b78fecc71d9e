"""Main text of an article page: HTML in, plain text out, with trafilatura and no network.

Pure and synchronous (CPU-bound: callers run :func:`extract_main_text` in a worker thread):

- :func:`is_html` — the page is HTML: a ``text/html`` or ``application/xhtml+xml`` Content-Type, or no
  Content-Type and a body that starts like an HTML document;
- :func:`decode_html` — bytes to text: byte-order mark, else the Content-Type charset, else a
  ``<meta charset>`` in the first :data:`SNIFF_BYTES`, else UTF-8 when valid, else windows-1252 (the
  web's default). Never raises; undecodable bytes become U+FFFD. The text is decoded here rather than
  by trafilatura so that a body the fetcher already decompressed is never decompressed again;
- :func:`extract_main_text` — the main text (title, navigation, footer, comments, links and images
  left out), favouring precision; at most :data:`INPUT_MAX_CHARS` of HTML are read and at most
  :data:`TEXT_MAX_CHARS` returned (cut at a space). ``""`` when the page has no main text. It may raise
  whatever the HTML parser raises on hostile input: callers treat that as "no text".

trafilatura's own downloader is never used: it only receives HTML the poller's fetcher downloaded.
"""

from __future__ import annotations

import codecs
import functools
import re
from configparser import ConfigParser

__all__ = [
    "HTML_TYPES",
    "INPUT_MAX_CHARS",
    "SNIFF_BYTES",
    "TEXT_MAX_CHARS",
    "decode_html",
    "extract_main_text",
    "is_html",
    "media_type",
]

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
INPUT_MAX_CHARS = 3_000_000
"""HTML beyond this many characters is not read (the main text of an article comes well before)."""
TEXT_MAX_CHARS = 200_000
"""Longest main text kept (about 30,000 words)."""
SNIFF_BYTES = 4096

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_CHARSET_PARAM = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9_.:-]{1,40})""", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta[^>]{0,512}?charset\s*=\s*["']?([A-Za-z0-9_.:-]{1,40})""", re.IGNORECASE)
_HTML_START = re.compile(
    rb"^\s*(?:<\?xml[^>]{0,200}>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)[\s>]",
    re.IGNORECASE | re.DOTALL,
)


@functools.cache
def _config() -> ConfigParser:
    """Defaults of trafilatura's settings.cfg, with its input cap set to ours. trafilatura is imported on
    first use (about 15 MB), so pollers without full-text feeds never load it."""
    from trafilatura.settings import use_config

    config = use_config()
    config.set("DEFAULT", "MAX_FILE_SIZE", str(INPUT_MAX_CHARS * 4))
    config.set("DEFAULT", "EXTENSIVE_DATE_SEARCH", "off")
    return config


def media_type(content_type: str | None) -> str:
    """``text/html`` of ``text/html; charset=utf-8``; ``""`` when absent."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_html(content_type: str | None, body: bytes) -> bool:
    """True when the page is HTML (see the module docstring)."""
    kind = media_type(content_type)
    if kind:
        return kind in HTML_TYPES
    return _HTML_START.match(body.lstrip(codecs.BOM_UTF8)[:SNIFF_BYTES]) is not None


def _codec(label: str | bytes | None) -> str | None:
    """Python's name for a charset label, or None when unknown."""
    if label is None:
        return None
    name = label.decode("ascii", "replace") if isinstance(label, bytes) else label
    try:
        codec = codecs.lookup(name.strip().lower()).name
    except LookupError:
        return None
    # A <meta> cannot declare UTF-16 (the bytes could not have been read to find it): HTML says UTF-8.
    return "utf-8" if codec.startswith(("utf-16", "utf-32")) else codec


def decode_html(body: bytes, content_type: str | None) -> str:
    """The page as text (see the module docstring)."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body.decode(codec, errors="replace")
    param = _CHARSET_PARAM.search(content_type or "")
    meta = _META_CHARSET.search(body[:SNIFF_BYTES])
    declared = _codec(param.group(1) if param else None) or _codec(meta.group(1) if meta else None)
    if declared is not None:
        return body.decode(declared, errors="replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp1252", errors="replace")


def _cap(text: str) -> str:
    if len(text) <= TEXT_MAX_CHARS:
        return text
    cut = text.rfind(" ", 0, TEXT_MAX_CHARS + 1)
    return text[: cut if cut > TEXT_MAX_CHARS // 2 else TEXT_MAX_CHARS].rstrip()


def extract_main_text(html: str) -> str:
    """Main text of ``html`` as plain text (see the module docstring)."""
    markup = html[:INPUT_MAX_CHARS]
    if not markup.strip():
        return ""  # trafilatura would log an error for an empty document
    import trafilatura  # see _config

    text = trafilatura.extract(
        markup,
        output_format="txt",
        favor_precision=True,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        include_formatting=False,
        deduplicate=False,
        with_metadata=False,
        config=_config(),
    )
    return _cap(text.strip()) if text else ""

"""Byte-order marks decide a feed's encoding, before any declaration or HTTP header.

XML 1.0 (appendix F) and the WHATWG encoding standard let a BOM override every other label; feedparser
and lxml honour a UTF-16/32 BOM only when an XML declaration agrees with it. :func:`apply_bom` therefore
decodes a body that starts with a BOM, rewrites the declaration's ``encoding`` to UTF-8 and drops the
HTTP charset, so both parsers read UTF-8 whatever the other labels said. Bodies without a BOM are
returned unchanged (declaration and HTTP charset then decide, as the parsers implement).
"""

from __future__ import annotations

import codecs
import re

from newswatch.errors import ParseError

__all__ = ["apply_bom"]

# Longest first: the UTF-32 LE BOM begins with the UTF-16 LE one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_DECLARED = re.compile(r"""^(\s*<\?xml[^>]*?encoding\s*=\s*)(["'])[A-Za-z0-9._-]*\2""")
_CHARSET = re.compile(r";\s*charset\s*=\s*(\"[^\"]*\"|[^;]*)", re.IGNORECASE)


def apply_bom(body: bytes, content_type: str | None) -> tuple[bytes, str | None]:
    """``(body, content_type)`` as UTF-8 without BOM when ``body`` starts with one; else unchanged.

    Raises ParseError (not retriable) when the bytes after the BOM are not valid in its encoding."""
    found = next(((bom, name) for bom, name in _BOMS if body.startswith(bom)), None)
    if found is None:
        return body, content_type
    bom, encoding = found
    if encoding == "utf-8" and not content_type:
        return body, content_type  # both parsers read a UTF-8 BOM themselves
    try:
        text = body[len(bom) :].decode(encoding)
    except UnicodeDecodeError as exc:
        raise ParseError(
            f"not valid {encoding} after its byte-order mark: {exc.reason}", outcome="bad_encoding"
        ) from None
    text = _DECLARED.sub(r"\g<1>\g<2>utf-8\g<2>", text, count=1)
    plain_type = _CHARSET.sub("", content_type) if content_type else None
    return text.encode("utf-8"), plain_type

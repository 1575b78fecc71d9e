"""Stable identities: canonical URLs and article ids.

``canonical_url`` never raises and is idempotent (``canonical_url(canonical_url(u)) == canonical_url(u)``):
scheme and host lower-cased, user info, default port, trailing host dot and fragment dropped, tracking
query parameters removed and the remaining parameters sorted (their encoding is kept byte for byte). A
string that is not an ``http(s)`` URL with a host comes back stripped of surrounding whitespace.

``article_id`` is 32 hex characters: from the entry's GUID when it has one (canonicalised when the GUID
is itself a URL), else from the canonical link, else from the content. Tracking parameters therefore
never change an id.
"""

from __future__ import annotations

import hashlib
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["TRACKING_PARAMS", "TRACKING_PREFIXES", "article_id", "canonical_url", "is_tracking_param"]

TRACKING_PREFIXES: tuple[str, ...] = ("utm_",)
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "ref",
        "ref_src",
        "ref_url",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "wickedid",
        "xtor",
        "at_medium",
        "at_campaign",
        "pk_campaign",
        "pk_kwd",
        "pk_source",
        "pk_medium",
    }
)
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def is_tracking_param(name: str) -> bool:
    """True for a query parameter name that only tracks the reader (case-insensitive)."""
    lowered = unquote(name).strip().lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def _split_host_port(hostport: str) -> tuple[str, str]:
    if hostport.startswith("["):
        end = hostport.find("]")
        if end != -1:
            rest = hostport[end + 1 :]
            return hostport[: end + 1], rest[1:] if rest.startswith(":") else ""
        return hostport, ""
    host, sep, port = hostport.rpartition(":")
    return (host, port) if sep else (hostport, "")


def _netloc(scheme: str, netloc: str) -> str:
    hostport = netloc.rpartition("@")[2]
    host, port = _split_host_port(hostport)
    host = host.lower().rstrip(".")
    if port in ("", _DEFAULT_PORTS.get(scheme)):
        return host
    return f"{host}:{port}"


def _query(query: str) -> str:
    kept = [p for p in query.split("&") if p and not is_tracking_param(p.split("=", 1)[0])]
    return "&".join(sorted(kept))


def canonical_url(url: str) -> str:
    """The canonical form of ``url`` (see the module docstring). Never raises."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.netloc:
            return text
        netloc = _netloc(scheme, parts.netloc)
        if not netloc:
            return text
        candidate = urlunsplit((scheme, netloc, parts.path or "/", _query(parts.query), ""))
        # Only accept a form that is its own canonical form; odd inputs keep their stripped text.
        again = urlsplit(candidate)
        if _netloc(scheme, again.netloc) != netloc or again.path != (parts.path or "/"):
            return text
        return candidate
    except ValueError:
        return text


def _digest(kind: str, value: str) -> str:
    data = f"{kind}\x00{value}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()[:32]


def article_id(guid: str | None, link: str | None, content: str | None) -> str:
    """A stable 32-hex-character id for an entry: GUID, else canonical link, else content hash."""
    guid = (guid or "").strip()
    if guid:
        if guid.lower().startswith(("http://", "https://")):
            return _digest("url", canonical_url(guid))
        return _digest("guid", guid)
    link = (link or "").strip()
    if link:
        return _digest("url", canonical_url(link))
    return _digest("content", content or "")

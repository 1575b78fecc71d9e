"""Which URLs newswatch may contact: feeds and webhooks are untrusted input.

Rules: ``http`` or ``https`` only; no user name or password in the URL; a host name is required; the
host's addresses (every address it resolves to) must be public unless private networks are allowed —
loopback, private (RFC 1918, ULA), link-local (incl. cloud metadata 169.254.169.254), multicast,
reserved and unspecified addresses are refused. Raises :class:`~newswatch.errors.UnsafeURLError`.

``check_url`` checks the form only (no DNS); ``resolve_and_check`` also resolves the host (for a
verdict before anything is stored). The aiohttp resolver :class:`GuardedResolver` applies the address
rule where the connection is made: it resolves once, refuses the host (:class:`RefusedAddressError`)
when any address is not allowed, and the connector connects only to the addresses it returned — so a
redirect, or a DNS answer that changes between a check and the connection, cannot reach a private
address, and the URL keeps its host name (``Host`` header, TLS SNI and certificate checks are right).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from newswatch.errors import UnsafeURLError

__all__ = [
    "CHECKED_CACHE_SIZE",
    "GuardedResolver",
    "RefusedAddressError",
    "address_allowed",
    "check_url",
    "resolve_and_check",
]

_METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data"}


def address_allowed(address: str, allow_private: bool) -> bool:
    """True when ``address`` (an IP literal) may be contacted."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified or ip.is_multicast:
        return False
    if allow_private:
        return True
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or not ip.is_global)


def check_url(url: str, allow_private: bool) -> URL:
    """Parse ``url`` and check its form. Returns the parsed URL (immutable; the verdicts of the last
    :data:`CHECKED_CACHE_SIZE` accepted URLs are kept: the alerter checks one URL per delivery)."""
    return _checked(url, allow_private)


CHECKED_CACHE_SIZE = 4096


@functools.lru_cache(maxsize=CHECKED_CACHE_SIZE)
def _checked(url: str, allow_private: bool) -> URL:
    if not url or len(url) > 2048:
        raise UnsafeURLError("URL is empty or longer than 2048 characters")
    try:
        parsed = URL(url.strip())
    except (ValueError, TypeError) as exc:
        raise UnsafeURLError(f"not a URL: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        raise UnsafeURLError(f"scheme {parsed.scheme or '(none)'!r} is not allowed: use http or https")
    if parsed.user is not None or parsed.password is not None:
        raise UnsafeURLError("credentials in URLs are not allowed")
    host = (parsed.host or "").rstrip(".").lower()
    if not host:
        raise UnsafeURLError("URL has no host")
    if not allow_private and (host in _METADATA_HOSTS or host == "localhost" or host.endswith(".localhost")):
        raise UnsafeURLError(f"host {host!r} is private (set NEWSWATCH_ALLOW_PRIVATE_NETWORKS to allow)")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        if not address_allowed(host, allow_private):
            raise UnsafeURLError(
                f"address {host} is private, loopback, link-local or not routable "
                "(set NEWSWATCH_ALLOW_PRIVATE_NETWORKS to allow private ones)"
            )
    return parsed


async def resolve_and_check(url: str, allow_private: bool) -> URL:
    """``check_url`` plus DNS: every address of the host must be allowed."""
    parsed = check_url(url, allow_private)
    host = parsed.host or ""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, parsed.port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeURLError(f"cannot resolve {host}: {exc}", retriable=True) from None
    for info in infos:
        address = str(info[4][0])
        if not address_allowed(address, allow_private):
            raise UnsafeURLError(
                f"{host} resolves to {address}, a private, loopback or link-local address "
                "(set NEWSWATCH_ALLOW_PRIVATE_NETWORKS to allow)"
            )
    return parsed


class RefusedAddressError(OSError):
    """A host resolves to an address newswatch may not contact (final: retrying will not help)."""


class GuardedResolver(AbstractResolver):
    """An aiohttp resolver that refuses disallowed addresses at connect time (also after redirects).

    ``inner`` does the lookup (aiohttp's default resolver unless given: tests pass a fake). A host with
    any disallowed address is refused as a whole, as :func:`resolve_and_check` does."""

    def __init__(self, allow_private: bool, inner: AbstractResolver | None = None) -> None:
        self._inner = inner if inner is not None else DefaultResolver()
        self._allow_private = allow_private

    async def resolve(self, host: str, port: int = 0, family: Any = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        refused = [r["host"] for r in results if not address_allowed(r["host"], self._allow_private)]
        if refused or not results:
            raise RefusedAddressError(
                f"{host} resolves to {refused[0] if refused else 'no address'}, an address newswatch "
                "may not contact (private, loopback or link-local; set NEWSWATCH_ALLOW_PRIVATE_NETWORKS "
                "to allow private ones)"
            )
        return results

    async def close(self) -> None:
        await self._inner.close()

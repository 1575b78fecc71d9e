"""Downloading feeds: one guarded aiohttp session, capped bodies, conditional GET.

Contract of :meth:`Fetcher.fetch`: returns a :class:`FetchResult` (status 2xx with a non-empty body, or
304 Not Modified) or raises :class:`~newswatch.errors.FetchError` whose ``outcome`` is one of
:data:`FETCH_OUTCOMES` and whose ``retriable`` flag says whether trying later can help. It raises nothing
else (cancellation aside). Conditional-GET validators are passed in and handed back: the caller keeps
them and stores new ones only once the body has been fully handled, so a failed publish is retried.
A 2xx result also carries the server's freshness hints (``Cache-Control: max-age`` and ``Expires``, in
seconds, None when absent or unusable; see :mod:`newswatch.poller.freshness`); a 304 carries none.
Both say where the answer came from: ``final_url`` after redirects, and ``permanent_redirect`` — True
when at least one redirect was followed and every hop was permanent (301 or 308).

Safety: every connection goes through :class:`~newswatch.netguard.GuardedResolver`; redirects are
limited; the body is read in chunks and decompressed here (never by aiohttp) with a cap on the
decompressed size, so a gzip bomb stops at ``fetch_max_body_bytes``.

``accept`` is the request's ``Accept`` header: :data:`ACCEPT` (feed formats) unless the caller fetches
something else, e.g. article pages for full text.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol

import aiohttp
import brotli  # type: ignore[import-untyped]  # no stubs published
from yarl import URL

from newswatch import __version__, netguard
from newswatch.errors import FetchError, UnsafeURLError
from newswatch.poller.freshness import expires_seconds, max_age_seconds
from newswatch.poller.hostpace import HostPacer
from newswatch.settings import Settings

__all__ = [
    "ACCEPT",
    "FETCH_OUTCOMES",
    "PERMANENT_REDIRECTS",
    "FetchResult",
    "Fetcher",
    "HttpFetcher",
    "RetryLaterError",
    "Validators",
    "parse_retry_after",
]

FETCH_OUTCOMES: tuple[str, ...] = (
    "ok",
    "not_modified",
    "http_error",
    "rate_limited",
    "timeout",
    "connection_error",
    "too_large",
    "too_many_redirects",
    "refused",
    "empty",
)
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, application/feed+json;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)
CHUNK_BYTES = 64 * 1024
PERMANENT_REDIRECTS = frozenset({301, 308})
_RESOLVER_REFUSAL = "may not contact"  # text of GuardedResolver's OSError


@dataclass(frozen=True, slots=True)
class Validators:
    """Conditional-GET validators of the last body handled for a URL."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class FetchResult:
    url: str
    final_url: str
    status: int
    body: bytes  # decompressed; empty when not_modified
    not_modified: bool
    validators: Validators
    content_type: str | None
    wire_bytes: int  # bytes received before decompression
    max_age_seconds: float | None = None  # Cache-Control: max-age
    expires_seconds: float | None = None  # Expires minus Date (or now)
    permanent_redirect: bool = False  # redirected, and every hop was a 301 or 308


class RetryLaterError(FetchError):
    """429 / 503: the server asked us to wait ``retry_after_seconds`` (None when it did not say)."""

    def __init__(self, message: str, *, status: int, retry_after_seconds: float | None) -> None:
        super().__init__(message, outcome="rate_limited", retriable=True, status=status)
        self.retry_after_seconds = retry_after_seconds


class Fetcher(Protocol):
    async def fetch(
        self, url: str, validators: Validators | None = None, *, accept: str = ACCEPT
    ) -> FetchResult:
        """Download ``url`` asking for ``accept``. Raises FetchError only (see the module docstring). May
        be cancelled."""

    async def close(self) -> None:
        """Release connections. Idempotent."""


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None when absent/invalid."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class _Decoder:
    """Incremental Content-Encoding decoder with an output cap (identity, gzip, deflate, br)."""

    def __init__(self, encoding: str, cap: int) -> None:
        self._encoding = encoding
        self._cap = cap
        self._size = 0
        self._parts: list[bytes] = []
        self._raw_fallback = encoding == "deflate"
        self._d = self._new()
        self._br = brotli.Decompressor() if encoding == "br" else None

    def _new(self) -> zlib._Decompress | None:
        if self._encoding == "gzip":
            return zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
        if self._encoding == "deflate":
            return zlib.decompressobj(wbits=15)
        return None

    def _emit(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._cap:
            raise FetchError(f"body larger than {self._cap} bytes", outcome="too_large", retriable=False)
        self._parts.append(data)

    def feed(self, chunk: bytes) -> None:
        if self._br is not None:
            self._feed_brotli(chunk)
            return
        if self._d is None:
            self._emit(chunk)
            return
        d, data = self._d, chunk
        while data:
            try:
                out = d.decompress(data, self._cap - self._size + 1)
            except zlib.error:
                if self._raw_fallback and self._size == 0:  # "deflate" sent without the zlib wrapper
                    self._raw_fallback = False
                    d = self._d = zlib.decompressobj(wbits=-15)
                    continue
                raise FetchError("body is not valid compressed data", outcome="http_error") from None
            self._raw_fallback = False
            self._emit(out)
            if d.unconsumed_tail:
                data = d.unconsumed_tail
            elif d.eof and d.unused_data:  # concatenated gzip members
                data = d.unused_data
                d = self._d = zlib.decompressobj(wbits=47)
            else:
                data = b""

    def _feed_brotli(self, chunk: bytes) -> None:
        br = self._br
        assert br is not None
        try:
            # The output limit keeps a bomb from expanding past the cap inside one call.
            self._emit(br.process(chunk, output_buffer_limit=self._cap - self._size + 1))
            while not br.can_accept_more_data():
                self._emit(br.process(b"", output_buffer_limit=self._cap - self._size + 1))
        except brotli.error:
            raise FetchError("body is not valid brotli data", outcome="http_error") from None

    def finish(self) -> bytes:
        if self._d is not None and not self._d.eof:
            self._emit(self._d.flush())
        return b"".join(self._parts)


def _freshness(resp: aiohttp.ClientResponse) -> tuple[float | None, float | None]:
    """(max-age, Expires) hints of a response, in seconds."""
    max_age = max_age_seconds(", ".join(resp.headers.getall("Cache-Control", ())))
    expires = expires_seconds(resp.headers.get("Expires"), resp.headers.get("Date"), datetime.now(UTC))
    return max_age, expires


class HttpFetcher:
    """The aiohttp :class:`Fetcher`. One session, created on first use inside the running loop."""

    def __init__(self, settings: Settings, on_host_wait: Callable[[float], None] | None = None) -> None:
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self.user_agent = f"newswatch/{__version__} (+{settings.contact_url})"
        self._pacer = HostPacer(settings.fetch_host_min_interval_seconds)
        self._on_host_wait = on_host_wait

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise FetchError("fetcher is closed", outcome="connection_error", retriable=False)
        if self._session is None:
            s = self._settings
            connector = aiohttp.TCPConnector(
                resolver=netguard.GuardedResolver(s.allow_private_networks),
                limit=s.fetch_concurrency,
                limit_per_host=self._settings.fetch_max_connections_per_host,
                ttl_dns_cache=300,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(
                    total=s.fetch_timeout_seconds, sock_connect=s.fetch_connect_timeout_seconds
                ),
                auto_decompress=False,
                headers={
                    "User-Agent": self.user_agent,
                    "Accept": ACCEPT,
                    # br is decoded by aiohttp through the Brotli package; the body cap counts the
                    # decoded bytes whatever the encoding.
                    "Accept-Encoding": "gzip, deflate, br",
                },
            )
        return self._session

    async def fetch(
        self, url: str, validators: Validators | None = None, *, accept: str = ACCEPT
    ) -> FetchResult:
        try:
            netguard.check_url(url, self._settings.allow_private_networks)
        except UnsafeURLError as exc:
            raise FetchError(str(exc), outcome="refused", retriable=False) from None
        headers: dict[str, str] = {"Accept": accept}
        if validators and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        session = self._get_session()
        waited = await self._pacer.wait(URL(url).raw_authority)
        if self._on_host_wait is not None:
            self._on_host_wait(waited)
        try:
            async with session.get(
                url, headers=headers, max_redirects=self._settings.fetch_max_redirects
            ) as resp:
                return await self._handle(url, resp, validators)
        except FetchError:
            raise
        except aiohttp.TooManyRedirects:
            raise FetchError("too many redirects", outcome="too_many_redirects") from None
        except aiohttp.NonHttpUrlRedirectClientError as exc:
            raise FetchError(
                f"redirect to a non-HTTP URL: {exc}", outcome="refused", retriable=False
            ) from None
        except aiohttp.ClientConnectorError as exc:
            if _RESOLVER_REFUSAL in str(exc.os_error):
                raise FetchError(str(exc.os_error), outcome="refused", retriable=False) from None
            raise FetchError(f"cannot connect: {exc}", outcome="connection_error") from None
        except TimeoutError:
            raise FetchError(
                f"no complete answer within {self._settings.fetch_timeout_seconds:g}s", outcome="timeout"
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise FetchError(f"transport error: {exc!r}", outcome="connection_error") from None

    async def _handle(
        self, url: str, resp: aiohttp.ClientResponse, validators: Validators | None
    ) -> FetchResult:
        status = resp.status
        permanent = bool(resp.history) and all(hop.status in PERMANENT_REDIRECTS for hop in resp.history)
        if status == 304:
            return FetchResult(
                url,
                str(resp.url),
                status,
                b"",
                True,
                validators or Validators(),
                None,
                wire_bytes=0,
                permanent_redirect=permanent,
            )
        if status in (429, 503):
            wait = parse_retry_after(resp.headers.get("Retry-After"), datetime.now(UTC))
            raise RetryLaterError(f"HTTP {status}", status=status, retry_after_seconds=wait)
        if not 200 <= status < 300:
            retriable = status >= 500 or status == 408
            raise FetchError(f"HTTP {status}", outcome="http_error", retriable=retriable, status=status)
        cap = self._settings.fetch_max_body_bytes
        if resp.content_length is not None and resp.content_length > cap:
            raise FetchError(
                f"Content-Length {resp.content_length} exceeds {cap} bytes",
                outcome="too_large",
                retriable=False,
            )
        encoding = resp.headers.get("Content-Encoding", "identity").strip().lower() or "identity"
        if encoding not in ("identity", "gzip", "x-gzip", "deflate", "br"):
            raise FetchError(
                f"unsupported Content-Encoding {encoding!r}", outcome="http_error", retriable=False
            )
        decoder = _Decoder("gzip" if encoding == "x-gzip" else encoding, cap)
        wire = 0
        async for chunk in resp.content.iter_chunked(CHUNK_BYTES):
            wire += len(chunk)
            if wire > cap:
                raise FetchError(f"body larger than {cap} bytes", outcome="too_large", retriable=False)
            decoder.feed(chunk)
        body = decoder.finish()
        if not body.strip():
            raise FetchError("empty body", outcome="empty", status=status)
        max_age, expires = _freshness(resp)
        return FetchResult(
            url=url,
            final_url=str(resp.url),
            status=status,
            body=body,
            not_modified=False,
            validators=Validators(resp.headers.get("ETag"), resp.headers.get("Last-Modified")),
            content_type=resp.headers.get("Content-Type"),
            wire_bytes=wire,
            max_age_seconds=max_age,
            expires_seconds=expires,
            permanent_redirect=permanent,
        )

    async def close(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()

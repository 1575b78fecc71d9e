"""One guarded HTTP POST to a subscriber's URL, shared by the HTTP channels (webhook, Slack).

:class:`GuardedPoster` checks the URL's form (:func:`newswatch.netguard.check_url`: http(s), no
credentials, no private literal or ``localhost`` unless ``NEWSWATCH_ALLOW_PRIVATE_NETWORKS``), then lets
the connector resolve the host once, through :class:`~newswatch.netguard.GuardedResolver`: every address
must be allowed, and the connection goes to those checked addresses, with the URL's own host name in the
``Host`` header and TLS SNI. Resolutions are kept for the connector's DNS cache time and connections
are reused, so most deliveries resolve nothing. It never follows redirects, reads at most
:data:`MAX_RESPONSE_BYTES` of the answer and gives up after the total timeout.

Outcome (:meth:`GuardedPoster.post`): a 2xx status is returned; anything else raises
:class:`~newswatch.errors.DeliveryError` — 3xx (not followed) and 4xx are final except 408 and 429, 5xx,
timeouts and connection errors are retriable, and a retriable status with ``Retry-After`` raises
:class:`~newswatch.alerter.channels.base.RetryLaterError` carrying the delay. A host that resolves to a
refused address is final; one that does not resolve is retriable.

URLs can carry tokens (a Slack URL *is* one): messages name the host only, never the path or query.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import aiohttp
from aiohttp.abc import AbstractResolver

from newswatch import __version__, netguard
from newswatch.alerter.channels.base import RetryLaterError
from newswatch.errors import DeliveryError, UnsafeURLError
from newswatch.poller.fetcher import parse_retry_after
from newswatch.settings import Settings

__all__ = ["MAX_RESPONSE_BYTES", "GuardedPoster", "classify_status", "retry_after_seconds"]

MAX_RESPONSE_BYTES = 64 * 1024
_DETAIL_CHARS = 200
_RETRIABLE_4XX = {408, 429}


def classify_status(status: int) -> bool | None:
    """None when ``status`` means delivered, else whether a failure with it is retriable."""
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        return False
    if 400 <= status < 500:
        return status in _RETRIABLE_4XX
    return True


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Seconds asked by a ``Retry-After`` header (delta seconds or an HTTP date), or None."""
    return parse_retry_after(value, datetime.fromtimestamp(now, UTC))


class GuardedPoster:
    """POSTs under the SSRF guard. Create and use it inside one event loop; ``close()`` when done."""

    def __init__(
        self,
        *,
        what: str,
        allow_private: bool,
        timeout_seconds: float,
        max_connections: int,
        user_agent: str,
        clock: Callable[[], float] = time.time,
        resolver: AbstractResolver | None = None,
    ) -> None:
        """``resolver`` does the DNS lookups behind the guard (aiohttp's default; tests pass a fake)."""
        self._what = what  # names the channel in messages: "webhook", "Slack webhook"
        self._allow_private = allow_private
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._limit = max_connections
        self._user_agent = user_agent
        self._clock = clock
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def _client(self) -> aiohttp.ClientSession:
        if self._closed:
            raise DeliveryError(f"{self._what} channel is closed", retriable=True)
        if self._session is None:
            connector = aiohttp.TCPConnector(
                resolver=netguard.GuardedResolver(self._allow_private, self._resolver), limit=self._limit
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                cookie_jar=aiohttp.DummyCookieJar(),  # a receiver's cookies are never sent back (nor parsed)
            )
        return self._session

    @classmethod
    def for_alerter(
        cls, settings: Settings, what: str, clock: Callable[[], float] = time.time
    ) -> GuardedPoster:
        """The poster of an alerter channel: ``webhook_timeout_seconds``, ``delivery_concurrency``
        connections, the private-network setting and the alerter's User-Agent."""
        return cls(
            what=what,
            allow_private=settings.allow_private_networks,
            timeout_seconds=settings.webhook_timeout_seconds,
            max_connections=settings.delivery_concurrency,
            user_agent=f"newswatch-alerter/{__version__} (+{settings.contact_url})",
            clock=clock,
        )

    async def post(self, raw_url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """POST ``body`` once; the 2xx status, else raises (see the module docstring)."""
        try:
            url = netguard.check_url(raw_url, allow_private=self._allow_private)
        except UnsafeURLError as exc:
            raise DeliveryError(f"{self._what} URL refused: {exc}", retriable=exc.retriable) from None
        now = self._clock()
        sent = {**headers, "user-agent": self._user_agent}
        session = self._client()
        try:
            async with session.post(url, data=body, headers=sent, allow_redirects=False) as resp:
                status = resp.status
                retry_after = retry_after_seconds(resp.headers.get("retry-after"), now)
                answer = await resp.content.read(MAX_RESPONSE_BYTES)
        except TimeoutError:
            raise DeliveryError(
                f"no answer from {url.host} within {self._timeout.total:g}s", retriable=True
            ) from None
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, netguard.RefusedAddressError):
                raise DeliveryError(f"{self._what} URL refused: {exc.os_error}", retriable=False) from None
            raise DeliveryError(_describe(exc, url.host or ""), retriable=True) from None
        except aiohttp.ClientError as exc:
            raise DeliveryError(_describe(exc, url.host or ""), retriable=True) from None
        verdict = classify_status(status)
        if verdict is None:
            return status
        detail = f"{url.host} answered HTTP {status}"
        if 300 <= status < 400:
            detail += " (redirects are not followed)"
        excerpt = answer[:_DETAIL_CHARS].decode("utf-8", "replace").strip()
        if excerpt:
            detail += f": {excerpt}"
        if verdict and retry_after is not None:
            raise RetryLaterError(detail, status=status, retry_after_seconds=retry_after)
        raise DeliveryError(detail, retriable=verdict, status=status)

    async def close(self) -> None:
        """Idempotent; later posts raise a retriable DeliveryError."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def _describe(exc: aiohttp.ClientError, host: str) -> str:
    """A message naming the failure and the host only (URLs may hold tokens)."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {host}: {exc.os_error.strerror or type(exc.os_error).__name__}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return f"{host} closed the connection"
    return f"request to {host} failed: {type(exc).__name__}"

"""Requests to WebSub hubs: subscribe and unsubscribe (W3C WebSub §5.1), through the SSRF guard.

Hubs are untrusted. Contract of :meth:`HubClient.send`: POSTs the form (``application/x-www-form-urlencoded``)
to the hub and returns the 2xx status (the spec asks for 202 Accepted; 204 and 200 are taken as accepted
too). Otherwise it raises :class:`HubRequestError`, whose ``retriable`` says whether asking again later can
help: a refused URL (scheme, credentials, private address unless ``allow_private_networks``) or a 4xx
answer is not retriable; a timeout, a connection error, 429 or 5xx is. Nothing else is raised
(cancellation aside).

Safety: the URL's form is checked with :func:`~newswatch.netguard.check_url`, every connection goes
through :class:`~newswatch.netguard.GuardedResolver` (so a DNS answer pointing at a private address is
refused at connect time), redirects are not followed (a 3xx is a refusal), every request has the fetch
timeouts, and the hub's answer body is never read. The form carries ``hub.secret``: neither it nor the
hub's answer is ever logged or put into an error message.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from newswatch import __version__, netguard
from newswatch.errors import NewswatchError, UnsafeURLError
from newswatch.settings import Settings

__all__ = ["HubClient", "HubRequestError"]

MAX_CONNECTIONS = 8  # hub requests in flight at once; more wait for a free connection
_RESOLVER_REFUSAL = "may not contact"  # text of GuardedResolver's OSError


class HubRequestError(NewswatchError):
    """A hub did not accept a (un)subscription request. ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, *, retriable: bool, status: int | None = None) -> None:
        super().__init__(message, retriable=retriable)
        self.status = status


class HubClient:
    """One guarded aiohttp session for hub requests, created on first use inside the running loop."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise HubRequestError("hub client is closed", retriable=False)
        if self._session is None:
            s = self._settings
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    resolver=netguard.GuardedResolver(s.allow_private_networks), limit=MAX_CONNECTIONS
                ),
                timeout=aiohttp.ClientTimeout(
                    total=s.fetch_timeout_seconds, sock_connect=s.fetch_connect_timeout_seconds
                ),
                headers={"User-Agent": f"newswatch/{__version__} (+{s.contact_url})"},
            )
        return self._session

    async def send(self, hub_url: str, form: Mapping[str, str]) -> int:
        """POST ``form`` to ``hub_url``; the 2xx status, or HubRequestError (see the module docstring)."""
        try:
            netguard.check_url(hub_url, self._settings.allow_private_networks)
        except UnsafeURLError as exc:
            raise HubRequestError(f"hub URL refused: {exc}", retriable=False) from None
        session = self._get_session()
        timeout = self._settings.fetch_timeout_seconds
        try:
            async with session.post(hub_url, data=dict(form), allow_redirects=False) as resp:
                status = resp.status
        except aiohttp.ClientConnectorError as exc:
            if _RESOLVER_REFUSAL in str(exc.os_error):
                raise HubRequestError(f"hub refused: {exc.os_error}", retriable=False) from None
            raise HubRequestError(f"cannot connect to the hub: {exc.os_error}", retriable=True) from None
        except TimeoutError:
            raise HubRequestError(f"hub gave no answer within {timeout:g}s", retriable=True) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise HubRequestError(f"transport error: {type(exc).__name__}", retriable=True) from None
        if 200 <= status < 300:
            return status
        retriable = status >= 500 or status in (408, 429)
        raise HubRequestError(f"hub answered HTTP {status}", retriable=retriable, status=status)

    async def close(self) -> None:
        """Release connections. Idempotent; ``send`` raises (not retriable) afterwards."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()

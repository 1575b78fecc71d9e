"""Webhook channel: one signed HTTP POST per delivery (Standard Webhooks).

Request: ``POST <subscription url>`` with the JSON of :func:`~newswatch.alerter.channels.base.alert_document`,
``content-type: application/json`` and the headers ``webhook-id`` (the delivery id, identical for every
attempt of one alert to one subscription, so receivers can drop duplicates), ``webhook-timestamp`` and
``webhook-signature`` (see :mod:`newswatch.alerter.signing`).

Outcome: 2xx = delivered. Redirects are not followed and count as final failures, like other 4xx —
except 408 and 429, which are retriable along with 5xx, timeouts and connection errors. At most 64 KiB
of the response body is read. Every connection goes through :class:`~newswatch.netguard.GuardedResolver`
and the URL is checked before each request, so a subscription cannot reach private addresses unless
``NEWSWATCH_ALLOW_PRIVATE_NETWORKS`` is set.

URLs can carry tokens: neither logs nor error messages include the URL's path or query.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime

import aiohttp

from newswatch import __version__, netguard
from newswatch.alerter import signing
from newswatch.alerter.channels.base import DeliveryResult, RetryLaterError, alert_document
from newswatch.errors import DeliveryError, UnsafeURLError
from newswatch.settings import Settings
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.subscription_pb2 import Subscription

__all__ = ["MAX_RESPONSE_BYTES", "WebhookChannel", "classify_status", "encode_body"]

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 64 * 1024
_DETAIL_CHARS = 200
_RETRIABLE_4XX = {408, 429}


def encode_body(alert: Alert) -> bytes:
    """The exact bytes POSTed for ``alert`` (compact UTF-8 JSON)."""
    return json.dumps(alert_document(alert), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def classify_status(status: int) -> bool | None:
    """None when ``status`` means delivered, else whether a failure with it is retriable."""
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        return False
    if 400 <= status < 500:
        return status in _RETRIABLE_4XX
    return True


def _retry_after(value: str | None, now: float) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now) if when.tzinfo else None


class WebhookChannel:
    """Delivers alerts as signed POSTs. Create and use it inside one event loop; ``close()`` when done."""

    name = "webhook"

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self._allow_private = settings.allow_private_networks
        self._timeout = aiohttp.ClientTimeout(total=settings.webhook_timeout_seconds)
        self._limit = settings.delivery_concurrency
        self._user_agent = f"newswatch-alerter/{__version__} (+{settings.contact_url})"
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def _client(self) -> aiohttp.ClientSession:
        if self._closed:
            raise DeliveryError("webhook channel is closed", retriable=True)
        if self._session is None:
            connector = aiohttp.TCPConnector(
                resolver=netguard.GuardedResolver(self._allow_private), limit=self._limit
            )
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        return self._session

    async def deliver(
        self, alert: Alert, subscription: Subscription, delivery_id: str, attempt: int
    ) -> DeliveryResult:
        """POST ``alert`` to the subscription's URL once; see the module docstring for outcomes."""
        target = subscription.webhook
        try:
            if self._allow_private:
                url = netguard.check_url(target.url, allow_private=True)
            else:
                url = await netguard.resolve_and_check(target.url, allow_private=False)
        except UnsafeURLError as exc:
            raise DeliveryError(f"webhook URL refused: {exc}", retriable=exc.retriable) from None
        body = encode_body(alert)
        now = self._clock()
        try:
            headers = signing.signed_headers(target.secret, delivery_id, int(now), body)
        except signing.InvalidSecretError as exc:
            raise DeliveryError(f"subscription secret unusable: {exc}", retriable=False) from None
        headers["content-type"] = "application/json"
        headers["user-agent"] = self._user_agent
        session = self._client()
        try:
            async with session.post(url, data=body, headers=headers, allow_redirects=False) as resp:
                status = resp.status
                retry_after = _retry_after(resp.headers.get("retry-after"), now)
                answer = await resp.content.read(MAX_RESPONSE_BYTES)
        except TimeoutError:
            raise DeliveryError(
                f"no answer from {url.host} within {self._timeout.total:g}s", retriable=True
            ) from None
        except aiohttp.ClientError as exc:
            raise DeliveryError(_describe(exc, url.host or ""), retriable=True) from None
        verdict = classify_status(status)
        if verdict is None:
            return DeliveryResult(http_status=status)
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

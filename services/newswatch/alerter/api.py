"""The alerter's HTTP API: subscriptions as JSON, served on ``api_host:api_port``.

Routes (bodies are ``application/json``; the OpenAPI 3.1 document is :mod:`~newswatch.alerter.openapi`):

=======  ===========================  ==================================================================
GET      ``/openapi.json``            the OpenAPI document (no token needed)
GET      ``/v1/subscriptions``        every subscription, oldest first
POST     ``/v1/subscriptions``        create one: 201 + ``Location``
GET      ``/v1/subscriptions/{id}``   one subscription; 404 when unknown
PATCH    ``/v1/subscriptions/{id}``   change the fields given (secret rotation: give a new one)
DELETE   ``/v1/subscriptions/{id}``   remove it (a tombstone on the topic): 204
=======  ===========================  ==================================================================

Authentication: every route but ``/openapi.json`` needs ``Authorization: Bearer <NEWSWATCH_API_TOKEN>``,
compared in constant time; missing or wrong → 401 with ``WWW-Authenticate: Bearer``. With no token
configured the API is off, never open: 503 ``api_disabled``.

Errors (:mod:`~newswatch.alerter.apihttp`) are ``{"error": {"code", "message", "field"?}}``: 400 for
bodies that are not JSON, unknown fields, wrong types and invalid values (the same validation as
``newswatch subscriptions add``, including the SSRF guard on webhook URLs: resolved, and refused on
private, loopback, link-local or metadata addresses unless ``NEWSWATCH_ALLOW_PRIVATE_NETWORKS``), 404,
405, 413 past ``MAX_BODY_BYTES`` (64 KiB), 415 for other media types, 503 when the broker did not
acknowledge a write (retry; PATCH and DELETE are idempotent, a retried POST may create a second one).

Writes go to ``newswatch.subscriptions.v1`` through a :class:`~newswatch.alerter.store.SubscriptionStore`
and return once durable; responses show what was written (see the store for read-your-writes).
Read-modify-write (PATCH, DELETE) is serialised within one process. Webhook secrets are write-only: a
response carries one only when the server generated it in that request (``channel.secret``). Neither the
token nor any secret is ever logged; refused requests are logged with their code and counted in
``newswatch_alerter_api_requests_total``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from aiohttp import web

from newswatch.alerter import openapi, payloads
from newswatch.alerter.apihttp import ApiError, bearer_middleware, error_middleware, read_json
from newswatch.alerter.metrics import AlerterMetrics
from newswatch.alerter.payloads import MAX_BODY_BYTES
from newswatch.alerter.store import StoreUnavailableError, SubscriptionStore
from newswatch.alerter.subscriptions import InvalidSubscriptionError, normalised, validated
from newswatch.settings import Settings
from newswatch.v1.subscription_pb2 import Subscription

__all__ = ["PUBLIC_PATHS", "ApiServer", "SubscriptionsApi"]

log = logging.getLogger(__name__)

PUBLIC_PATHS = frozenset({"/openapi.json"})
SHUTDOWN_SECONDS = 5.0  # in-flight requests get this long at stop()
RETRY_AFTER_SECONDS = 5
_MAX_ID_CHARS = 128


class SubscriptionsApi:
    """The routes; :meth:`app` builds the aiohttp application (tests serve it directly)."""

    def __init__(
        self, store: SubscriptionStore, *, token: str, allow_private: bool, metrics: AlerterMetrics
    ) -> None:
        self._store = store
        self._token = token
        self._allow_private = allow_private
        self._metrics = metrics
        self._write_lock = asyncio.Lock()

    def app(self) -> web.Application:
        app = web.Application(
            client_max_size=MAX_BODY_BYTES,
            middlewares=[error_middleware(self._metrics), bearer_middleware(self._token, PUBLIC_PATHS)],
        )
        app.router.add_get("/openapi.json", self._openapi, allow_head=False)
        app.router.add_get("/v1/subscriptions", self._list, allow_head=False)
        app.router.add_post("/v1/subscriptions", self._create)
        app.router.add_get("/v1/subscriptions/{id}", self._get, allow_head=False)
        app.router.add_patch("/v1/subscriptions/{id}", self._patch)
        app.router.add_delete("/v1/subscriptions/{id}", self._delete)
        return app

    # ------------------------------------------------------------ helpers

    def _existing(self, request: web.Request) -> Subscription:
        subscription_id = request.match_info["id"]
        sub = self._store.get(subscription_id) if len(subscription_id) <= _MAX_ID_CHARS else None
        if sub is None:
            raise ApiError(404, "not_found", "no subscription with this id")
        return sub

    async def _check(self, sub: Subscription, *, resolve: bool) -> Subscription:
        try:
            if resolve:
                return await validated(sub, allow_private=self._allow_private)
            return normalised(sub, allow_private=self._allow_private)
        except InvalidSubscriptionError as exc:
            raise _invalid(exc) from None

    async def _write(self, sub: Subscription | None, subscription_id: str) -> None:
        try:
            if sub is None:
                await self._store.delete(subscription_id)
            else:
                await self._store.put(sub)
        except StoreUnavailableError as exc:
            raise ApiError(
                503, "store_unavailable", f"{exc}; retry", headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
            ) from None

    # ------------------------------------------------------------ handlers

    async def _openapi(self, _request: web.Request) -> web.Response:
        return web.json_response(openapi.document())

    async def _list(self, _request: web.Request) -> web.Response:
        return web.json_response({"subscriptions": [payloads.to_json(s) for s in self._store.all()]})

    async def _create(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        try:
            draft, generated = payloads.new_from_json(body, uuid.uuid4().hex)
        except InvalidSubscriptionError as exc:
            raise _invalid(exc) from None
        sub = await self._check(draft, resolve=True)
        await self._write(sub, sub.subscription_id)
        log.info(
            "subscription created", extra={"subscription_id": sub.subscription_id, "channel": _channel(sub)}
        )
        return web.json_response(
            payloads.to_json(sub, generated),
            status=201,
            headers={"Location": f"/v1/subscriptions/{sub.subscription_id}"},
        )

    async def _get(self, request: web.Request) -> web.Response:
        return web.json_response(payloads.to_json(self._existing(request)))

    async def _patch(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        async with self._write_lock:
            current = self._existing(request)
            try:
                draft, generated = payloads.patched(current, body)
            except InvalidSubscriptionError as exc:
                raise _invalid(exc) from None
            moved = draft.HasField("webhook") and draft.webhook.url != current.webhook.url
            sub = await self._check(draft, resolve=moved)
            if sub != current:
                await self._write(sub, sub.subscription_id)
                log.info(
                    "subscription updated",
                    extra={
                        "subscription_id": sub.subscription_id,
                        "channel": _channel(sub),
                        "fields": sorted(body),
                    },
                )
        return web.json_response(payloads.to_json(sub, generated))

    async def _delete(self, request: web.Request) -> web.Response:
        async with self._write_lock:
            current = self._existing(request)
            await self._write(None, current.subscription_id)
        log.info("subscription deleted", extra={"subscription_id": current.subscription_id})
        return web.Response(status=204)


def _invalid(exc: InvalidSubscriptionError) -> ApiError:
    return ApiError(400, exc.code, str(exc), exc.field)


def _channel(sub: Subscription) -> str:
    return sub.WhichOneof("channel") or "none"


class ApiServer:
    """Serves :class:`SubscriptionsApi` on ``api_host:api_port`` (0 = any free port).

    ``stop()`` is idempotent; requests in flight get :data:`SHUTDOWN_SECONDS`.
    """

    def __init__(self, settings: Settings, api: SubscriptionsApi) -> None:
        self._settings = settings
        self._api = api
        self._runner: web.AppRunner | None = None
        self.port = settings.api_port

    async def start(self) -> None:
        self._runner = web.AppRunner(self._api.app(), access_log=None, shutdown_timeout=SHUTDOWN_SECONDS)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._settings.api_host, self._settings.api_port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        log.info(
            "alerter API listening",
            extra={
                "host": self._settings.api_host,
                "port": self.port,
                "enabled": bool(self._settings.api_token),
            },
        )

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

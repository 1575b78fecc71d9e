"""The alerter's HTTP API: subscriptions as JSON, served on ``api_host:api_port``.

Routes (bodies are ``application/json``; the OpenAPI 3.1 document is :mod:`~newswatch.alerter.openapi`):

=======  ===========================  ==================================================================
GET      ``/openapi.json``            the OpenAPI document (no token needed)
GET      ``/v1/subscriptions``        every subscription, oldest first
POST     ``/v1/subscriptions``        create one: 201 + ``Location``
GET      ``/v1/subscriptions/{id}``   one subscription; 404 when unknown
PATCH    ``/v1/subscriptions/{id}``   change the fields given (secret rotation: give a new one)
DELETE   ``/v1/subscriptions/{id}``   remove it (a tombstone on the topic): 204
GET      ``/v1/alerts/stream``        every alert as Server-Sent Events, filtered by the query
GET      ``/v1/subscriptions/{id}/stream``  the alerts that pass that subscription's filters, live
GET      ``/v1/feeds``, ``/v1/alerts/recent``, ``/v1/alerts/{id}``: the console's data
         (:mod:`~newswatch.alerter.console.routes`)
GET      ``/``, ``/console/…``        the ops console page (:mod:`~newswatch.alerter.console.static`)
=======  ===========================  ==================================================================

Streams (:mod:`~newswatch.alerter.eventstream`): the query filters of ``/v1/alerts/stream`` are
``watchlist``, ``term``, ``region``, ``country``, ``language`` (each repeatable or comma-separated,
checked like a subscription's filters) and ``min_score``; both routes take ``last=N`` (replay the newest
N buffered alerts that pass) and ``Last-Event-ID`` (header, or ``last_event_id`` in the query: resume
after that alert). A subscription's stream follows changes to its filters while open. 503
``too_many_streams`` past ``NEWSWATCH_SSE_MAX_CLIENTS``, ``stream_unavailable`` when the alerter serves
no stream.

Authentication: every route but ``/openapi.json`` and the console's files needs ``Authorization: Bearer
<NEWSWATCH_API_TOKEN>``, compared in constant time; missing or wrong → 401 with ``WWW-Authenticate:
Bearer``. With no token configured the API is off, never open: 503 ``api_disabled``.

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
from collections.abc import Iterable, Mapping

from aiohttp import web

from newswatch.alerter import openapi, payloads
from newswatch.alerter.alertquery import STREAM_PARAMETERS, alert_filter
from newswatch.alerter.apihttp import ApiError, bearer_middleware, error_middleware, read_json
from newswatch.alerter.console.routes import ConsoleRoutes
from newswatch.alerter.console.static import ConsoleFiles, security_headers
from newswatch.alerter.eventstream import BUFFER_SIZE, AlertFilter, EventStream, TooManyClientsError
from newswatch.alerter.matching import matches
from newswatch.alerter.metrics import AlerterMetrics
from newswatch.alerter.payloads import MAX_BODY_BYTES
from newswatch.alerter.store import StoreUnavailableError, SubscriptionStore
from newswatch.alerter.subscriptions import (
    InvalidSubscriptionError,
    channel_of,
    normalised,
    target_url,
    validated,
)
from newswatch.contracts import timestamp
from newswatch.settings import Settings
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.subscription_pb2 import Subscription

__all__ = ["PUBLIC_PATHS", "STREAM_PARAMETERS", "ApiServer", "SubscriptionsApi", "stream_filter"]

log = logging.getLogger(__name__)

PUBLIC_PATHS = frozenset({"/openapi.json"})
SHUTDOWN_SECONDS = 5.0  # in-flight requests get this long at stop()
RETRY_AFTER_SECONDS = 5
_MAX_ID_CHARS = 128
_MAX_EVENT_ID_CHARS = 200
_RESUME_QUERY = ("last", "last_event_id")


def stream_filter(query: Mapping[str, str], pairs: Iterable[tuple[str, str]]) -> Subscription:
    """The filters of a ``/v1/alerts/stream`` query (:func:`~newswatch.alerter.alertquery.alert_filter`)."""
    return alert_filter(query, pairs, _RESUME_QUERY)


class SubscriptionsApi:
    """The routes; :meth:`app` builds the aiohttp application (tests serve it directly)."""

    def __init__(
        self,
        store: SubscriptionStore,
        *,
        token: str,
        allow_private: bool,
        metrics: AlerterMetrics,
        stream: EventStream | None = None,
        console: ConsoleRoutes | None = None,
        files: ConsoleFiles | None = None,
    ) -> None:
        """``console`` serves the console's data routes (default: recent alerts from ``stream`` only);
        ``files`` the console page (default: the packaged files)."""
        self._store = store
        self._token = token
        self._allow_private = allow_private
        self._metrics = metrics
        self._stream = stream
        self._console = console if console is not None else ConsoleRoutes(stream)
        self._files = files if files is not None else ConsoleFiles()
        self._write_lock = asyncio.Lock()

    def app(self) -> web.Application:
        app = web.Application(
            client_max_size=MAX_BODY_BYTES,
            middlewares=[
                error_middleware(self._metrics),
                bearer_middleware(self._token, PUBLIC_PATHS | self._files.public_paths()),
            ],
        )
        app.on_response_prepare.append(security_headers)
        app.router.add_get("/openapi.json", self._openapi, allow_head=False)
        app.router.add_get("/v1/subscriptions", self._list, allow_head=False)
        app.router.add_post("/v1/subscriptions", self._create)
        app.router.add_get("/v1/subscriptions/{id}", self._get, allow_head=False)
        app.router.add_patch("/v1/subscriptions/{id}", self._patch)
        app.router.add_delete("/v1/subscriptions/{id}", self._delete)
        app.router.add_get("/v1/alerts/stream", self._alerts_stream, allow_head=False)
        app.router.add_get("/v1/subscriptions/{id}/stream", self._subscription_stream, allow_head=False)
        self._console.add_to(app)  # after /v1/alerts/stream: /v1/alerts/{id} would match it
        self._files.add_to(app)
        if self._stream is not None:
            app.on_shutdown.append(self._stream.close_clients)
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
        if sub is not None:
            sub.updated_at.CopyFrom(timestamp())
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
            target = target_url(draft)  # a webhook or Slack URL that changes is resolved and checked again
            sub = await self._check(draft, resolve=target is not None and target != target_url(current))
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

    async def _serve_stream(self, request: web.Request, accept: AlertFilter) -> web.StreamResponse:
        if self._stream is None:
            raise ApiError(503, "stream_unavailable", "this alerter serves no alert stream")
        last_text = request.query.get("last", "0")
        if not last_text.isdigit() or int(last_text) > BUFFER_SIZE:
            raise ApiError(400, "invalid_value", f"last must be an integer 0-{BUFFER_SIZE}", "last")
        last_id = request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
        if last_id is not None and (len(last_id) > _MAX_EVENT_ID_CHARS or not last_id.isprintable()):
            raise ApiError(400, "invalid_value", "Last-Event-ID is not an event id", "Last-Event-ID")
        try:
            return await self._stream.respond(request, accept, last_event_id=last_id, last=int(last_text))
        except TooManyClientsError as exc:
            raise ApiError(
                503, "too_many_streams", f"{exc}; retry", headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
            ) from None

    async def _alerts_stream(self, request: web.Request) -> web.StreamResponse:
        wanted = stream_filter(request.query, request.query.items())

        def accept(alert: Alert) -> bool:
            return matches(wanted, alert)

        return await self._serve_stream(request, accept)

    async def _subscription_stream(self, request: web.Request) -> web.StreamResponse:
        subscription_id = self._existing(request).subscription_id
        for name in request.query:
            if name not in ("last", "last_event_id"):
                raise ApiError(
                    400, "unknown_field", f"unknown query parameter {name[:50]!r}; known: last, last_event_id"
                )

        def accept(alert: Alert) -> bool:
            sub = self._store.get(subscription_id)  # the current filters, also after a PATCH
            return sub is not None and matches(sub, alert)

        return await self._serve_stream(request, accept)


def _invalid(exc: InvalidSubscriptionError) -> ApiError:
    return ApiError(400, exc.code, str(exc), exc.field)


def _channel(sub: Subscription) -> str:
    return channel_of(sub) or "none"


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

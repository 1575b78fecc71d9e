"""HTTP plumbing of the alerter's API: the error shape, bearer authentication, reading JSON bodies.

Every answer other than success is ``{"error": {"code", "message", "field"?}}`` (:class:`ApiError`),
including aiohttp's own 404 / 405 and unexpected failures (500, logged with the traceback, never with the
request body). :func:`error_middleware` also logs each refusal — code, field, route template and method,
never a header or a body — and counts every answer in ``newswatch_alerter_api_requests_total``.

:func:`bearer_middleware`: ``Authorization: Bearer <token>`` compared with :func:`hmac.compare_digest`;
missing or another scheme → 401 ``missing_token``, wrong → 401 ``invalid_token``, both with a
``WWW-Authenticate: Bearer`` challenge (RFC 6750). An empty configured token turns the API off: 503
``api_disabled`` on every route but the public ones. The token is never logged nor echoed.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Collection
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from newswatch.alerter.metrics import API_ROUTES, API_STATUSES, AlerterMetrics
from newswatch.alerter.payloads import MAX_BODY_BYTES

__all__ = ["ApiError", "bearer_middleware", "error_middleware", "read_json"]

log = logging.getLogger(__name__)

_REALM = 'Bearer realm="newswatch"'
_TOO_LARGE = f"the body is larger than {MAX_BODY_BYTES} bytes"


class ApiError(Exception):
    """An answer other than success: HTTP ``status``, stable ``code``, human ``message``, ``field``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}

    def response(self) -> web.Response:
        error: dict[str, str] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return web.json_response({"error": error}, status=self.status, headers=self.headers)


def _from_aiohttp(exc: web.HTTPException) -> ApiError:
    if exc.status == 404:
        return ApiError(404, "not_found", "no such route; the routes are listed at /openapi.json")
    if exc.status == 405:
        allowed = exc.headers.get("Allow", "")
        return ApiError(
            405,
            "method_not_allowed",
            f"method not allowed here; allowed: {allowed}",
            headers={"Allow": allowed},
        )
    if exc.status == 413:
        return ApiError(413, "body_too_large", _TOO_LARGE)
    return ApiError(exc.status, "http_error", exc.reason)


def error_middleware(metrics: AlerterMetrics) -> Middleware:
    """Outermost middleware: every refusal in the JSON error shape, logged and counted."""

    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "other"
        route = route if route in API_ROUTES else "other"
        refused: ApiError | None = None
        try:
            response = await handler(request)
        except ApiError as exc:
            refused = exc
        except web.HTTPException as exc:  # aiohttp's own 404 / 405 / 413
            refused = _from_aiohttp(exc)
        except Exception:
            log.exception("api request failed", extra={"route": route, "method": request.method})
            refused = ApiError(500, "internal", "internal error; see the alerter's log")
        if refused is not None:
            log.info(
                "api request refused",
                extra={
                    "route": route,
                    "method": request.method,
                    "status": refused.status,
                    "code": refused.code,
                    "field": refused.field,
                },
            )
            response = refused.response()
        status = str(response.status)
        metrics.api_requests.labels(route=route, status=status if status in API_STATUSES else "other").inc()
        return response

    return errors


def bearer_middleware(token: str, public_paths: Collection[str]) -> Middleware:
    """Require ``Authorization: Bearer <token>`` everywhere but ``public_paths``."""
    expected = token.encode("utf-8")

    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in public_paths:
            return await handler(request)
        if not expected:
            raise ApiError(
                503,
                "api_disabled",
                "the HTTP API is off: set NEWSWATCH_API_TOKEN on the alerter to turn it on",
            )
        scheme, _, presented = request.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise ApiError(
                401,
                "missing_token",
                "missing bearer token: send the header Authorization: Bearer <NEWSWATCH_API_TOKEN>",
                headers={"WWW-Authenticate": _REALM},
            )
        if not hmac.compare_digest(presented.strip().encode("utf-8", "replace"), expected):
            raise ApiError(
                401,
                "invalid_token",
                "the bearer token is not the one configured (NEWSWATCH_API_TOKEN)",
                headers={"WWW-Authenticate": f'{_REALM}, error="invalid_token"'},
            )
        return await handler(request)

    return auth


async def read_json(request: web.Request) -> Any:
    """The parsed JSON body: 415 unless ``application/json``, 413 past :data:`MAX_BODY_BYTES` (counted
    while reading: ``Content-Length`` is not trusted alone), 400 when it does not parse."""
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as Content-Type: application/json")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiError(413, "body_too_large", _TOO_LARGE)
    try:
        raw = await request.read()  # the application's client_max_size caps it
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "body_too_large", _TOO_LARGE) from None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        message = f"the body is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        raise ApiError(400, "invalid_json", message) from None
    except (ValueError, RecursionError):
        raise ApiError(
            400, "invalid_json", "the body is not JSON (bad encoding, or nested too deep)"
        ) from None

"""The WebSub callback endpoint: intent verification (GET) and content distribution (POST).

Served at ``/websub/{feed_id}`` (and at ``<path of the callback URL>/{feed_id}`` when that differs) by
:class:`CallbackServer`. What to confirm is decided by a :class:`CallbackHandler` (the subscriber's
state, :class:`~newswatch.poller.websub.WebSub`); this module speaks HTTP and guards the door.

GET — the hub asks (W3C WebSub §5.3): ``hub.mode=subscribe|unsubscribe`` with ``hub.topic``,
``hub.challenge`` and (subscribe) ``hub.lease_seconds``: 200 with the challenge as the whole body when the
handler confirms, else 404; ``hub.mode=denied`` (§5.2, with ``hub.reason``) is passed on and answered 200;
anything else is 400. Counted in ``websub_verifications_total`` (confirmed, refused, denied).

POST — the hub pushes the feed body (§7), signed ``X-Hub-Signature: <algo>=<hex HMAC of the body with
hub.secret>`` (sha1, sha256, sha384, sha512; compared in constant time by :func:`signature_ok`).
Answers, each counted once in ``websub_pushes_total``:

- 410 Gone, ``unknown_feed`` — the feed is not in the catalogue (removed) or disabled. 410 is the spec's
  way to ask the hub to end the subscription (§7); the body is not read.
- 413, ``too_large`` — more than ``fetch_max_body_bytes`` (Content-Length, or counted while reading in
  chunks: the header alone is never trusted).
- 202, ``bad_signature`` — missing or wrong signature: answered 2xx as the spec allows (so a forger
  learns nothing) but the content is dropped.
- 503 with Retry-After, ``failed`` — the push queue is full or too many bodies are being read at once:
  the hub retries later. 400, ``failed`` — the body could not be read.
- 202 — queued; counted ``accepted`` once ``deliver`` returned, ``failed`` when it raised or the push
  was still queued at :meth:`CallbackServer.stop` (the next poll of the feed picks its entries up).

Why a queue: ``deliver`` parses and publishes to Kafka (seconds at worst), so the hub is answered as soon
as the body is read and verified, and one worker task hands pushes to ``deliver`` in arrival order (one at
a time, so two pushes of one feed never race). Memory is bounded: at most :data:`PUSH_QUEUE_SIZE` queued
bodies plus :data:`MAX_CONCURRENT_READS` being read, each at most ``fetch_max_body_bytes``.

Hub input is untrusted: query values and headers are never logged raw (``hub.reason`` is cut to printable
characters), bodies never; nor is any secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from newswatch.poller.metrics import PollerMetrics
from newswatch.settings import Settings
from newswatch.v1.feed_pb2 import Feed

__all__ = [
    "MAX_CONCURRENT_READS",
    "PUSH_QUEUE_SIZE",
    "SIGNATURE_ALGORITHMS",
    "CallbackHandler",
    "CallbackServer",
    "Deliver",
    "signature_ok",
]

log = logging.getLogger(__name__)

PUSH_QUEUE_SIZE = 8
MAX_CONCURRENT_READS = 4
DRAIN_SECONDS = 5.0  # stop() lets the worker finish queued pushes for this long
RETRY_AFTER_SECONDS = 60
CHUNK_BYTES = 64 * 1024
SIGNATURE_ALGORITHMS = ("sha1", "sha256", "sha384", "sha512")
_REASON_MAX_CHARS = 200

Deliver = Callable[[Feed, bytes, str | None], Awaitable[None]]
"""``deliver(feed, body, content_type)``: parse and publish a pushed body like a polled one."""


class CallbackHandler(Protocol):
    def verify(self, feed_id: str, mode: str, topic: str, lease_seconds: int | None, token: str) -> bool:
        """True to confirm the hub's (un)subscription of ``topic`` for ``feed_id``. Must not block."""

    def denied(self, feed_id: str, topic: str, reason: str) -> None:
        """The hub refused our subscription of ``topic`` (``reason`` already sanitised)."""

    def secret_for(self, feed_id: str) -> str:
        """The ``hub.secret`` given to hubs for ``feed_id``."""


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """True when ``header`` (``X-Hub-Signature``) is ``<algo>=<hex>`` with a supported algorithm and the
    HMAC of ``body`` with ``secret``. Constant-time comparison; never raises."""
    if not header:
        return False
    algo, sep, digest = header.strip().partition("=")
    algo = algo.strip().lower()
    if not sep or algo not in SIGNATURE_ALGORITHMS:
        return False
    expected = hmac.new(secret.encode(), body, algo).hexdigest().encode()
    return hmac.compare_digest(expected, digest.strip().lower().encode("utf-8", "replace"))


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text[:_REASON_MAX_CHARS])


class CallbackServer:
    """The callback endpoint's aiohttp server plus the push worker. ``stop()`` is idempotent."""

    def __init__(
        self,
        settings: Settings,
        metrics: PollerMetrics,
        handler: CallbackHandler,
        deliver: Deliver,
        feed_for: Callable[[str], Feed | None],
        paths: tuple[str, ...] = ("/websub",),
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._handler = handler
        self._deliver = deliver
        self._feed_for = feed_for
        self._paths = paths
        self._queue: asyncio.Queue[tuple[Feed, bytes, str | None]] = asyncio.Queue(PUSH_QUEUE_SIZE)
        self._reading = 0
        self._runner: web.AppRunner | None = None
        self._worker: asyncio.Task[None] | None = None
        self.port = settings.websub_port

    async def start(self) -> None:
        """Bind ``websub_host:websub_port`` (0 = any free port; ``port`` is then the bound one)."""
        app = web.Application()
        for path in dict.fromkeys(self._paths):
            app.router.add_get(path + "/{feed_id}", self._verification)
            app.router.add_post(path + "/{feed_id}", self._push)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._settings.websub_host, self._settings.websub_port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self._worker = asyncio.create_task(self._work(), name="websub-push-worker")

    async def stop(self) -> None:
        """Stop answering hubs, let queued pushes reach ``deliver`` for DRAIN_SECONDS, drop the rest."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        worker, self._worker = self._worker, None
        if worker is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), DRAIN_SECONDS)
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
        dropped = 0
        while not self._queue.empty():
            self._queue.get_nowait()
            dropped += 1
        if dropped:
            self._metrics.websub_pushes.labels(outcome="failed").inc(dropped)
            log.warning("pushed bodies dropped at shutdown", extra={"pushes": dropped})

    async def _verification(self, request: web.Request) -> web.Response:
        feed_id = request.match_info["feed_id"]
        query = request.query
        mode, topic = query.get("hub.mode", ""), query.get("hub.topic", "")
        if mode == "denied" and topic:
            self._handler.denied(feed_id, topic, _printable(query.get("hub.reason", "")))
            self._metrics.websub_verifications.labels(outcome="denied").inc()
            return web.Response(status=200)
        challenge = query.get("hub.challenge", "")
        lease = query.get("hub.lease_seconds", "")
        lease_seconds = int(lease) if lease.isascii() and lease.isdigit() and len(lease) < 12 else None
        token = query.get("token", "")
        if (
            mode in ("subscribe", "unsubscribe")
            and topic
            and challenge
            and self._handler.verify(feed_id, mode, topic, lease_seconds, token)
        ):
            self._metrics.websub_verifications.labels(outcome="confirmed").inc()
            return web.Response(text=challenge, content_type="text/plain")
        self._metrics.websub_verifications.labels(outcome="refused").inc()
        log.info(
            "hub verification refused",
            extra={"feed_id": _printable(feed_id[:64]), "mode": _printable(mode[:16])},
        )
        return web.Response(status=404 if mode in ("subscribe", "unsubscribe") else 400)

    def _refuse(self, status: int, outcome: str, feed_id: str) -> web.Response:
        self._metrics.websub_pushes.labels(outcome=outcome).inc()
        fields = {"feed_id": _printable(feed_id[:64]), "outcome": outcome, "status": status}
        # Anyone can POST here: unknown feed ids are logged at INFO so they cannot flood the warnings.
        log.log(
            logging.INFO if outcome == "unknown_feed" else logging.WARNING, "hub push refused", extra=fields
        )
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
        return web.Response(status=status, headers=headers)

    async def _push(self, request: web.Request) -> web.Response:
        feed_id = request.match_info["feed_id"]
        feed = self._feed_for(feed_id)
        if feed is None or not feed.enabled:
            return self._refuse(410, "unknown_feed", feed_id)
        cap = self._settings.fetch_max_body_bytes
        if request.content_length is not None and request.content_length > cap:
            return self._refuse(413, "too_large", feed_id)
        if self._reading >= MAX_CONCURRENT_READS or self._queue.full():
            return self._refuse(503, "failed", feed_id)
        self._reading += 1
        try:
            parts: list[bytes] = []
            size = 0
            async for chunk in request.content.iter_chunked(CHUNK_BYTES):
                size += len(chunk)
                if size > cap:
                    return self._refuse(413, "too_large", feed_id)
                parts.append(chunk)
        except (HttpProcessingError, ConnectionError, ValueError):
            return self._refuse(400, "failed", feed_id)
        finally:
            self._reading -= 1
        body = b"".join(parts)
        if not signature_ok(self._handler.secret_for(feed_id), body, request.headers.get("X-Hub-Signature")):
            self._metrics.websub_pushes.labels(outcome="bad_signature").inc()
            log.warning("hub push dropped: missing or wrong signature", extra={"feed_id": feed_id})
            return web.Response(status=202)
        try:
            self._queue.put_nowait((feed, body, request.headers.get("Content-Type")))
        except asyncio.QueueFull:
            return self._refuse(503, "failed", feed_id)
        log.debug("hub push queued", extra={"feed_id": feed_id, "size_bytes": len(body)})
        return web.Response(status=202)

    async def _work(self) -> None:
        while True:
            feed, body, content_type = await self._queue.get()
            try:
                await self._deliver(feed, body, content_type)
            except asyncio.CancelledError:  # stop() after the drain time: this push is dropped too
                self._metrics.websub_pushes.labels(outcome="failed").inc()
                raise
            except Exception:  # deliver is the caller's code: one bad push must not stop the worker
                self._metrics.websub_pushes.labels(outcome="failed").inc()
                log.exception("pushed body not delivered", extra={"feed_id": feed.feed_id})
            else:
                self._metrics.websub_pushes.labels(outcome="accepted").inc()
            finally:
                self._queue.task_done()

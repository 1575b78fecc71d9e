"""The alerter's live alert stream: every alert on ``newswatch.alerts.v1``, served as Server-Sent Events.

Source: :meth:`EventStream.start` reads ``newswatch.alerts.v1`` without a consumer group (every partition
assigned, nothing committed, no partition taken from the delivering alerters), so each alerter instance
sees every alert whichever instance a client talks to. It first loads the newest records already on the
topic (at most :data:`BUFFER_SIZE`, oldest first by timestamp) into a bounded buffer of recent alerts,
then follows the end. Records that do not decode are skipped (the delivering consumer dead-letters them).

Clients (:meth:`EventStream.respond`): a ``text/event-stream`` response; each alert that passes the
client's filter is one event::

    id: <alert id>
    event: alert
    data: <alert_document JSON, one line>

Resume: with ``Last-Event-ID`` the alerts buffered after that id are sent first (a comment says so when
the id is no longer buffered); with ``last=N`` the newest N buffered alerts that pass the filter. A comment
line is sent after ``sse_keepalive_seconds`` without events. At most ``sse_max_clients`` streams are open
(:class:`TooManyClientsError` beyond: the API answers 503). Every client has a queue of
:data:`CLIENT_QUEUE_SIZE` events: a client that falls that far behind, or whose socket takes longer than
:data:`WRITE_TIMEOUT_SECONDS` to accept a write, is cut off (``newswatch_alerter_stream_clients_dropped_total
{reason="slow_client"}``); an ``EventSource`` reconnects and resumes by ``Last-Event-ID``.
:meth:`EventStream.close_clients` (the API's shutdown hook) ends every stream cleanly
(``reason="shutdown"``); :meth:`EventStream.stop` also stops reading the topic. Both are idempotent.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from newswatch import contracts, kafka
from newswatch.alerter.channels.base import alert_document
from newswatch.alerter.metrics import AlerterMetrics
from newswatch.errors import InvalidMessageError, NewswatchError
from newswatch.settings import Settings
from newswatch.topics import ALERTS
from newswatch.v1.alert_pb2 import Alert

__all__ = [
    "BUFFER_SIZE",
    "CLIENT_QUEUE_SIZE",
    "WRITE_TIMEOUT_SECONDS",
    "AlertFilter",
    "EventStream",
    "StreamEvent",
    "TooManyClientsError",
    "format_event",
]

log = logging.getLogger(__name__)

BUFFER_SIZE = 1000
CLIENT_QUEUE_SIZE = 256
WRITE_TIMEOUT_SECONDS = 10.0
PRELOAD_TIMEOUT_SECONDS = 10.0
_RECONNECT_MS = 3000

AlertFilter = Callable[[Alert], bool]


class TooManyClientsError(NewswatchError):
    """``sse_max_clients`` streams are open already (retriable: try again later)."""

    retriable = True


class StreamEvent:
    """One buffered alert; its encoded event is made when first written (most alerts have no reader)."""

    __slots__ = ("_wire", "alert")

    def __init__(self, alert: Alert) -> None:
        self.alert = alert
        self._wire: bytes | None = None

    @property
    def wire(self) -> bytes:
        """:func:`format_event` of the alert, made once."""
        if self._wire is None:
            self._wire = format_event(self.alert)
        return self._wire


def format_event(alert: Alert) -> bytes:
    """The Server-Sent Event of ``alert`` (JSON escapes line breaks, so ``data`` is one line)."""
    data = json.dumps(alert_document(alert), ensure_ascii=False, separators=(",", ":"))
    event_id = "".join(c for c in alert.alert_id if c.isprintable())
    return f"id: {event_id}\nevent: alert\ndata: {data}\n\n".encode()


@dataclass(eq=False)  # compared and hashed by identity
class _Client:
    accept: AlertFilter
    queue: asyncio.Queue[StreamEvent | None] = field(
        default_factory=lambda: asyncio.Queue(maxsize=CLIENT_QUEUE_SIZE)
    )
    reason: str | None = None  # set when the hub cut the client off

    def end(self, reason: str) -> None:
        """Cut off: drop what is queued and wake the writer (the queue has room after the clear)."""
        if self.reason is not None:
            return
        self.reason = reason
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


class EventStream:
    """The hub: a buffer of recent alerts and the open streams. One event loop."""

    def __init__(
        self,
        settings: Settings,
        metrics: AlerterMetrics,
        *,
        buffer_size: int = BUFFER_SIZE,
        write_timeout_seconds: float = WRITE_TIMEOUT_SECONDS,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._max_clients = settings.sse_max_clients
        self._keepalive = settings.sse_keepalive_seconds
        self._write_timeout = write_timeout_seconds
        self._buffer: deque[StreamEvent] = deque(maxlen=buffer_size)
        self._clients: set[_Client] = set()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._stopped = False

    @property
    def clients(self) -> int:
        return len(self._clients)

    def recent(self) -> list[Alert]:
        """The buffered alerts, oldest first."""
        return [e.alert for e in self._buffer]

    # ------------------------------------------------------------ source

    async def start(self) -> None:
        """Load the newest alerts on the topic, then follow it in the background."""
        consumer = kafka.make_consumer(self._settings, "alerter-stream", group_id=None)
        self._consumer = consumer
        await consumer.start()
        tps = await kafka.assign_all_partitions(consumer, ALERTS)
        per_partition = -(-(self._buffer.maxlen or BUFFER_SIZE) // max(len(tps), 1))
        ends = await kafka.seek_to_tail(consumer, tps, per_partition)
        backlog: list[tuple[int, Alert]] = []
        late: list[Alert] = []  # published while loading
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PRELOAD_TIMEOUT_SECONDS
        while not await kafka.caught_up(consumer, ends) and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for tp, records in batch.items():
                for record in records:
                    alert = self._decode(record.value, record.headers)
                    if alert is None:
                        continue
                    if record.offset < ends[tp]:
                        backlog.append((record.timestamp, alert))
                    else:
                        late.append(alert)
        backlog.sort(key=lambda item: item[0])
        for alert in [*(a for _, a in backlog), *late]:
            self._buffer.append(StreamEvent(alert))
        self._task = asyncio.create_task(self._follow(consumer), name="alerter-stream-follow")
        log.info("alert stream following", extra={"buffered_alerts": len(self._buffer)})

    def _decode(self, value: bytes | None, headers: object) -> Alert | None:
        try:
            alert = contracts.decode(Alert, value, headers)  # type: ignore[arg-type]
        except InvalidMessageError:
            return None
        return alert if alert.alert_id else None

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    for record in records:
                        alert = self._decode(record.value, record.headers)
                        if alert is not None:
                            self.offer(alert)
        except KafkaError as exc:  # streams stay open (keep-alives) but get no new alerts
            log.error("alert stream stopped reading newswatch.alerts.v1", extra={"error": repr(exc)})
            raise

    def offer(self, alert: Alert) -> None:
        """Buffer ``alert`` and queue it for every client whose filter it passes; never blocks."""
        event = StreamEvent(alert)
        self._buffer.append(event)
        for client in list(self._clients):
            if client.reason is not None or not client.accept(alert):
                continue
            try:
                client.queue.put_nowait(event)
            except asyncio.QueueFull:
                self._cut(client, "slow_client")

    # ------------------------------------------------------------ clients

    def _cut(self, client: _Client, reason: str) -> None:
        if client.reason is None:
            client.end(reason)
            self._metrics.stream_clients_dropped.labels(reason=reason).inc()
            log.info("stream client cut off", extra={"reason": reason})

    def _register(
        self, accept: AlertFilter, last_event_id: str | None, last: int
    ) -> tuple[_Client, list[bytes]]:
        """Atomically (no await): the replay for a new client, and the client registered for what follows."""
        if self._closing:
            raise TooManyClientsError("the alerter is shutting down")
        if len(self._clients) >= self._max_clients:
            raise TooManyClientsError(
                f"{self._max_clients} streams are open already (NEWSWATCH_SSE_MAX_CLIENTS)"
            )
        replay: list[bytes] = []
        if last_event_id is not None:
            ids = [e.alert.alert_id for e in self._buffer]
            if last_event_id in ids:
                after = len(ids) - 1 - ids[::-1].index(last_event_id)
                replay = [e.wire for e in list(self._buffer)[after + 1 :] if accept(e.alert)]
            else:
                replay = [b": last event id is no longer buffered; new alerts follow\n\n"]
        elif last > 0:
            replay = [e.wire for e in self._buffer if accept(e.alert)][-last:]
        client = _Client(accept)
        self._clients.add(client)
        self._metrics.stream_clients.set(len(self._clients))
        return client, replay

    async def respond(
        self, request: web.Request, accept: AlertFilter, *, last_event_id: str | None, last: int
    ) -> web.StreamResponse:
        """Serve one stream until the client leaves or is cut off. Raises TooManyClientsError."""
        client, replay = self._register(accept, last_event_id, last)
        try:
            response = web.StreamResponse(
                headers={
                    "Content-Type": "text/event-stream; charset=utf-8",
                    "Cache-Control": "no-cache",
                    "X-Accel-Buffering": "no",
                }
            )
            await response.prepare(request)
            await self._write(response, f"retry: {_RECONNECT_MS}\n: newswatch alert stream\n\n".encode())
            for wire in replay:
                await self._write(response, wire)
                self._metrics.stream_events.inc()
            while True:
                try:
                    async with asyncio.timeout(self._keepalive):
                        event = await client.queue.get()
                except TimeoutError:
                    await self._write(response, b": keep-alive\n\n")
                    continue
                if event is None:
                    break
                await self._write(response, event.wire)
                self._metrics.stream_events.inc()
            if client.reason == "shutdown":
                await self._write(response, b": the alerter is shutting down\n\n")
                await response.write_eof()
            return response
        except TimeoutError:  # the socket did not take a write in time
            self._cut(client, "slow_client")
            return response
        except (ConnectionError, RuntimeError):  # the client went away (aiohttp raises either)
            return response
        finally:
            self._clients.discard(client)
            self._metrics.stream_clients.set(len(self._clients))

    async def _write(self, response: web.StreamResponse, data: bytes) -> None:
        async with asyncio.timeout(self._write_timeout):
            await response.write(data)

    async def close_clients(self, _app: web.Application | None = None) -> None:
        """End every stream (usable as an aiohttp ``on_shutdown`` hook); refuse new ones."""
        self._closing = True
        for client in list(self._clients):
            self._cut(client, "shutdown")
        await asyncio.sleep(0)

    async def stop(self) -> None:
        """End every stream and stop reading the topic. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        await self.close_clients()
        await kafka.cancel_follower(self._task, "alert stream")
        if self._consumer is not None:
            await self._consumer.stop()

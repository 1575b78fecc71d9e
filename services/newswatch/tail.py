"""``newswatch tail``: print alerts as they arrive.

Source ``api`` (the default whenever ``NEWSWATCH_API_TOKEN`` is set): the alerter's live stream
``GET /v1/alerts/stream`` (Server-Sent Events, :mod:`newswatch.alerter.eventstream`) at ``--api-url``
(default ``http://NEWSWATCH_API_HOST:NEWSWATCH_API_PORT``) with the bearer token; ``-n N`` asks for the
newest N buffered alerts first (``last=N``, at most the alerter's buffer), ``--watchlist`` filters on the
server. A dropped stream is resumed with ``Last-Event-ID``; an alerter that cannot be reached at first, a
refused token or an API that is off ends the command with a message saying what to fix
(:class:`TailError`).

Source ``kafka`` (the default without a token): reads ``newswatch.alerts.v1`` directly without a consumer
group (it commits nothing and never takes partitions from the alerter); the newest ``n`` alerts already
on the topic first, oldest first, then new ones.

Either way a line per alert (:func:`format_document`) or, with ``--json``, the alert's JSON document
(:func:`~newswatch.alerter.channels.base.alert_document`, schema ``newswatch.alert.v1``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiohttp
from aiokafka import TopicPartition

from newswatch import contracts
from newswatch.alerter.channels.base import alert_document
from newswatch.errors import InvalidMessageError, NewswatchError
from newswatch.kafka import assign_all_partitions, caught_up, ensure_topics, make_consumer, seek_to_tail
from newswatch.settings import Settings
from newswatch.topics import ALERTS
from newswatch.v1.alert_pb2 import Alert

__all__ = ["SOURCES", "TailError", "default_api_url", "format_document", "tail_alerts"]

log = logging.getLogger(__name__)

SOURCES = ("auto", "api", "kafka")
MAX_LAST = 1000  # the alerter's buffer of recent alerts
_CONNECT_TIMEOUT_SECONDS = 5.0
_RECONNECT_MAX_SECONDS = 30.0
_MAX_LINE_BYTES = 4 * 1024 * 1024

Emit = Callable[[str], None]


class TailError(NewswatchError):
    """The alerter's stream cannot be read: unreachable, token refused, API off."""


def format_document(doc: dict[str, Any]) -> str:
    """One human-readable line per alert document."""
    stamp = "-"
    if doc.get("created_at"):
        with contextlib.suppress(ValueError):
            stamp = datetime.fromisoformat(str(doc["created_at"])).strftime("%Y-%m-%d %H:%M:%S")
    watchlist = doc.get("watchlist") or {}
    terms = sorted({str(m.get("term_label") or m.get("term_id")) for m in doc.get("matches", [])})
    name = watchlist.get("name") or watchlist.get("id") or "-"
    parts = [
        f"{stamp} [{name}] score={float(doc.get('score', 0)):g}",
        " ".join(str(doc.get("title") or "(untitled)").split()),
        f"terms={','.join(terms) or '-'}",
        f"regions={','.join(doc.get('regions', [])) or '-'}",
        f"countries={','.join(doc.get('countries', [])) or '-'}",
        str(doc.get("url", "")),
    ]
    return " | ".join(parts)


def default_api_url(settings: Settings) -> str:
    """The alerter API as reached from this machine (a wildcard bind address means loopback)."""
    host = settings.api_host
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.api_port}"


async def tail_alerts(
    settings: Settings,
    emit: Emit,
    *,
    last: int = 10,
    as_json: bool = False,
    watchlist: str | None = None,
    max_alerts: int | None = None,
    timeout_seconds: float | None = None,
    api_url: str | None = None,
    source: str = "auto",
) -> int:
    """Print alerts until ``max_alerts`` were printed or ``timeout_seconds`` passed (None = forever).

    Returns the number of alerts printed. Raises :class:`TailError` (source ``api``).
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}")
    if source == "auto":
        source = "api" if settings.api_token else "kafka"
    if source == "api" and not settings.api_token:
        raise TailError(
            "no API token: set NEWSWATCH_API_TOKEN to the alerter's token (or use --source kafka)"
        )
    printer = _Printer(emit, as_json, max_alerts)
    try:
        async with asyncio.timeout(timeout_seconds):
            if source == "api":
                await _tail_api(settings, printer, last, watchlist, api_url or default_api_url(settings))
            else:
                await _tail_kafka(settings, printer, last, watchlist)
    except (TimeoutError, _Done):
        pass
    return printer.printed


class _Done(Exception):
    """``max_alerts`` were printed."""


class _Printer:
    def __init__(self, emit: Emit, as_json: bool, max_alerts: int | None) -> None:
        self._emit = emit
        self._as_json = as_json
        self._max = max_alerts
        self.printed = 0

    def show(self, doc: dict[str, Any]) -> None:
        self._emit(json.dumps(doc, ensure_ascii=False) if self._as_json else format_document(doc))
        self.printed += 1
        if self._max is not None and self.printed >= self._max:
            raise _Done


# ---------------------------------------------------------------- the alerter's stream


async def _tail_api(
    settings: Settings, printer: _Printer, last: int, watchlist: str | None, url: str
) -> None:
    params: dict[str, str] = {"last": str(min(max(last, 0), MAX_LAST))}
    if watchlist:
        params["watchlist"] = watchlist
    headers = {"Authorization": f"Bearer {settings.api_token}", "Accept": "text/event-stream"}
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=_CONNECT_TIMEOUT_SECONDS)
    last_id: str | None = None
    connected_once = False
    delay = 1.0
    async with aiohttp.ClientSession(timeout=timeout, read_bufsize=_MAX_LINE_BYTES) as session:
        while True:
            sent = dict(headers)
            if last_id is not None:
                sent["Last-Event-ID"] = last_id
                params.pop("last", None)
            try:
                async with session.get(
                    f"{url.rstrip('/')}/v1/alerts/stream", params=params, headers=sent
                ) as r:
                    await _check(r, url)
                    connected_once, delay = True, 1.0
                    last_id = await _read_events(r, printer, last_id)
            except aiohttp.ClientError as exc:
                if not connected_once:
                    raise TailError(
                        f"cannot reach the alerter API at {url} ({type(exc).__name__}): is the alerter "
                        "running? Set NEWSWATCH_API_HOST / NEWSWATCH_API_PORT or --api-url"
                    ) from None
            log.info("alert stream ended; reconnecting", extra={"delay_seconds": delay})
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RECONNECT_MAX_SECONDS)


async def _check(response: aiohttp.ClientResponse, url: str) -> None:
    if response.status == 200:
        return
    try:
        error = (await response.json(content_type=None))["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError, aiohttp.ClientError):
        code, message = "http_error", f"HTTP {response.status}"
    if response.status == 401:
        raise TailError(
            f"the alerter at {url} refused the token ({code}): set NEWSWATCH_API_TOKEN to its token"
        )
    raise TailError(f"the alerter at {url} answered {response.status} {code}: {message}")


async def _read_events(
    response: aiohttp.ClientResponse, printer: _Printer, last_id: str | None
) -> str | None:
    """Print each ``alert`` event until the stream ends; returns the last event id seen."""
    event, data = "message", list[str]()
    while raw := await response.content.readline():
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if data and event == "alert":
                with contextlib.suppress(ValueError):
                    printer.show(json.loads("\n".join(data)))
            event, data = "message", []
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id":
            last_id = value
    return last_id


# ---------------------------------------------------------------- the topic itself


async def _tail_kafka(settings: Settings, printer: _Printer, last: int, watchlist: str | None) -> None:
    await ensure_topics(settings, [ALERTS])
    consumer = make_consumer(settings, "tail", group_id=None, isolation_level="read_uncommitted")
    await consumer.start()
    try:
        tps = await assign_all_partitions(consumer, ALERTS)
        ends = await seek_to_tail(consumer, tps, last)
        backlog: list[Any] = []
        # Read the backlog (up to the end offsets seen at start), then print its newest `last`, oldest first.
        while not await caught_up(consumer, ends):
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                backlog.extend(r for r in records if r.offset < ends[TopicPartition(r.topic, r.partition)])
        backlog.sort(key=lambda r: r.timestamp)

        def show(record: Any) -> None:
            try:
                alert = contracts.decode(Alert, record.value, record.headers)
            except InvalidMessageError:
                return
            if watchlist and watchlist not in (alert.watchlist_id, alert.watchlist_name):
                return
            printer.show(alert_document(alert))

        for record in backlog[-last:] if last > 0 else []:
            show(record)
        while True:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    show(record)
            await asyncio.sleep(0)
    finally:
        await consumer.stop()

"""Logging (JSON or text, stable keys) and the HTTP endpoint every service exposes.

Endpoint: ``/metrics`` (Prometheus text format from the service's own registry), ``/healthz`` (the
process is alive) and ``/readyz`` (the service says it is connected and assigned).

Log records carry their extras as top-level JSON keys; keys are snake_case and stable, values that are
durations or sizes have the unit in the key (``duration_seconds``, ``size_bytes``).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, disable_created_metrics, generate_latest

__all__ = ["LIFECYCLE_LOGGERS", "HealthServer", "JsonFormatter", "setup_logging"]

# No `*_created` series: they double every counter's series count and no dashboard or rule uses them.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus_client

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, then the record's extras."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in _extras(record).items():
            doc.setdefault(key, value)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Human-readable: time level logger: message key=value ..."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = _extras(record)
        if extra:
            line += " " + " ".join(f"{k}={v}" for k, v in extra.items())
        return line


#: Library loggers kept at the process's level although their parents are quieted.
LIFECYCLE_LOGGERS = ("aiokafka.consumer.group_coordinator", "faust.tables.recovery")


def setup_logging(fmt: str, level: str) -> None:
    """Configure the root logger once for the process (idempotent)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Library chatter stays at WARNING unless we debug ...
    for noisy in ("aiokafka", "faust", "mode", "kafka"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
    # ... except the few lines ops need to follow a worker: group joins, partition assignments, table
    # recovery (a worker that never gets partitions or never finishes recovery says so at INFO).
    for lifecycle in LIFECYCLE_LOGGERS:
        logging.getLogger(lifecycle).setLevel(level)
    # Article-page extraction: its own warnings repeat what the poller logs and counts per page.
    for chatty in ("trafilatura", "htmldate", "justext", "courlan"):
        logging.getLogger(chatty).setLevel(logging.DEBUG if level == "DEBUG" else logging.ERROR)


class HealthServer:
    """``/metrics``, ``/healthz`` and ``/readyz`` on one port. ``stop()`` is idempotent."""

    def __init__(
        self,
        registry: CollectorRegistry,
        host: str,
        port: int,
        ready: Callable[[], bool] = lambda: True,
        app: web.Application | None = None,
    ) -> None:
        self._registry = registry
        self._host = host
        self._port = port
        self._ready = ready
        self._app = app or web.Application()
        self._app.router.add_get("/metrics", self._metrics)
        self._app.router.add_get("/healthz", self._healthz)
        self._app.router.add_get("/readyz", self._readyz)
        self._runner: web.AppRunner | None = None
        self.port = port

    async def start(self) -> None:
        self._runner = web.AppRunner(self._app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _metrics(self, _request: web.Request) -> web.Response:
        body = generate_latest(self._registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, _request: web.Request) -> web.Response:
        ok = self._ready()
        return web.json_response({"status": "ready" if ok else "not ready"}, status=200 if ok else 503)

"""Helpers for end-to-end tests: the pipeline as real processes, a feed server and a webhook receiver."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

from tests.helpers import free_port


@dataclass
class FeedItem:
    guid: str
    title: str
    body: str
    link: str
    published: datetime = field(default_factory=lambda: datetime(2016, 4, 5, 9, 0, tzinfo=UTC))


def rss(items: list[FeedItem], title: str = "test feed") -> bytes:
    entries = "".join(
        f"<item><title>{escape(i.title)}</title><link>{escape(i.link)}</link>"
        f'<guid isPermaLink="false">{escape(i.guid)}</guid>'
        f"<pubDate>{format_datetime(i.published)}</pubDate>"
        f"<description>{escape(i.body)}</description></item>"
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>http://127.0.0.1/</link><description>test</description>"
        f"{entries}</channel></rss>"
    ).encode()


class _LoopbackServer:
    """One aiohttp route on a free 127.0.0.1 port; ``url`` is that route."""

    method = "GET"
    path = "/"

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route(self.method, self.path, self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self.port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    async def handle(self, request: web.Request) -> web.Response:
        raise NotImplementedError

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()


class FeedServer(_LoopbackServer):
    """Serves ``/feed.xml`` from a list of items that a test may extend while it runs."""

    path = "/feed.xml"

    def __init__(self) -> None:
        super().__init__()
        self.items: list[FeedItem] = []
        self.raw: bytes | None = None  # served as is instead of ``items`` when set
        self.requests = 0

    async def handle(self, _request: web.Request) -> web.Response:
        self.requests += 1
        body = self.raw if self.raw is not None else rss(self.items)
        return web.Response(body=body, content_type="application/rss+xml")


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    received_at: float


class WebhookReceiver(_LoopbackServer):
    """Records every POST; ``fail_with`` makes it answer that status instead of 204."""

    method = "POST"
    path = "/hook"

    def __init__(self) -> None:
        super().__init__()
        self.received: list[Received] = []
        self.fail_with: int | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.fail_with is not None:
            return web.Response(status=self.fail_with)
        self.received.append(Received(dict(request.headers), body, time.monotonic()))
        return web.Response(status=204)


def verify_standard_webhook(secret: str, headers: dict[str, str], body: bytes, tolerance: int = 300) -> None:
    """An independent Standard Webhooks verifier (not the product's code)."""
    msg_id = headers["webhook-id"]
    stamp = headers["webhook-timestamp"]
    if abs(time.time() - int(stamp)) > tolerance:
        raise AssertionError("stale webhook-timestamp")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = base64.b64encode(
        hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    ).decode()
    offered = [s.split(",", 1)[1] for s in headers["webhook-signature"].split() if s.startswith("v1,")]
    if not any(hmac.compare_digest(expected, o) for o in offered):
        raise AssertionError("webhook signature does not verify")


class Pipeline:
    """``newswatch`` processes sharing one environment; logs go to files under ``logdir``."""

    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.env = env
        self.logdir = logdir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        logdir.mkdir(parents=True, exist_ok=True)

    async def cli(self, *args: str, timeout_seconds: float = 120) -> str:
        """Run one ``newswatch`` command without blocking the event loop; return its stdout."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "newswatch", *args, env=self.env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        async with asyncio.timeout(timeout_seconds):
            out, err = await proc.communicate()
        assert proc.returncode == 0, f"newswatch {' '.join(args)} failed:\n{out.decode()}\n{err.decode()}"
        return out.decode()

    async def watch(self, name: str, feed_url: str, webhook_url: str, secret: str) -> None:
        """Add the feed (checked every 2 s) and a webhook subscription, both called ``name``."""
        await self.cli("feeds", "add", feed_url, "--title", name, "--interval", "2")
        await self.cli(
            "subscriptions", "add", "--id", name.replace(" ", "-"), "--name", name,
            "--webhook", webhook_url, "--secret", secret,
        )  # fmt: skip

    async def unwatch(self, name: str, feed_url: str) -> None:
        """Remove what :meth:`watch` added under ``name``."""
        await self.cli("subscriptions", "remove", name.replace(" ", "-"))
        await self.cli("feeds", "remove", feed_url)

    def start(self, name: str, *args: str) -> None:
        with (self.logdir / f"{name}.log").open("ab") as log:  # the child keeps its own descriptor
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "newswatch", *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # stop_all kills the whole group: `run all` has children
            )

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    async def terminate(self, name: str, timeout_seconds: float = 60) -> int:
        """SIGTERM and wait (without blocking the event loop) for the exit code."""
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(timeout_seconds):
            while proc.poll() is None:  # noqa: ASYNC110 - Popen offers no awaitable exit
                await asyncio.sleep(0.1)
        return proc.returncode

    def stop_all(self) -> None:
        for name in list(self.procs):
            proc = self.procs.pop(name)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)

    def log(self, name: str) -> str:
        path = self.logdir / f"{name}.log"
        return path.read_text(errors="replace")[-6000:] if path.exists() else ""


def pipeline_env(kafka_bootstrap: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    env.update(
        {
            "NEWSWATCH_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "NEWSWATCH_ALLOW_PRIVATE_NETWORKS": "true",
            "NEWSWATCH_DATA_DIR": str(data_dir),
            # pollers of one pipeline are one group; another pipeline on the broker must not take its feeds
            "NEWSWATCH_POLLER_GROUP_ID": f"newswatch-poller-e2e-{uuid.uuid4().hex[:12]}",
            # the processor too: its near-duplicate index would hold other runs' copies of the same texts
            "NEWSWATCH_PROCESSOR_GROUP_ID": f"newswatch-processor-e2e-{uuid.uuid4().hex[:12]}",
            # and the alerter, which consumers_start_at_end commits at the alerts topic's end
            "NEWSWATCH_ALERTER_GROUP_ID": f"newswatch-alerter-e2e-{uuid.uuid4().hex[:12]}",
            "NEWSWATCH_TOPIC_PARTITIONS": "3",
            "NEWSWATCH_POLL_INTERVAL_SECONDS": "2",
            "NEWSWATCH_POLLER_METRICS_PORT": str(free_port()),
            "NEWSWATCH_PROCESSOR_METRICS_PORT": str(free_port()),
            "NEWSWATCH_ALERTER_METRICS_PORT": str(free_port()),
            "NEWSWATCH_API_PORT": str(free_port()),
            "NEWSWATCH_DELIVERY_RETRY_SCHEDULE": "0.2s,0.4s,0.8s,1s",
            "NEWSWATCH_SHUTDOWN_DEADLINE_SECONDS": "15",
            "NEWSWATCH_LOG_FORMAT": "json",
            # E2E_LOG_LEVEL=DEBUG also logs Faust's and aiokafka's group joins and table recovery
            "NEWSWATCH_LOG_LEVEL": os.environ.get("E2E_LOG_LEVEL", "INFO"),
        }
    )
    env.update(extra)
    return env


async def consumers_start_at_end(env: dict[str, str]) -> None:
    """Commit the pipeline's processor group at the raw topic's current end and its alerter group at the
    alerts topic's end, so that they read what the test publishes rather than the broker's history
    (other tests' alerts would otherwise reach this test's subscriptions first)."""
    from newswatch.kafka import assign_all_partitions, ensure_topics, make_consumer
    from newswatch.settings import load_settings
    from newswatch.topics import ALERTS, ARTICLES_RAW

    settings = load_settings(environ={k: v for k, v in env.items() if k.startswith("NEWSWATCH_")})
    await ensure_topics(settings)
    for group, topic in (
        (settings.processor_group_id, ARTICLES_RAW),
        (settings.alerter_group_id, ALERTS),
    ):
        consumer = make_consumer(settings, "e2e-offsets", group_id=group)
        await consumer.start()
        try:
            tps = await assign_all_partitions(consumer, topic)
            await consumer.seek_to_end(*tps)
            await consumer.commit({tp: await consumer.position(tp) for tp in tps})
        finally:
            await consumer.stop()


async def wait_for(
    predicate: Any, seconds: float, what: str | Callable[[], str], pipeline: Pipeline | None = None
) -> None:
    """Poll ``predicate`` until it holds; on time-out fail with ``what`` (a callable is asked then) and
    the pipeline's logs."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.25)
    logs = ""
    if pipeline is not None:
        logs = "\n".join(f"--- {n}\n{pipeline.log(n)}" for n in ("poller", "processor", "alerter", "all"))
    described = what() if callable(what) else what
    raise AssertionError(f"timed out after {seconds:g}s waiting for {described}\n{logs}")

"""The whole pipeline as ``newswatch run …`` processes around the load of :mod:`tests.system.load`.

:class:`SystemRig` (an async context manager) serves growing feeds and runs webhook subscribers on
127.0.0.1, writes the feeds and subscriptions to the broker, starts the alerter, processor and poller
(each its own process, logs under ``<tmp>/logs``), waits until each answers ``/readyz`` and follows
``newswatch.alerts.v1`` to know what the processor emitted for this run. On exit it stops every process
it started and removes its feeds and subscriptions.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
from aiokafka import ConsumerRecord

from newswatch import contracts
from newswatch.errors import InvalidMessageError
from newswatch.settings import load_settings
from newswatch.topics import ALERTS, DELIVERIES
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.delivery_pb2 import DeliveryAttempt, DeliveryOutcome
from tests.e2e.harness import Pipeline, consumers_start_at_end, pipeline_env
from tests.helpers import free_port
from tests.system.load import ArticleMaker, GrowingFeeds, Subscriber, Tally, TopicTail, memory, tally

__all__ = ["RETRY_SCHEDULE", "SERVICES", "SystemRig"]

SERVICES = ("alerter", "processor", "poller")
# 1 + 10 attempts spread over about 3 minutes: longer than the 2-minute subscriber outage of the tests.
RETRY_SCHEDULE = "1s,2s,4s,8s,15s,30s,30s,30s,30s,30s"
_METRICS_PORT = {
    "poller": "NEWSWATCH_POLLER_METRICS_PORT",
    "processor": "NEWSWATCH_PROCESSOR_METRICS_PORT",
    "alerter": "NEWSWATCH_ALERTER_METRICS_PORT",
}


class SystemRig:
    """See the module docstring. ``feeds`` feeds (spread over the feeds topic's partitions), one
    subscriber per name in ``subscribers`` (every alert goes to each), one article in ``match_every``
    matching the default watch list."""

    def __init__(
        self,
        kafka_bootstrap: str,
        tmp_path: Path,
        *,
        feeds: int = 3,
        subscribers: tuple[str, ...] = ("sub-a", "sub-b"),
        window: int | None = None,
        match_every: int = 4,
        poll_interval_seconds: int = 1,
        **env: str,
    ) -> None:
        self.run = uuid.uuid4().hex[:10]
        self.tmp_path = tmp_path
        self.maker = ArticleMaker(self.run, match_every=match_every)
        self.feeds = GrowingFeeds(self.maker, feeds, window)
        self.subscribers = [Subscriber(f"{name}-{self.run}") for name in subscribers]
        self.poll_interval_seconds = poll_interval_seconds
        self.env = pipeline_env(
            kafka_bootstrap,
            tmp_path / "data",
            NEWSWATCH_FETCH_HOST_MIN_INTERVAL_SECONDS="0",
            NEWSWATCH_POLL_BACKOFF_INITIAL_SECONDS="1",
            NEWSWATCH_POLL_BACKOFF_MAX_SECONDS="5",
            NEWSWATCH_DELIVERY_RETRY_SCHEDULE=RETRY_SCHEDULE,
            **env,
        )
        self.partitions = int(self.env["NEWSWATCH_TOPIC_PARTITIONS"])
        self.pipe = Pipeline(self.env, tmp_path / "logs")
        self.extra: dict[str, Pipeline] = {}  # more processes of one service, each with its own ports
        self.emitted: dict[str, str] = {}  # alert id -> article URL, as the processor emitted them
        self.audited: Counter[str] = Counter()  # delivery id -> successes on newswatch.deliveries.v1
        self.started = time.monotonic()
        self._tail: TopicTail | None = None

    # ------------------------------------------------------------------ set-up and tear-down

    async def __aenter__(self) -> SystemRig:
        await self.feeds.start()
        self.feeds.spread(self.partitions)
        for sub in self.subscribers:
            await sub.up()
        lines = ["feeds:"]
        for k, url in enumerate(self.feeds.urls):
            lines += [f"  - url: {url}", f"    title: system {self.run} {k}"]
            lines.append(f"    poll_interval_seconds: {self.poll_interval_seconds}")
        catalogue = self.tmp_path / "feeds.yaml"
        catalogue.write_text("\n".join(lines) + "\n")
        await self.pipe.cli("feeds", "import", str(catalogue))
        for sub in self.subscribers:
            await self.pipe.cli(
                "subscriptions", "add", "--id", sub.name, "--name", sub.name, "--webhook", sub.url
            )
        await consumers_start_at_end(self.env)
        settings = load_settings(environ={k: v for k, v in self.env.items() if k.startswith("NEWSWATCH_")})
        self._tail = TopicTail(settings, [ALERTS, DELIVERIES], self._record)
        await self._tail.start()
        for name in SERVICES:
            self.pipe.start(name, "run", name)
        for name in SERVICES:
            await self.wait_ready(name)
        self.started = time.monotonic()
        return self

    async def __aexit__(
        self, _type: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        for pipe in (*self.extra.values(), self.pipe):
            pipe.stop_all()
        if self._tail is not None:
            await self._tail.stop()
        try:
            for sub in self.subscribers:
                await self.pipe.cli("subscriptions", "remove", sub.name, timeout_seconds=60)
            for url in self.feeds.urls:
                await self.pipe.cli("feeds", "remove", url, timeout_seconds=60)
        finally:
            for sub in self.subscribers:
                await sub.down()
            await self.feeds.stop()

    def _record(self, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            if record.topic == ALERTS.name:
                alert = contracts.decode(Alert, record.value, record.headers)
                if f"/articles/{self.run}/" in alert.url:
                    self.emitted[alert.alert_id] = alert.url
                return
            attempt = contracts.decode(DeliveryAttempt, record.value, record.headers)
        except InvalidMessageError:
            return
        if attempt.outcome == DeliveryOutcome.DELIVERY_OUTCOME_DELIVERED and attempt.subscription_id.endswith(
            self.run
        ):
            self.audited[attempt.delivery_id] += 1

    # ------------------------------------------------------------------ processes

    def port_of(self, name: str) -> int:
        pipe = self.extra.get(name, self.pipe)
        service = name if name in _METRICS_PORT else name.rstrip("0123456789")
        return int(pipe.env[_METRICS_PORT[service]])

    def pid_of(self, name: str) -> int:
        pipe = self.extra.get(name, self.pipe)
        return pipe.procs[name].pid

    def start_another(self, name: str, service: str) -> None:
        """Start one more ``service`` process called ``name``, with metrics (and API) ports of its own."""
        env = {**self.env, _METRICS_PORT[service]: str(free_port()), "NEWSWATCH_API_PORT": str(free_port())}
        pipe = self.extra[name] = Pipeline(env, self.tmp_path / "logs")
        pipe.start(name, "run", service)

    async def terminate_another(self, name: str) -> int:
        return await self.extra[name].terminate(name)

    async def readyz(self, name: str) -> bool:
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.get(
                    f"http://127.0.0.1:{self.port_of(name)}/readyz", timeout=aiohttp.ClientTimeout(2)
                ) as r,
            ):
                return r.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def metric(self, name: str, metric: str) -> float:
        """The sum of every sample of ``metric`` on process ``name``'s /metrics (0 when absent)."""
        url = f"http://127.0.0.1:{self.port_of(name)}/metrics"
        async with aiohttp.ClientSession() as http, http.get(url) as r:
            text = await r.text()
        total = 0.0
        for line in text.splitlines():
            if line.startswith(metric) and line[len(metric)] in " {":
                total += float(line.rsplit(" ", 1)[1])
        return total

    async def wait_ready(self, name: str, seconds: float = 180) -> None:
        pipe = self.extra.get(name, self.pipe)
        deadline = time.monotonic() + seconds
        while not await self.readyz(name):
            proc = pipe.procs.get(name)
            if proc is not None and proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{pipe.log(name)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} not ready after {seconds:g}s:\n{pipe.log(name)}")
            await asyncio.sleep(0.5)

    def check_running(self) -> None:
        """Fail (with its log) when a process of the rig has exited."""
        for pipe in (self.pipe, *self.extra.values()):
            for name, proc in pipe.procs.items():
                if proc.poll() is not None:
                    raise AssertionError(f"{name} exited with {proc.returncode}:\n{pipe.log(name)}")

    def memory(self) -> dict[str, tuple[float, float]]:
        """(VmRSS, VmHWM) in MiB of each running service process."""
        return {name: memory(proc.pid) for name, proc in self.pipe.procs.items()}

    # ------------------------------------------------------------------ bookkeeping

    def tally(self) -> Tally:
        return tally(self.maker.matching, self.subscribers, time.monotonic() - self.started)

    async def wait_delivered(self, seconds: float) -> None:
        """Until every matching article reached every subscriber (a time-out leaves the tally to tell)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.check_running()
            t = self.tally()
            if t.lost == 0:
                return
            await asyncio.sleep(0.5)

    def logs(self) -> str:
        out = []
        for pipe in (self.pipe, *self.extra.values()):
            out += [f"--- {name}\n{pipe.log(name)}" for name in pipe.procs]
        return "\n".join(out)


def broker_env(port: int, **extra: Any) -> dict[str, str]:
    """Environment for ``deploy/kafka/kafka.sh`` driving the broker on ``port``."""
    return {
        **os.environ,
        "KAFKA_PORT": str(port),
        "KAFKA_HEAP": "768m",
        **{k: str(v) for k, v in extra.items()},
    }


def kafka_sh(command: str, port: int, script: Path, **extra: Any) -> None:
    subprocess.run(
        ["bash", str(script), command], check=True, env=broker_env(port, **extra), timeout=300,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip

"""Load and bookkeeping for the whole-system tests (``tests/system``) and benchmark (``bench/system.py``).

- :class:`ArticleMaker` writes unique articles (pseudo-word filler, so that no two are near-duplicates);
  every ``match_every``-th one names ISIS, Palmyra or the town of Hit in Anbar and must become one alert
  per subscription, the others none.
- :class:`GrowingFeeds` serves ``feeds`` RSS feeds on 127.0.0.1 whose items grow while the test runs,
  by :meth:`~GrowingFeeds.add` or at a steady rate (:meth:`~GrowingFeeds.run_at`). Feeds keep their whole
  history unless ``window`` is set (then only the newest ``window`` items of each).
- :class:`Subscriber` is one webhook subscriber on a fixed 127.0.0.1 port that records every request
  (its ``webhook-id``, the alert's id and URL, the status it answered) and can answer 503 or go away
  (connections refused) and come back.
- :class:`TopicTail` follows topics from their end at start-up, riding out broker restarts.
- :func:`tally` compares what should have arrived with what did: lost, duplicate successes, unexpected.
- :func:`memory` reads a process's resident memory now and at its peak from ``/proc`` (Linux).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from newswatch.feeds import feed_id_for
from newswatch.kafka import assign_all_partitions, key_partition, make_consumer
from newswatch.settings import Settings
from newswatch.topics import TopicSpec
from tests.alerter.test_reliability import FlakyReceiver
from tests.e2e.harness import FeedItem, rss
from tests.helpers import free_port

__all__ = [
    "ArticleMaker",
    "Delivery",
    "GrowingFeeds",
    "Subscriber",
    "Tally",
    "TopicTail",
    "memory",
    "tally",
]

_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"
_MATCHING = (
    "Government forces reported new clashes with ISIS units near Palmyra.",
    "Iraqi troops pushed ISIS fighters out of the town of Hit in Anbar province.",
    "Residents of the town of Hit in Anbar province said ISIS shelled the market.",
    "Syrian army units advanced on Palmyra after ISIS withdrew from the ancient city.",
)


class ArticleMaker:
    """Unique articles of about ``words`` filler words; article ``n`` matches when ``n % match_every == 0``.

    Filler words are consonant-vowel syllables in lower case: none is a watch-list term or alias."""

    def __init__(self, run: str, *, match_every: int = 4, words: int = 60, seed: int = 0) -> None:
        self.run = run
        self.match_every = match_every
        self.words = words
        self._rng = random.Random(seed)
        self.count = 0
        self.matching: set[str] = set()  # URLs of the articles that must become alerts

    def _word(self) -> str:
        rng = self._rng
        return "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(rng.randint(2, 4)))

    def _filler(self, n: int) -> str:
        return " ".join(self._word() for _ in range(n))

    def make(self) -> FeedItem:
        n = self.count
        self.count += 1
        link = f"http://127.0.0.1/articles/{self.run}/{n}.html"
        if n % self.match_every == 0:
            title = f"Report {n}: fighting with ISIS continues"
            body = f"{self._filler(self.words // 2)}. {_MATCHING[n // self.match_every % len(_MATCHING)]} "
            body += f"{self._filler(self.words // 2)}."
            self.matching.add(link)
        else:
            title = f"Bulletin {n}: {self._filler(4)}"
            body = f"{self._filler(self.words)}."
        return FeedItem(
            guid=f"{self.run}-{n}", title=title, body=body, link=link, published=datetime.now(UTC)
        )


class GrowingFeeds:
    """``feeds`` RSS feeds at ``/feeds/<k>.xml`` on one 127.0.0.1 port; items go round-robin."""

    def __init__(self, maker: ArticleMaker, feeds: int = 1, window: int | None = None) -> None:
        self.maker = maker
        self.items: list[list[FeedItem]] = [[] for _ in range(feeds)]
        self.names = [str(k) for k in range(feeds)]
        self.window = window
        self.requests = 0
        self.added_at: dict[str, float] = {}  # URL -> when the item appeared in its feed (epoch s)
        self._bodies: dict[int, bytes] = {}
        self._next = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{self.port}/feeds/{name}.xml" for name in self.names]

    def spread(self, partitions: int) -> None:
        """Name the feeds (after :meth:`start`) so that their ids fall round-robin on the ``partitions``
        partitions of ``newswatch.feeds.v1``: every poller of a group gets feeds to check."""
        names: list[str] = []
        candidate = 0
        while len(names) < len(self.items):
            name = f"f{candidate}"
            candidate += 1
            feed_id = feed_id_for(f"http://127.0.0.1:{self.port}/feeds/{name}.xml")
            if key_partition(feed_id.encode(), list(range(partitions))) == len(names) % partitions:
                names.append(name)
        self.names = names

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/feeds/{name}.xml", self._feed)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self.port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _feed(self, request: web.Request) -> web.Response:
        self.requests += 1
        try:
            k = self.names.index(request.match_info["name"])
        except ValueError:
            raise web.HTTPNotFound() from None
        body = self._bodies.get(k)
        if body is None:
            shown = self.items[k] if self.window is None else self.items[k][-self.window :]
            body = self._bodies[k] = rss(shown, title=f"system feed {k}")
        return web.Response(body=body, content_type="application/rss+xml")

    def add(self, n: int) -> None:
        """Append ``n`` new articles, one feed after the other."""
        now = time.time()
        for _ in range(n):
            item = self.maker.make()
            k = self._next % len(self.items)
            self._next += 1
            self.items[k].append(item)
            if self.window is not None and len(self.items[k]) > 4 * self.window:
                del self.items[k][: -self.window]
            self._bodies.pop(k, None)
            self.added_at[item.link] = now

    async def run_at(self, per_second: float, seconds: float, tick: float = 0.05) -> int:
        """Add articles at ``per_second`` for ``seconds``; returns how many were added."""
        started = time.monotonic()
        done = 0
        while (elapsed := time.monotonic() - started) < seconds:
            due = int(per_second * elapsed) - done
            if due > 0:
                self.add(due)
                done += due
            await asyncio.sleep(tick)
        rest = int(per_second * seconds) - done
        self.add(rest)
        return done + rest


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook request a subscriber received."""

    subscription: str
    webhook_id: str
    alert_id: str
    url: str
    status: int
    at: float  # epoch seconds


class Subscriber(FlakyReceiver):
    """A webhook subscriber on a fixed 127.0.0.1 port, kept across ``down()`` (connections refused) and
    ``up()``; ``status`` is what it answers. ``received`` holds every request with the alert it carried."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.status = 204
        self.received: list[Delivery] = []

    async def _hook(self, request: web.Request) -> web.StreamResponse:
        doc = json.loads(await request.read())
        wid = request.headers["webhook-id"]
        self.received.append(
            Delivery(self.name, wid, str(doc["alert_id"]), str(doc["url"]), self.status, time.time())
        )
        return web.Response(status=self.status)

    def successes(self) -> list[Delivery]:
        return [d for d in self.received if 200 <= d.status < 300]


@dataclass
class Tally:
    """Expected against delivered, per (subscription, alert): see :func:`tally`."""

    expected: int
    delivered: int
    lost: int
    duplicates: int
    unexpected: int
    refused: int  # requests answered with an error (the subscriber down or failing)
    seconds: float
    missing: list[tuple[str, str]] = field(default_factory=list)
    duplicated: list[tuple[str, str]] = field(default_factory=list)
    ids_per_alert_ok: bool = True  # every attempt of one (subscription, alert) carried one webhook-id

    def line(self, scenario: str) -> str:
        return (
            f"{scenario}: expected {self.expected} delivered {self.delivered} lost {self.lost} "
            f"duplicates {self.duplicates} unexpected {self.unexpected} refused {self.refused} "
            f"seconds {self.seconds:.0f}"
        )


def tally(expected_urls: Iterable[str], subscribers: Iterable[Subscriber], seconds: float) -> Tally:
    """``expected_urls`` (articles that must alert) × subscribers, against the successful deliveries,
    de-duplicated by alert id per subscription. A duplicate is a second success of one (subscription,
    alert id); ``unexpected`` counts alerts delivered for an article not in ``expected_urls``."""
    wanted = set(expected_urls)
    subs = list(subscribers)
    want = {(s.name, url) for s in subs for url in wanted}
    ok: Counter[tuple[str, str]] = Counter()
    urls_ok: set[tuple[str, str]] = set()
    ids: dict[tuple[str, str], set[str]] = {}
    refused = 0
    for sub in subs:
        for d in sub.received:
            ids.setdefault((sub.name, d.alert_id), set()).add(d.webhook_id)
            if 200 <= d.status < 300:
                ok[(sub.name, d.alert_id)] += 1
                urls_ok.add((sub.name, d.url))
            else:
                refused += 1
    missing = sorted(want - urls_ok)
    duplicated = sorted(k for k, n in ok.items() if n > 1)
    return Tally(
        expected=len(want),
        delivered=len(urls_ok & want),
        lost=len(missing),
        duplicates=sum(n - 1 for n in ok.values()),
        unexpected=len(urls_ok - want),
        refused=refused,
        seconds=seconds,
        missing=missing[:20],
        duplicated=duplicated[:20],
        ids_per_alert_ok=all(len(v) == 1 for v in ids.values()),
    )


class TopicTail:
    """Follows ``topics`` from their end at :meth:`start`; ``on_record(record)`` sees each record.

    Broker errors (a restart) are retried every second: nothing is skipped, the positions are kept."""

    def __init__(
        self,
        settings: Settings,
        topics: Iterable[TopicSpec],
        on_record: Callable[[ConsumerRecord[bytes, bytes]], None],
    ) -> None:
        self._settings = settings
        self._topics = list(topics)
        self._on_record = on_record
        self._consumer = make_consumer(settings, "system-tail", group_id=None)
        self._task: asyncio.Task[None] | None = None
        self.records = 0

    async def start(self) -> None:
        await self._consumer.start()
        tps: list[TopicPartition] = []
        for topic in self._topics:
            tps += await assign_all_partitions(self._consumer, topic)
        self._consumer.assign(tps)
        await self._consumer.seek_to_end(*tps)
        for tp in tps:  # resolve the positions now: records written from here on are seen
            await self._consumer.position(tp)
        self._task = asyncio.create_task(self._follow(), name="system-tail")

    async def _follow(self) -> None:
        while True:
            try:
                batch = await self._consumer.getmany(timeout_ms=200, max_records=2000)
            except KafkaError:
                await asyncio.sleep(1.0)
                continue
            for records in batch.values():
                for record in records:
                    self.records += 1
                    self._on_record(record)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._consumer.stop()


def memory(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of process ``pid`` in MiB; NaN for a field the kernel does not report."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", float("nan")), fields.get("VmHWM", float("nan"))

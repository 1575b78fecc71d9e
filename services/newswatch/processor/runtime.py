"""What the processor holds beside Faust: metrics, watch lists, the near-duplicate index, the seen set,
the regions table, health.

:class:`ProcessorRuntime` is built once per worker and shared with the Faust app
(:func:`newswatch.processor.app.build_app`); :class:`Sidecar` runs it inside the Faust worker's
lifecycle (started before the app, stopped after it). :func:`consumer_lag` is the arithmetic behind
``newswatch_processor_consumer_lag_records``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import mode
from prometheus_client import CollectorRegistry

from newswatch.errors import SettingsError
from newswatch.kafka import CompactedView
from newswatch.observability import HealthServer
from newswatch.processor.agents import WatchlistRegistry
from newswatch.processor.dupindex import NearDupIndex
from newswatch.processor.duplog import IndexFollower, changelog_spec
from newswatch.processor.duprecords import OwnRecords
from newswatch.processor.metrics import ProcessorMetrics
from newswatch.processor.normalize import folding
from newswatch.processor.places import default_gazetteer
from newswatch.processor.regions import RegionTable, load_regions
from newswatch.processor.seen import SeenLog
from newswatch.processor.watchlist import default_watchlist
from newswatch.settings import Settings, env_name
from newswatch.topics import WATCHLISTS
from newswatch.v1.watchlist_pb2 import Watchlist

__all__ = ["APP_ID", "NOT_READY_WARN_SECONDS", "ProcessorRuntime", "Sidecar", "consumer_lag", "region_table"]

log = logging.getLogger(__name__)

APP_ID = "newswatch-processor"
#: How often a worker that is not ready says what it waits for.
NOT_READY_WARN_SECONDS = 30.0


def region_table(settings: Settings) -> RegionTable:
    """The regions table ``regions_file`` names (the packaged one when empty); SettingsError naming
    NEWSWATCH_REGIONS_FILE when it cannot be read or is not a valid table (not retriable)."""
    try:
        return load_regions(settings.regions_file)
    except ValueError as exc:
        raise SettingsError(env_name("regions_file"), str(exc)) from None


class ProcessorRuntime:
    """Everything the processor holds besides Faust: metrics, watch lists, near-duplicate index, health.

    ``app_id`` names the near-duplicate changelog (as Faust does); ``partitions`` is the raw topic's
    partition count (default: the setting). Raises SettingsError when ``regions_file`` is bad.
    """

    def __init__(
        self,
        settings: Settings,
        registry: CollectorRegistry | None = None,
        *,
        app_id: str = APP_ID,
        partitions: int | None = None,
    ) -> None:
        self.settings = settings
        self.app_id = app_id
        self.partitions = partitions or settings.topic_partitions
        self.registry = registry or CollectorRegistry()
        self.metrics = ProcessorMetrics(self.registry)
        self.watchlists = WatchlistRegistry(default_watchlist(), self.metrics)
        self.gazetteer = default_gazetteer()
        folding(True)  # the compiled folding tables are built now, not by the first long article
        folding(False)
        self.regions = region_table(settings)
        self.index = NearDupIndex(
            window_seconds=settings.neardup_window_seconds,
            max_entries=settings.neardup_max_articles,
            on_evict=self.metrics.evicted,
        )
        self.metrics.neardup_index_articles.set_function(self.index.__len__)
        self.own_records = OwnRecords()  # index records this worker wrote: its follower skips them
        self.seen = SeenLog(
            settings.processor_seen_max_articles, self.partitions, on_invalid=self._seen_invalid
        )
        self.metrics.seen_articles.set_function(self.seen.__len__)
        self.health = HealthServer(
            self.registry, settings.metrics_host, settings.processor_metrics_port, ready=self.is_ready
        )
        self.consuming = False
        self.assigned = False
        self.next_offsets: dict[Any, int] = {}  # raw TopicPartition -> offset after the last processed
        self._view: CompactedView[Watchlist] | None = None
        self._follower: IndexFollower | None = None
        self._loaded = False

    def _seen_invalid(self, reason: str) -> None:
        self.metrics.seen_invalid_records.inc()
        log.warning("seen-table record skipped", extra={"reason": reason})

    def is_ready(self) -> bool:
        return not self.waiting_for()

    def waiting_for(self) -> list[str]:
        """What keeps ``/readyz`` from answering 200, in start-up order (empty once ready)."""
        pending = []
        if not self._loaded:
            pending.append("watch lists and near-duplicate index")
        if not self.assigned:
            pending.append("partition assignment and table recovery")
        if not self.consuming:
            pending.append("the article agent")
        return pending

    async def start(self) -> None:
        """Start the endpoint, then read the watch lists and the near-duplicate changelog to their end
        and keep following them."""
        await self.health.start()
        log.info("processor metrics endpoint listening", extra={"port": self.health.port})
        self._view = CompactedView(
            self.settings, WATCHLISTS, Watchlist, role="processor", on_change=self.watchlists.on_change
        )
        await self._view.start()
        self._view.follow()
        self.watchlists.mark_loaded()
        spec = changelog_spec(self.app_id, self.partitions, self.settings.neardup_window_seconds)
        self._follower = IndexFollower(self.settings, spec, self.index, self.metrics, own=self.own_records)
        await self._follower.start()
        self._follower.follow()
        self._loaded = True

    async def stop(self) -> None:
        """Idempotent."""
        self._loaded = False
        view, self._view = self._view, None
        if view is not None:
            await view.stop()
        follower, self._follower = self._follower, None
        if follower is not None:
            await follower.stop()
        await self.health.stop()


class Sidecar(mode.Service):
    """Runs a :class:`ProcessorRuntime` inside the Faust worker's lifecycle, and says so every
    ``warn_seconds`` while the worker is not ready (a worker that never gets its partitions or never
    finishes recovering its tables would otherwise only fail ``/readyz``)."""

    def __init__(self, runtime: ProcessorRuntime, warn_seconds: float = NOT_READY_WARN_SECONDS) -> None:
        super().__init__()
        self._runtime = runtime
        self._warn_seconds = warn_seconds

    async def on_start(self) -> None:
        await self._runtime.start()

    async def on_stop(self) -> None:
        await self._runtime.stop()

    @mode.Service.task
    async def _watch_readiness(self) -> None:
        started = time.monotonic()
        while not self.should_stop:
            await self.sleep(self._warn_seconds)
            waiting = self._runtime.waiting_for()
            if waiting and not self.should_stop:
                log.warning(
                    "processor not ready",
                    extra={"waiting_for": waiting, "seconds": round(time.monotonic() - started)},
                )


def consumer_lag(highwaters: Mapping[Any, int | None], next_offsets: Mapping[Any, int]) -> int:
    """Records between each partition's next offset to process and its high-water mark, summed.

    Partitions whose high-water mark or position is unknown count zero.
    """
    total = 0
    for tp, high in highwaters.items():
        position = next_offsets.get(tp)
        if high is not None and position is not None:
            total += max(0, high - position)
    return total

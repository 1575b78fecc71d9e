"""Our own outage: the pure rule as a table, the detector's gauge, and the scheduler with a fake fetcher."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from newswatch.errors import FetchError
from newswatch.feeds import make_feed
from newswatch.poller.checker import FeedChecker
from newswatch.poller.fetcher import FetchResult, Validators
from newswatch.poller.metrics import PollerMetrics
from newswatch.poller.outage import Observation, OutageDetector, OutageRule, host_of, is_offline
from newswatch.poller.scheduler import CheckOutcome, CheckReport, Policy, Scheduler
from newswatch.v1.feed_pb2 import Feed

from .fakes import FakePublisher

RULE = OutageRule(window_seconds=60, min_checks=5, max_checks=10, min_failure_ratio=0.8, min_hosts=3)


def obs(*items: tuple[float, str, bool]) -> list[Observation]:
    return [Observation(at, host, failed) for at, host, failed in items]


def down(n: int, hosts: int, at: float = 100.0) -> list[tuple[float, str, bool]]:
    return [(at, f"h{i % hosts}.example", True) for i in range(n)]


def up(n: int, at: float = 100.0) -> list[tuple[float, str, bool]]:
    return [(at, f"u{i}.example", False) for i in range(n)]


@pytest.mark.parametrize(
    ("name", "observations", "offline"),
    [
        ("no checks", [], False),
        ("four failures are too few", down(4, 4), False),
        ("five failures on five hosts", down(5, 5), True),
        ("five failures on three hosts", down(5, 3), True),
        ("five failures on two hosts: their problem", down(5, 2), False),
        ("one dead host, many feeds", down(10, 1), False),
        ("4 of 5 failed: 80%", down(4, 4) + up(1), True),
        ("3 of 5 failed: 60%", down(3, 3) + up(2), False),
        ("8 of 10 failed", down(8, 4) + up(2), True),
        ("7 of 10 failed", down(7, 4) + up(3), False),
        ("old failures are outside the window", down(10, 5, at=30.0) + up(1), False),
        ("only the last max_checks count", down(10, 5, at=90.0) + up(3, at=95.0), False),
        ("recovery: recent successes outweigh", down(10, 5, at=90.0) + up(10, at=99.0), False),
        (
            "non-network failures are not an outage",
            [(100.0, f"h{i}.example", False) for i in range(6)],
            False,
        ),
    ],
)
def test_is_offline(name: str, observations: list[tuple[float, str, bool]], offline: bool) -> None:
    assert is_offline(obs(*observations), now=100.0, rule=RULE) is offline, name


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://News.Example/feed", "news.example"),
        ("http://user:pw@h.example:8080/x?q=1", "h.example"),
        ("http://[::1]:9/feed", "::1"),
        ("not a url", ""),
        ("http://[bad/feed", ""),
    ],
)
def test_host_of(url: str, host: str) -> None:
    assert host_of(url) == host


def test_detector_sets_the_gauge_and_logs_transitions(caplog: pytest.LogCaptureFixture) -> None:
    metrics = PollerMetrics(CollectorRegistry())
    detector = OutageDetector(metrics, RULE)
    gauge = metrics.network_down._value
    assert gauge.get() == 0
    results = [detector.record(f"https://h{i}.example/f", "timeout", 10.0 + i) for i in range(5)]
    assert results == [False, False, False, False, True]
    assert gauge.get() == 1
    assert "network down" in caplog.text
    for i in range(10):
        detector.record(f"https://h{i}.example/f", "", 20.0 + i)
    assert not detector.offline
    assert gauge.get() == 0
    assert "network back" in caplog.text


class NetworkFetcher:
    """Every fetch fails with ``error`` (connection_error by default) while ``down``; else 304."""

    def __init__(self) -> None:
        self.down = False
        self.error = "connection_error"
        self.calls: dict[str, int] = {}

    async def fetch(self, url: str, validators: Validators | None = None) -> FetchResult:
        self.calls[url] = self.calls.get(url, 0) + 1
        if self.down:
            raise FetchError("cannot connect: network is unreachable", outcome=self.error)
        return FetchResult(url, url, 304, b"", True, Validators(), None, 0)  # no parse involved

    async def close(self) -> None:
        pass


async def run_scheduler(
    hosts: int, feeds: int, fetcher: NetworkFetcher, seconds_up: float, seconds_down: float
) -> tuple[Scheduler, PollerMetrics, list[CheckReport]]:
    metrics = PollerMetrics(CollectorRegistry())
    rule = OutageRule(window_seconds=5, min_checks=5, min_hosts=3, retry_seconds=0.05)
    policy = Policy(
        default_interval_seconds=0.05,
        backoff_initial_seconds=0.05,
        backoff_max_seconds=0.1,
        first_check_max_delay_seconds=0.0,
    )
    reports: list[CheckReport] = []

    async def after_check(feed: Feed, report: CheckReport) -> None:
        reports.append(report)

    checker = FeedChecker(fetcher, FakePublisher(), metrics)
    scheduler = Scheduler(
        checker.check,
        policy,
        concurrency=4,
        metrics=metrics,
        outage=OutageDetector(metrics, rule),
        after_check=after_check,
    )
    for i in range(feeds):
        scheduler.upsert(make_feed(f"https://h{i % hosts}.example/feed{i}", feed_id=f"f{i}"))
    runner = asyncio.create_task(scheduler.run())
    await asyncio.sleep(seconds_up)
    fetcher.down = True
    await asyncio.sleep(seconds_down)
    await scheduler.stop(1.0)
    await runner
    return scheduler, metrics, reports


@pytest.mark.parametrize("error", ["connection_error", "timeout"])
async def test_every_host_failing_leaves_the_feeds_failure_counts_alone(error: str) -> None:
    fetcher = NetworkFetcher()
    fetcher.error = error
    scheduler, metrics, reports = await run_scheduler(6, 6, fetcher, seconds_up=0.2, seconds_down=0.6)
    assert all(count >= 4 for count in fetcher.calls.values())  # retried at the short fixed interval
    assert metrics.network_down._value.get() == 1
    assert {scheduler.failures_of(f"f{i}") for i in range(6)} == {0}
    assert metrics.feeds.labels(state="ok")._value.get() == 6
    assert metrics.feeds.labels(state="degraded")._value.get() == 0
    assert sum(not r.counted for r in reports) >= 10
    assert all(r.state == "ok" for r in reports if not r.counted)


async def test_one_dead_host_is_that_host_s_problem() -> None:
    fetcher = NetworkFetcher()
    scheduler, metrics, reports = await run_scheduler(1, 6, fetcher, seconds_up=0.1, seconds_down=0.5)
    assert metrics.network_down._value.get() == 0
    assert all((scheduler.failures_of(f"f{i}") or 0) >= 2 for i in range(6))
    assert all(r.counted for r in reports)


async def test_feed_failures_count_again_once_the_network_is_back() -> None:
    metrics = PollerMetrics(CollectorRegistry())
    detector = OutageDetector(metrics, OutageRule(window_seconds=60, min_checks=5, min_hosts=3))
    outcomes: dict[str, CheckOutcome] = {}

    async def check(feed: Feed) -> CheckOutcome:
        return outcomes[feed.feed_id]

    policy = Policy(default_interval_seconds=60, first_check_max_delay_seconds=0.0)
    clock = [1000.0]
    scheduler = Scheduler(check, policy, 8, metrics, clock=lambda: clock[0], outage=detector)
    slots = {}
    for i in range(5):
        scheduler.upsert(make_feed(f"https://h{i}.example/f", feed_id=f"f{i}"))
        slots[f"f{i}"] = scheduler._slots[f"f{i}"]
    net = CheckOutcome(ok=False, error_kind="connection_error")
    for i in range(5):
        outcomes[f"f{i}"] = net
        await scheduler._run_check(slots[f"f{i}"])
        clock[0] += 1
    assert detector.offline
    assert [scheduler.failures_of(f"f{i}") for i in range(5)] == [0] * 5
    # while offline, a feed's own error (HTTP 500) still counts
    outcomes["f0"] = CheckOutcome(ok=False, error_kind="http_error")
    await scheduler._run_check(slots["f0"])
    assert scheduler.failures_of("f0") == 1
    # the network comes back: successes, then a network failure counts again
    for i in range(5):
        outcomes[f"f{i}"] = CheckOutcome(ok=True)
        for _ in range(2):
            await scheduler._run_check(slots[f"f{i}"])
            clock[0] += 1
    assert not detector.offline
    outcomes["f1"] = net
    await scheduler._run_check(slots["f1"])
    assert scheduler.failures_of("f1") == 1

"""FeedChecker with fake fetcher and publisher: skip unchanged bodies, keep validators only on success."""

from __future__ import annotations

from dataclasses import replace

from prometheus_client import CollectorRegistry

from newswatch.errors import FetchError
from newswatch.feeds import make_feed
from newswatch.poller.checker import FeedChecker
from newswatch.poller.fetcher import RetryLaterError, Validators
from newswatch.poller.freshness import Hints
from newswatch.poller.metrics import PollerMetrics

from .conftest import fixture_bytes
from .fakes import FakeFetcher, FakePublisher, not_modified, ok

FEED = make_feed("https://f.example/feed")
RSS = fixture_bytes("rss20.xml")


def make(fetcher: FakeFetcher, publisher: FakePublisher | None = None):
    metrics = PollerMetrics(CollectorRegistry())
    return FeedChecker(fetcher, publisher or FakePublisher(), metrics), metrics


async def test_unchanged_body_is_not_parsed_again() -> None:
    publisher = FakePublisher()
    checker, metrics = make(FakeFetcher(ok(RSS, etag='"1"'), ok(RSS, etag='"2"'), not_modified()), publisher)
    for _ in range(3):
        assert (await checker.check(FEED)).ok
    assert len(publisher.batches) == 1
    assert metrics.parses_skipped._value.get() == 1
    assert metrics.fetches.labels(outcome="ok")._value.get() == 2
    assert metrics.fetches.labels(outcome="not_modified")._value.get() == 1


async def test_validators_are_kept_only_after_a_successful_publish() -> None:
    fetcher = FakeFetcher(ok(RSS, etag='"1"'), ok(RSS, etag='"1"'), not_modified())
    publisher = FakePublisher(fail_times=1)
    checker, _ = make(fetcher, publisher)
    first = await checker.check(FEED)
    assert not first.ok and first.retriable
    assert (await checker.check(FEED)).ok
    assert len(publisher.batches) == 1  # the same body was parsed and published again
    await checker.check(FEED)
    assert [v for _, v in fetcher.calls] == [None, None, Validators('"1"', None)]


async def test_fetch_and_parse_failures_become_outcomes_and_metrics() -> None:
    fetcher = FakeFetcher(
        RetryLaterError("HTTP 429", status=429, retry_after_seconds=90.0),
        FetchError("HTTP 404", outcome="http_error", retriable=False, status=404),
        ok(fixture_bytes("billion_laughs.xml")),
        ok(fixture_bytes("not_a_feed.html")),
    )
    checker, metrics = make(fetcher)
    limited = await checker.check(FEED)
    assert (limited.ok, limited.retriable, limited.retry_after_seconds) == (False, True, 90.0)
    gone = await checker.check(FEED)
    assert (gone.ok, gone.retriable) == (False, False)
    hostile = await checker.check(FEED)
    assert (hostile.ok, hostile.retriable) == (False, False)
    assert not (await checker.check(FEED)).ok
    assert metrics.fetches.labels(outcome="rate_limited")._value.get() == 1
    assert metrics.fetches.labels(outcome="http_error")._value.get() == 1
    assert metrics.parse_errors.labels(reason="hostile")._value.get() == 1
    assert metrics.parse_errors.labels(reason="not_a_feed")._value.get() == 1


async def test_forget_drops_memory_and_seen_ids() -> None:
    publisher = FakePublisher()
    fetcher = FakeFetcher(ok(RSS, etag='"1"'), ok(RSS, etag='"1"'))
    checker, _ = make(fetcher, publisher)
    await checker.check(FEED)
    checker.forget(FEED.feed_id)
    await checker.check(FEED)
    assert fetcher.calls[1][1] is None
    assert len(publisher.batches) == 2


async def test_hints_reach_the_scheduler_and_survive_a_skipped_parse() -> None:
    body = fixture_bytes("rss20_ttl.xml")  # ttl 45 min; dated entries an hour apart (median)
    fetcher = FakeFetcher(
        replace(ok(body, etag='"1"'), max_age_seconds=600.0),
        replace(ok(body, etag='"2"'), expires_seconds=900.0),  # same body: parse skipped
        not_modified(),
        ok(RSS),  # a new body: no server hint, two dated entries
    )
    publisher = FakePublisher()
    checker, _ = make(fetcher, publisher)
    first = await checker.check(FEED)
    assert first.hints == Hints(ttl_seconds=2700.0, max_age_seconds=600.0, observed_seconds=3600.0)
    skipped = await checker.check(FEED)
    assert skipped.hints == Hints(ttl_seconds=2700.0, expires_seconds=900.0, observed_seconds=3600.0)
    assert len(publisher.batches) == 1
    assert (await checker.check(FEED)).hints is None  # 304: the scheduler keeps the last interval
    fourth = await checker.check(FEED)
    assert fourth.ok and fourth.hints == Hints(observed_seconds=51300.0)  # the old ttl is gone


async def test_failed_checks_bring_no_hints_and_forget_drops_them() -> None:
    body = fixture_bytes("rss20_ttl.xml")
    fetcher = FakeFetcher(ok(body), ok(body), ok(body))
    checker, _ = make(fetcher, FakePublisher(fail_times=1))
    failed = await checker.check(FEED)
    assert not failed.ok and failed.hints is None
    assert (await checker.check(FEED)).hints == Hints(ttl_seconds=2700.0, observed_seconds=3600.0)
    checker.forget(FEED.feed_id)
    again = await checker.check(FEED)  # parsed again after forget, so the hints are rebuilt
    assert again.hints == Hints(ttl_seconds=2700.0, observed_seconds=3600.0)

"""Feed health: the "should publish?" rule as a table, error redaction, and the reporter with fakes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from newswatch.cli import _feed_row
from newswatch.feeds import make_feed
from newswatch.poller.health import (
    ERROR_MAX_CHARS,
    HealthReporter,
    Published,
    digest_without_health,
    redact_url,
    short_error,
    should_publish,
)
from newswatch.poller.metrics import PollerMetrics
from newswatch.poller.scheduler import CheckOutcome, CheckReport
from newswatch.v1.feed_pb2 import FEED_STATE_DEGRADED, FEED_STATE_FAILING, FEED_STATE_OK, Feed

REFRESH = 600.0


@pytest.mark.parametrize(
    ("name", "last", "state", "now", "expected"),
    [
        ("first check of this poller", None, "ok", 0.0, True),
        ("unchanged, just written", Published("ok", 100.0), "ok", 101.0, False),
        ("unchanged, 9 minutes later", Published("ok", 100.0), "ok", 640.0, False),
        ("unchanged, refresh due", Published("ok", 100.0), "ok", 700.0, True),
        ("ok -> degraded", Published("ok", 100.0), "degraded", 101.0, True),
        ("degraded -> failing", Published("degraded", 100.0), "failing", 101.0, True),
        ("failing -> ok", Published("failing", 100.0), "ok", 101.0, True),
        ("still failing", Published("failing", 100.0), "failing", 200.0, False),
    ],
)
def test_should_publish(name: str, last: Published | None, state: str, now: float, expected: bool) -> None:
    assert should_publish(last, state, now, REFRESH) is expected, name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HTTP 500", "HTTP 500"),
        (
            "cannot connect to https://user:secret@h.example:8443/feed?token=abc#x: refused",
            "cannot connect to https://h.example:8443/feed: refused",
        ),
        (
            "redirect to a non-HTTP URL: ftp://h.example/x?k=v",
            "redirect to a non-HTTP URL: ftp://h.example/x",
        ),
        ("two\n  lines", "two lines"),
    ],
)
def test_short_error(text: str, expected: str) -> None:
    assert short_error(text) == expected


@given(st.text(max_size=1000))
def test_short_error_is_one_short_line_without_query_strings(text: str) -> None:
    out = short_error(text + " https://u:pw@h.example/p?api_key=SECRET")
    assert len(out) <= ERROR_MAX_CHARS
    assert "\n" not in out
    assert "SECRET" not in out or "SECRET" in text
    assert "pw@" not in out or "pw@" in text


def test_redact_url_keeps_ipv6_hosts() -> None:
    assert redact_url("http://[::1]:8080/f?x=1") == "http://[::1]:8080/f"


def test_digest_ignores_only_health() -> None:
    feed = make_feed("https://h.example/feed", title="T")
    other = Feed()
    other.CopyFrom(feed)
    other.health.state = FEED_STATE_FAILING
    assert digest_without_health(feed) == digest_without_health(other)
    other.title = "T2"
    assert digest_without_health(feed) != digest_without_health(other)


class Catalogue:
    """The catalogue view (``latest``) and the topic (``send``) for the reporter."""

    def __init__(self, *feeds: Feed) -> None:
        self.items = {f.feed_id: f for f in feeds}
        self.sent: list[Feed] = []
        self.fail = False

    def latest(self, feed_id: str) -> Feed | None:
        return self.items.get(feed_id)

    async def send(self, feed: Feed) -> None:
        if self.fail:
            raise RuntimeError("broker unavailable")
        self.sent.append(feed)
        self.items[feed.feed_id] = feed


WALL = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def reporter(catalogue: Catalogue, metrics: PollerMetrics, clock: list[float]) -> HealthReporter:
    return HealthReporter(
        catalogue.latest, catalogue.send, metrics, clock=lambda: clock[0], wall=lambda: WALL
    )


def report(ok: bool, failures: int, state: str, counted: bool = True, **outcome: str) -> CheckReport:
    return CheckReport(CheckOutcome(ok=ok, **outcome), failures, state, 300.0, counted)  # type: ignore[arg-type]


async def test_health_follows_the_checks_and_keeps_user_fields() -> None:
    feed = make_feed("https://h.example/feed", title="Old title", feed_id="f1")
    catalogue = Catalogue(feed)
    metrics = PollerMetrics(CollectorRegistry())
    clock = [0.0]
    r = reporter(catalogue, metrics, clock)

    await r.after_check(feed, report(True, 0, "ok"))
    assert len(catalogue.sent) == 1
    health = catalogue.sent[-1].health
    assert health.state == FEED_STATE_OK
    assert health.last_success_at.ToDatetime(tzinfo=UTC) == WALL
    assert health.next_check_at.ToDatetime(tzinfo=UTC) == datetime(2026, 3, 1, 12, 5, tzinfo=UTC)

    clock[0] = 10
    await r.after_check(feed, report(True, 0, "ok"))
    assert len(catalogue.sent) == 1  # unchanged state: nothing written

    # The user renames the feed; the next health write keeps the new title.
    edited = Feed()
    edited.CopyFrom(catalogue.items["f1"])
    edited.title = "New title"
    edited.poll_interval_seconds = 900
    catalogue.items["f1"] = edited
    clock[0] = 20
    await r.after_check(feed, report(False, 1, "degraded", error_kind="http_error", error="HTTP 500"))
    written = catalogue.sent[-1]
    assert (written.title, written.poll_interval_seconds) == ("New title", 900)
    assert written.health.state == FEED_STATE_DEGRADED
    assert written.health.last_error == "http_error: HTTP 500"
    assert written.health.consecutive_failures == 1
    assert written.health.last_success_at.ToDatetime(tzinfo=UTC) == WALL  # kept from the last success

    await r.after_check(feed, report(False, 3, "failing", error_kind="timeout", error="no answer"))
    assert catalogue.sent[-1].health.state == FEED_STATE_FAILING
    await r.after_check(feed, report(True, 0, "ok"))
    assert catalogue.sent[-1].health.state == FEED_STATE_OK
    assert catalogue.sent[-1].health.last_error == ""
    assert metrics.feed_writes.labels(reason="health", outcome="ok")._value.get() == 4

    clock[0] = 20 + 600
    await r.after_check(feed, report(True, 0, "ok"))
    assert len(catalogue.sent) == 5  # the periodic refresh


async def test_a_removed_feed_is_never_recreated() -> None:
    feed = make_feed("https://h.example/feed", feed_id="gone")
    catalogue = Catalogue()  # tombstoned: not in the view
    r = reporter(catalogue, PollerMetrics(CollectorRegistry()), [0.0])
    await r.after_check(feed, report(False, 1, "degraded", error_kind="http_error", error="HTTP 404"))
    await r.after_check(feed, report(True, 0, "ok"), moved_to="https://h.example/new")
    assert catalogue.sent == []


async def test_failures_blamed_on_our_outage_write_nothing() -> None:
    feed = make_feed("https://h.example/feed", feed_id="f")
    catalogue = Catalogue(feed)
    r = reporter(catalogue, PollerMetrics(CollectorRegistry()), [0.0])
    await r.after_check(feed, report(False, 0, "ok", counted=False, error_kind="timeout"))
    assert catalogue.sent == []


async def test_permanent_redirect_updates_the_url_unless_the_user_changed_it() -> None:
    feed = make_feed("https://h.example/old", feed_id="f")
    catalogue = Catalogue(feed)
    metrics = PollerMetrics(CollectorRegistry())
    r = reporter(catalogue, metrics, [0.0])
    await r.after_check(feed, report(True, 0, "ok"), moved_to="https://h.example/new")
    assert [(f.feed_id, f.url) for f in catalogue.sent] == [("f", "https://h.example/new")]
    assert metrics.feed_writes.labels(reason="redirect", outcome="ok")._value.get() == 1

    user = Feed()
    user.CopyFrom(catalogue.items["f"])
    user.url = "https://elsewhere.example/feed"
    catalogue.items["f"] = user
    await r.after_check(feed, report(True, 0, "ok"), moved_to="https://h.example/newer")
    assert catalogue.items["f"].url == "https://elsewhere.example/feed"


async def test_a_failed_write_is_counted_and_retried_at_the_next_check() -> None:
    feed = make_feed("https://h.example/feed", feed_id="f")
    catalogue = Catalogue(feed)
    metrics = PollerMetrics(CollectorRegistry())
    r = reporter(catalogue, metrics, [0.0])
    catalogue.fail = True
    await r.after_check(feed, report(True, 0, "ok"))
    assert metrics.feed_writes.labels(reason="health", outcome="failed")._value.get() == 1
    catalogue.fail = False
    await r.after_check(feed, report(True, 0, "ok"))
    assert len(catalogue.sent) == 1


def test_feeds_list_row_shows_health() -> None:
    feed = make_feed("https://h.example/feed", title="T", feed_id="f1", poll_interval_seconds=900)
    assert _feed_row(feed) == (
        "f1  enabled   -         every=900s  -    text=feed  last_ok=-  next=-  https://h.example/feed  T"
    )
    feed.health.state = FEED_STATE_FAILING
    feed.health.last_error = "timeout: no answer"
    feed.health.last_success_at.FromDatetime(WALL)
    feed.health.next_check_at.FromDatetime(datetime(2026, 3, 1, 12, 30, tzinfo=UTC))
    assert _feed_row(feed) == (
        "f1  enabled   failing   every=900s  -    text=feed  last_ok=2026-03-01T12:00Z  "
        "next=2026-03-01T12:30Z  https://h.example/feed  T  error='timeout: no answer'"
    )


def test_the_service_ignores_records_that_change_only_health() -> None:
    from newswatch.poller.service import PollerService
    from newswatch.settings import load_settings

    service = PollerService(load_settings(environ={}))
    seen: list[tuple[str, Feed | None]] = []

    class Ownership:
        def feed_changed(self, feed_id: str, feed: Feed | None) -> None:
            seen.append((feed_id, feed))

    service._ownership = Ownership()  # type: ignore[assignment]
    feed = make_feed("https://h.example/feed", feed_id="f")
    service._on_feed_change("f", feed)
    health_only = Feed()
    health_only.CopyFrom(feed)
    health_only.health.state = FEED_STATE_FAILING
    service._on_feed_change("f", health_only)
    edited = Feed()
    edited.CopyFrom(health_only)
    edited.poll_interval_seconds = 60
    service._on_feed_change("f", edited)
    service._on_feed_change("f", None)
    service._on_feed_change("f", edited)  # re-added after removal: a change
    assert [(fid, f.poll_interval_seconds if f else None) for fid, f in seen] == [
        ("f", 0),
        ("f", 60),
        ("f", None),
        ("f", 60),
    ]

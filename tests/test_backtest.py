"""``newswatch watchlists backtest``: stored raw articles through a watch-list file, nothing published.

The integration test shares the broker and its fixed topics with other tests: its watch list uses
aliases made unique per run, and it only looks at lines and alerts about its own article ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from newswatch import contracts
from newswatch.backtest import Backtester, alert_line, backtest, load_backtest_watchlists
from newswatch.errors import SettingsError
from newswatch.kafka import ensure_topics, make_producer, publish
from newswatch.processor.places import default_gazetteer
from newswatch.processor.regions import parse_regions
from newswatch.processor.watchlist import WatchlistError, parse_watchlists
from newswatch.replay import REPLAY_HEADER
from newswatch.settings import Settings
from newswatch.stored import parse_since, read_since
from newswatch.topics import ALERTS, ARTICLES_RAW
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.article_pb2 import Article

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PUBLISHED = datetime(2016, 4, 5, 12, 0, tzinfo=UTC)


def _watchlist_yaml(run: str) -> str:
    return f"""
watchlists:
  - id: bt-{run}
    name: Backtest {run}
    threshold: 1.0
    terms:
      - id: alpha
        label: Alpha
        aliases: [zq{run}alpha]
      - id: beta
        label: Beta
        weight: 0.5
        aliases: [zq{run}beta]
  - id: off-{run}
    enabled: false
    terms:
      - id: alpha
        aliases: [zq{run}alpha]
"""


def _article(run: str, n: int, text: str) -> Article:
    article = Article(
        article_id=f"bt-{run}-{n}",
        feed_id=f"feed-{run}",
        url=f"http://127.0.0.1:9/{run}/{n}",
        title=f"Report {n} of {run}",
        content=text,
        language="en",
    )
    article.published_at.CopyFrom(contracts.timestamp(PUBLISHED + timedelta(minutes=n)))
    return article


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", NOW - timedelta(days=7)),
        ("12h", NOW - timedelta(hours=12)),
        ("30m", NOW - timedelta(minutes=30)),
        ("45s", NOW - timedelta(seconds=45)),
        ("2w", NOW - timedelta(weeks=2)),
        (" 3 d ", NOW - timedelta(days=3)),
        ("0d", NOW),
        ("2026-02-01T00:00:00+00:00", datetime(2026, 2, 1, tzinfo=UTC)),
        ("2026-02-01T01:00:00+01:00", datetime(2026, 2, 1, tzinfo=UTC)),
        ("2026-02-01", datetime(2026, 2, 1, tzinfo=UTC)),  # naive = UTC
    ],
)
def test_parse_since(text: str, expected: datetime) -> None:
    assert parse_since(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["7 days", "d7", "-1d", "", "yesterday", "7y", "2026-13-01"])
def test_parse_since_refuses(text: str) -> None:
    with pytest.raises(SettingsError, match="--since"):
        parse_since(text, now=NOW)


def test_backtester_counts_terms_and_alerts(tmp_path: Path) -> None:
    run = "unit"
    path = tmp_path / "lists.yaml"
    path.write_text(_watchlist_yaml(run), encoding="utf-8")
    lists = load_backtest_watchlists(path)
    assert [w.watchlist_id for w in lists] == [f"bt-{run}"]  # the disabled list takes no part
    tester = Backtester(lists, default_gazetteer(), NOW)
    assert tester.examine(_article(run, 1, f"zq{run}beta and zq{run}beta again")) == []
    (alert,) = tester.examine(_article(run, 2, f"zq{run}alpha with zq{run}beta"))
    assert alert.score == 1.5
    report = tester.report
    tally = report.watchlists[f"bt-{run}"]
    assert (report.scanned, report.alerts, tally.alerts) == (2, 1, 1)
    assert (tally.terms["alpha"].matches, tally.terms["alpha"].articles) == (1, 1)
    assert (tally.terms["beta"].matches, tally.terms["beta"].articles) == (3, 2)
    assert tester.repeated("x") is False and tester.repeated("x") is True
    when = PUBLISHED + timedelta(minutes=2)
    assert alert_line(alert, when) == (
        f"2016-04-05 12:02:00 [Backtest {run}] score=1.5 terms=Alpha,Beta | Report 2 of {run} | "
        f"http://127.0.0.1:9/{run}/2"
    )
    row = json.loads(alert_line(alert, when, as_json=True))
    assert row["type"] == "alert" and row["article_id"] == f"bt-{run}-2" and row["terms"] == ["Alpha", "Beta"]
    assert {m["matched_text"] for m in row["matches"]} == {f"zq{run}alpha", f"zq{run}beta"}
    assert report.summary_lines()[:3] == [
        f"watch list bt-{run} (Backtest {run}), threshold 1: 1 alerts",
        "  alpha  Alpha: 1 matches in 1 articles",
        "  beta  Beta: 3 matches in 2 articles",
    ]


def test_backtester_maps_countries_with_the_given_regions() -> None:
    run = "regions"
    lists = parse_watchlists(yaml.safe_load(_watchlist_yaml(run)))
    table = parse_regions({"regions": {"zq_east": {"name": "Zq East", "countries": ["IQ"]}}})
    tester = Backtester(lists, default_gazetteer(), NOW, table)
    (alert,) = tester.examine(_article(run, 1, f"zq{run}alpha was seen in Baghdad, Iraq, on Monday."))
    assert list(alert.countries) == ["IQ"] and list(alert.regions) == ["zq_east"]
    (packaged,) = Backtester(lists, default_gazetteer(), NOW).examine(
        _article(run, 2, f"zq{run}alpha was seen in Baghdad, Iraq, on Monday.")
    )
    assert "mena" in packaged.regions and "zq_east" not in packaged.regions


async def test_backtest_refuses_a_bad_regions_file(tmp_path: Path) -> None:
    bad = tmp_path / "regions.yaml"
    bad.write_text("regions: {mena: {countries: [Iraq]}}\n", encoding="utf-8")
    settings = Settings(kafka_bootstrap="127.0.0.1:9", regions_file=str(bad))
    lines: list[str] = []
    lists = parse_watchlists(yaml.safe_load(_watchlist_yaml("bad-regions")))
    with pytest.raises(SettingsError, match="NEWSWATCH_REGIONS_FILE"):
        await backtest(settings, lists, NOW, lines.append, gazetteer=default_gazetteer())
    assert lines == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("watchlists: [\n", "not valid YAML"),
        ("watchlists:\n  - id: Bad Id\n    terms: []\n", "field 'id'"),
        ("watchlists:\n  - id: q\n    enabled: false\n    terms: [{id: a, aliases: [a]}]\n", "no enabled"),
    ],
)
def test_load_refuses_bad_files(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "lists.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(WatchlistError, match=message):
        load_backtest_watchlists(path)


def _cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # Nothing here reaches Kafka: the bootstrap points at a closed port so a regression would show.
    env = {**os.environ, "NEWSWATCH_KAFKA_BOOTSTRAP": "127.0.0.1:9", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "newswatch", "watchlists", "backtest", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_bad_regions_file_exits_2(tmp_path: Path) -> None:
    lists = tmp_path / "lists.yaml"
    lists.write_text("watchlists:\n  - id: ok\n    terms: [{id: a, aliases: [a]}]\n", encoding="utf-8")
    done = _cli(str(lists), env={"NEWSWATCH_REGIONS_FILE": str(tmp_path / "missing.yaml")})
    assert done.returncode == 2, done.stderr
    assert "NEWSWATCH_REGIONS_FILE" in done.stderr and done.stdout == ""


@pytest.mark.parametrize(
    ("content", "extra", "stderr"),
    [
        (None, [], "bad watch-list file"),
        ("watchlists: [\n", [], "not valid YAML"),
        ("watchlists:\n  - id: ok\n    terms: [{id: a}]\n", [], "needs at least one entry"),
        ("watchlists:\n  - id: ok\n    terms: [{id: a, aliases: [a]}]\n", ["--since", "7 days"], "--since"),
        ("watchlists:\n  - id: ok\n    terms: [{id: a, aliases: [a]}]\n", ["--limit", "0"], "--limit"),
    ],
)
def test_cli_bad_input_exits_2(tmp_path: Path, content: str | None, extra: list[str], stderr: str) -> None:
    path = tmp_path / "lists.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    done = _cli(str(path), *extra)
    assert done.returncode == 2, done.stderr
    assert stderr in done.stderr
    assert done.stdout == ""


async def _alert_article_ids(settings: Settings, since: datetime, ids: set[str]) -> set[str]:
    found: set[str] = set()
    records = read_since(settings, ALERTS, since, role="test-backtest")
    async with contextlib.aclosing(records):
        async for record in records:
            with contextlib.suppress(Exception):
                alert = contracts.decode(Alert, record.value, record.headers)
                if alert.article_id in ids:
                    found.add(alert.article_id)
    return found


@pytest.mark.integration
async def test_backtest_over_stored_articles(settings: Settings, tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:12]
    path = tmp_path / "lists.yaml"
    path.write_text(_watchlist_yaml(run), encoding="utf-8")
    lists = load_backtest_watchlists(path)
    gazetteer = default_gazetteer()
    await ensure_topics(settings, [ARTICLES_RAW, ALERTS])
    early = _article(run, 0, f"zq{run}alpha stored before the window")
    one = _article(run, 1, f"The convoy zq{run}alpha reached the border.")
    two = _article(run, 2, f"Only zq{run}beta here.")
    three = _article(run, 3, f"zq{run}alpha, then zq{run}beta and zq{run}beta.")
    four = _article(run, 4, "Nothing of interest: grain prices and the weather.")
    producer = make_producer(settings, "test-backtest")
    await producer.start()
    try:
        await (await publish(producer, ARTICLES_RAW, early.article_id, early))
        await asyncio.sleep(0.05)
        since = datetime.now(UTC)
        await asyncio.sleep(0.05)
        futures = [await publish(producer, ARTICLES_RAW, a.article_id, a) for a in (one, two, three, four)]
        futures.append(await publish(producer, ARTICLES_RAW, one.article_id, one, [(REPLAY_HEADER, b"r1")]))
        futures.append(await publish(producer, ARTICLES_RAW, three.article_id, three))  # repeated id
        for fut in futures:
            await fut
    finally:
        await producer.stop()

    lines: list[str] = []
    report = await backtest(settings, lists, since, lines.append, gazetteer=gazetteer)
    ours = [line for line in lines if f"/{run}/" in line]
    assert sorted(ours) == [
        f"2016-04-05 12:01:00 [Backtest {run}] score=1 terms=Alpha | Report 1 of {run} | "
        f"http://127.0.0.1:9/{run}/1",
        f"2016-04-05 12:03:00 [Backtest {run}] score=1.5 terms=Alpha,Beta | Report 3 of {run} | "
        f"http://127.0.0.1:9/{run}/3",
    ]
    # The aliases are unique to this run, so the per-term counts are exact despite other tests' articles.
    summary = lines[-4:]
    assert summary[:3] == [
        f"watch list bt-{run} (Backtest {run}), threshold 1: 2 alerts",
        "  alpha  Alpha: 2 matches in 2 articles",
        "  beta  Beta: 3 matches in 2 articles",
    ]
    assert summary[3].startswith(f"scanned {report.scanned} articles stored since {since.isoformat()}")
    assert report.scanned >= 4 and report.skipped_replays >= 1 and report.skipped_repeats >= 1
    assert report.complete and not report.stopped_at_limit and "INCOMPLETE" not in summary[3]

    rows: list[str] = []
    limited = await backtest(settings, lists, since, rows.append, as_json=True, limit=1, gazetteer=gazetteer)
    parsed = [json.loads(row) for row in rows]
    alerts = [p for p in parsed if p["type"] == "alert"]
    assert len(alerts) == 1 and alerts[0]["article_id"] in {one.article_id, three.article_id}
    assert parsed[-1]["type"] == "summary" and parsed[-1]["stopped_at_limit"] is True
    assert limited.stopped_at_limit and not limited.complete

    ids = {a.article_id for a in (early, one, two, three, four)}
    assert await _alert_article_ids(settings, since - timedelta(minutes=1), ids) == set()

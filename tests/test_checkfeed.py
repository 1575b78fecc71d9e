"""``newswatch check-feed``: the report's enrichment follows the regions table of the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from newswatch import checkfeed
from newswatch.errors import SettingsError
from newswatch.poller.parser import ParsedFeed
from newswatch.settings import Settings
from newswatch.v1.article_pb2 import Article

URL = "http://127.0.0.1:9/feed.xml"


def _fake_fetch(articles: list[Article], calls: list[str]) -> object:
    async def fetch(
        settings: Settings, url: str, *, full_text: bool = False
    ) -> tuple[ParsedFeed, list[Article]]:
        calls.append(url)
        return ParsedFeed(version="rss20", title="Checked", link=URL, language="en", entries=()), articles

    return fetch


def _article() -> Article:
    return Article(
        article_id="check-1",
        feed_id="check",
        title="Convoy reaches Baghdad",
        content="Islamic State fighters attacked a convoy near Baghdad, Iraq, officials said.",
        language="en",
    )


async def test_regions_come_from_the_regions_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    table = tmp_path / "regions.yaml"
    table.write_text("regions:\n  zq_east:\n    name: Zq East\n    countries: [IQ]\n", encoding="utf-8")
    calls: list[str] = []
    monkeypatch.setattr(checkfeed, "check_feed", _fake_fetch([_article()], calls))
    settings = Settings(kafka_bootstrap="127.0.0.1:9", regions_file=str(table))
    report = await checkfeed.check_feed_report(settings, URL)
    ((enriched, alerts),) = report.entries
    assert list(enriched.countries) == ["IQ"] and list(enriched.regions) == ["zq_east"]
    assert [list(a.regions) for a in alerts] == [["zq_east"]]
    assert "regions=zq_east" in "\n".join(report.lines())


async def test_packaged_regions_without_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkfeed, "check_feed", _fake_fetch([_article()], []))
    report = await checkfeed.check_feed_report(Settings(kafka_bootstrap="127.0.0.1:9"), URL)
    ((enriched, _),) = report.entries
    assert "mena" in enriched.regions


async def test_bad_regions_file_fails_before_fetching(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(checkfeed, "check_feed", _fake_fetch([_article()], calls))
    settings = Settings(kafka_bootstrap="127.0.0.1:9", regions_file=str(tmp_path / "missing.yaml"))
    with pytest.raises(SettingsError, match="NEWSWATCH_REGIONS_FILE"):
        await checkfeed.check_feed_report(settings, URL)
    assert calls == []

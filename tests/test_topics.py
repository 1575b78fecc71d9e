from __future__ import annotations

import re
from pathlib import Path

from newswatch import topics

DESIGN = Path(__file__).resolve().parents[2] / "shared" / "DESIGN.md"


def test_every_topic_of_the_design_is_declared() -> None:
    names = {t.name for t in topics.ALL_TOPICS}
    design = set(re.findall(r"`(newswatch\.[a-z.]+\.v1)`", DESIGN.read_text()))
    design.discard("newswatch.<name>.dlq.v1")
    assert design <= names, design - names


def test_compacted_topics() -> None:
    compacted = {t.name for t in topics.ALL_TOPICS if t.compacted}
    assert compacted == {
        "newswatch.feeds.v1",
        "newswatch.subscriptions.v1",
        "newswatch.watchlists.v1",
        "newswatch.poller.state.v1",
        "newswatch.alerter.schedule.v1",
        "newswatch.alerter.endpoints.v1",
    }
    assert topics.SCHEDULE.config()["cleanup.policy"] == "compact,delete"
    assert topics.FEEDS.config()["cleanup.policy"] == "compact"
    assert topics.ALERTS.config()["cleanup.policy"] == "delete"


def test_dead_letter_names() -> None:
    assert topics.dlq_for(topics.ARTICLES_RAW).name == "newswatch.articles.raw.dlq.v1"
    assert topics.dlq_for(topics.ALERTS).name == "newswatch.alerts.dlq.v1"

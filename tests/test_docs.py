"""The README lists every metric and every setting that the code declares."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from newswatch.alerter.metrics import AlerterMetrics
from newswatch.poller.metrics import PollerMetrics
from newswatch.processor.metrics import ProcessorMetrics
from newswatch.settings import describe

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


@pytest.mark.parametrize("metrics_class", [PollerMetrics, ProcessorMetrics, AlerterMetrics])
def test_every_metric_is_documented_and_well_named(metrics_class: type) -> None:
    registry = CollectorRegistry()
    metrics_class(registry)
    service = metrics_class.__name__.removesuffix("Metrics").lower()
    for family in registry.collect():
        name = family.name + ("_total" if family.type == "counter" else "")
        assert name.startswith(f"newswatch_{service}_"), name
        assert not name.endswith(("_ms", "_milliseconds")), name
        assert f"`{name}`" in README, f"{name} is missing from the README's metrics table"


def test_every_setting_is_documented() -> None:
    for env, _default, _help in describe():
        assert f"`{env}`" in README, f"{env} is missing from the README's settings table"


def test_the_readme_watch_list_example_loads(tmp_path: Path) -> None:
    from newswatch.processor.watchlist import load_watchlists_yaml

    example = README.split("A watch list file:\n\n```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "example.yaml"
    path.write_text(example)
    (watchlist,) = load_watchlists_yaml(path)
    assert watchlist.watchlist_id == "syria-iraq"
    assert {t.term_id for t in watchlist.terms} == {"isis"}

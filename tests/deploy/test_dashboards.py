"""The Grafana dashboards: generated from ``deploy/grafana/dashboards.py`` (the committed JSON is what it
writes), well-formed for Grafana, valid PromQL, and reading only metrics the services declare — and every
metric the services declare is on a dashboard. (``tests/e2e/test_observability.py`` checks the same
names against the running services.)"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from newswatch.alerter.metrics import AlerterMetrics
from newswatch.poller.metrics import PollerMetrics
from newswatch.processor.metrics import ProcessorMetrics
from tests.deploy import (
    DASHBOARD_FILES,
    GRAFANA,
    SCRAPE_SERIES,
    binary,
    dashboards,
    exposed,
    families,
    family_of,
    load_generator,
    metric_names,
    panel_exprs,
    panels,
    rule_exprs,
)

EXPECTED = {
    "overview": "newswatch-overview",
    "poller": "newswatch-poller",
    "processor": "newswatch-processor",
    "alerter": "newswatch-alerter",
}

PANEL_EXPRS = panel_exprs()
ALL_EXPRS = PANEL_EXPRS + rule_exprs()


def declared_by_services() -> dict[str, str]:
    registry = CollectorRegistry()
    for metrics_class in (PollerMetrics, ProcessorMetrics, AlerterMetrics):
        metrics_class(registry)
    return families(generate_latest(registry).decode())


@pytest.mark.parametrize(
    ("name", "expr", "expected"),
    [
        ("bare gauge", "newswatch_poller_stale_feeds > 0", {"newswatch_poller_stale_feeds"}),
        (
            "rate with matchers and Grafana window",
            'sum by (outcome) (rate(newswatch_poller_fetches_total{outcome!~"ok|x"}[$__rate_interval]))',
            {"newswatch_poller_fetches_total"},
        ),
        (
            "quantile over buckets",
            "histogram_quantile(0.95, sum by (le) (rate(a_seconds_bucket[5m])))",
            {"a_seconds_bucket"},
        ),
        (
            "binary operators and keywords",
            "a_total / on (job) group_left b and c offset 5m",
            {"a_total", "b", "c"},
        ),
        ("label values are no names", 'up{job=~"newswatch-.*", x="rate(y)"} == 0', {"up"}),
        ("numbers and exponents", "a * 1e3 + 0.5 - Inf", {"a"}),
        ("no metric", "vector(1)", set()),
    ],
)
def test_metric_names_of_an_expression(name: str, expr: str, expected: set[str]) -> None:
    assert metric_names(expr) == expected, name


@pytest.mark.parametrize(
    ("series", "expected"),
    [
        ("newswatch_poller_fetches_total", True),  # counter: declared with _total
        ("newswatch_poller_fetches", False),
        ("newswatch_poller_fetch_duration_seconds_bucket", True),
        ("newswatch_poller_fetch_duration_seconds_count", True),
        ("newswatch_poller_fetch_duration_seconds_sum", True),
        ("newswatch_poller_fetch_duration_seconds", False),  # a histogram has no series of its own name
        ("newswatch_poller_feeds_bucket", False),  # a gauge has no buckets
        ("newswatch_poller_feeds", True),
    ],
)
def test_series_names_resolve_to_declared_families(series: str, expected: bool) -> None:
    assert exposed(series, declared_by_services()) is expected


def test_committed_dashboards_are_what_the_generator_writes(tmp_path: Path) -> None:
    generator = load_generator()
    rendered: dict[str, str] = generator.render()
    on_disk = {path.name: path.read_text() for path in DASHBOARD_FILES}
    assert on_disk == rendered, "stale: run .venv/bin/python deploy/grafana/dashboards.py"
    assert generator.main(["--check"]) == 0
    (tmp_path / "poller.json").write_text("{}")
    assert generator.main(["--check", "--out", str(tmp_path)]) == 1


def test_four_dashboards_with_stable_uids() -> None:
    boards = dashboards()
    assert {name: board["uid"] for name, board in boards.items()} == EXPECTED
    for name, board in boards.items():
        assert board["schemaVersion"] >= 39, name
        assert "newswatch" in board["tags"], name
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"


@pytest.mark.parametrize("name", list(EXPECTED))
def test_panels_are_laid_out_and_typed(name: str) -> None:
    board = dashboards()[name]
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    cells: set[tuple[int, int]] = set()
    for panel in panels(board):
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        covered = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not covered & cells, f"{panel['title']} overlaps another panel"
        cells |= covered
        if panel["type"] == "row":
            continue
        assert panel["type"] in {"timeseries", "stat"}
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["fieldConfig"]["defaults"]["unit"], f"{panel['title']} has no unit"
        assert panel["description"], f"{panel['title']} has no description"
        assert panel["targets"], f"{panel['title']} has no query"
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
    assert any(p["type"] == "row" for p in board["panels"])


def _calls(expr: str, function: str) -> list[str]:
    """The argument text of every call of ``function`` in ``expr`` (balanced parentheses)."""
    found = []
    for match in re.finditer(rf"\b{function}\(", expr):
        depth, start = 1, match.end()
        for i in range(start, len(expr)):
            depth += {"(": 1, ")": -1}.get(expr[i], 0)
            if depth == 0:
                found.append(expr[start:i])
                break
    return found


@pytest.mark.parametrize(("where", "expr"), PANEL_EXPRS, ids=[w for w, _ in PANEL_EXPRS])
def test_counters_use_the_rate_window_and_quantiles_read_buckets(where: str, expr: str) -> None:
    for function in ("rate", "increase"):
        for argument in _calls(expr, function):
            assert argument.endswith("[$__rate_interval]"), f"{where}: {function}({argument})"
            for name in metric_names(argument):
                assert name.endswith(("_total", "_bucket", "_sum", "_count")), f"{where}: {function}({name})"
    for argument in _calls(expr, "histogram_quantile"):
        assert "_bucket[" in argument and re.search(r"by \((\w+, )*le\)", argument), where
    for name in metric_names(expr):
        if name.endswith("_total"):
            assert re.search(rf"(rate|increase)\({name}\b", expr), f"{where}: {name} read without rate()"


@pytest.mark.parametrize(("where", "expr"), ALL_EXPRS, ids=[w for w, _ in ALL_EXPRS])
def test_every_query_reads_metrics_the_services_declare(where: str, expr: str) -> None:
    declared = declared_by_services()
    names = metric_names(expr)
    assert names, f"{where}: no metric in {expr!r}"
    unknown = {n for n in names if n not in SCRAPE_SERIES and not exposed(n, declared)}
    assert not unknown, f"{where}: {sorted(unknown)} not declared by any service"


def test_every_metric_of_the_services_is_on_a_dashboard() -> None:
    declared = declared_by_services()
    shown = {family_of(n, declared) for _where, expr in panel_exprs() for n in metric_names(expr)}
    assert sorted(set(declared) - shown) == []


def test_every_panel_query_is_valid_promql(tmp_path: Path) -> None:
    """promtool parses each query as a recording rule (Grafana's window replaced by a duration)."""
    exprs = [expr.replace("$__rate_interval", "2m") for _where, expr in panel_exprs()]
    records = [{"record": f"newswatch:panel_{i}", "expr": expr} for i, expr in enumerate(exprs)]
    path = tmp_path / "panels.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": records}]}))
    done = subprocess.run(
        [binary("promtool"), "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(records)} rules found" in done.stdout


def test_provisioning_points_at_the_dashboards_and_the_datasource() -> None:
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "newswatch.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    sources: list[dict[str, Any]] = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"]
    assert [(s["uid"], s["type"]) for s in sources] == [("prometheus", "prometheus")]

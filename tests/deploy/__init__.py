"""Tests of ``deploy/`` (Grafana dashboards, Prometheus scrape configs and alert rules), and the helpers
they share with ``tests/e2e/test_observability.py``: the metric names a PromQL expression reads, the
metric families a ``/metrics`` text declares, and the Prometheus binaries.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "rules" / "newswatch.rules.yml"
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
DASHBOARD_FILES = sorted((GRAFANA / "dashboards").glob("*.json"))
#: Series Prometheus makes itself for every target (not exposed by a service).
SCRAPE_SERIES = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
# An identifier not preceded by a name character, a digit, "." or "$" (5m, 1e3, $__rate_interval) and
# not followed by "(" (a function or an aggregation).
_IDENTIFIER = re.compile(r"(?<![\w:.$])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"inf", "nan", "Inf", "NaN", "atan2", "start", "end"}
)
_TYPE_LINE = re.compile(r"^# TYPE (\S+) (\S+)$", re.M)


def metric_names(expr: str) -> set[str]:
    """The metric (series) names a PromQL expression selects, as written (``_bucket`` etc. kept)."""
    text = _STRINGS.sub(" ", expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _LABEL_LISTS.sub(" ", text)
    return {name for name in _IDENTIFIER.findall(text) if name not in _KEYWORDS}


def families(exposition: str) -> dict[str, str]:
    """Metric family name → type, from the ``# TYPE`` lines of a Prometheus text exposition (counters of
    the Python client are declared with their ``_total`` name in that format)."""
    return {name: kind for name, kind in _TYPE_LINE.findall(exposition)}


def exposed(name: str, declared: dict[str, str]) -> bool:
    """Whether a series ``name`` exists for the declared families: a counter, gauge or untyped family by
    its own name; a histogram by ``_bucket``, ``_sum`` and ``_count`` (never its bare name); a summary by
    ``_sum`` and ``_count`` (and its bare name, the quantiles)."""
    kind = declared.get(name)
    if kind in {"counter", "gauge", "untyped", "unknown", "summary"}:
        return True
    for suffix, kinds in (("_bucket", {"histogram"}), ("_sum", {"histogram", "summary"})):
        if name.endswith(suffix) and declared.get(name.removesuffix(suffix)) in kinds:
            return True
    return name.endswith("_count") and declared.get(name.removesuffix("_count")) in {"histogram", "summary"}


def family_of(name: str, declared: dict[str, str]) -> str:
    """The declared family a series name belongs to (``name`` itself when none)."""
    for suffix in ("_bucket", "_sum", "_count"):
        base = name.removesuffix(suffix)
        if name.endswith(suffix) and declared.get(base) in {"histogram", "summary"}:
            return base
    return name


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in DASHBOARD_FILES}


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, including those inside collapsed rows."""
    found: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def panel_exprs() -> list[tuple[str, str]]:
    """(``dashboard / panel title``, PromQL expression) of every panel target."""
    return [
        (f"{name} / {panel['title']}", target["expr"])
        for name, board in dashboards().items()
        for panel in panels(board)
        for target in panel.get("targets", [])
    ]


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def rule_exprs() -> list[tuple[str, str]]:
    return [(f"rule {rule.get('alert') or rule.get('record')}", str(rule["expr"])) for rule in rules()]


def binary(name: str) -> str:
    """The path of a Prometheus binary; fails the test (never skips) when it is not installed."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is not installed: run scripts/bootstrap.sh (Debian package `prometheus`)")
    return path


def load_generator() -> ModuleType:
    """``deploy/grafana/dashboards.py``, imported from its path (deploy/ is no package)."""
    spec = importlib.util.spec_from_file_location("newswatch_dashboards", GRAFANA / "dashboards.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module

"""The Prometheus scrape configs and alert rules, checked and unit-tested with promtool."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy import PROMETHEUS, RULE_TESTS, RULES, binary, rules

SEVERITIES = {"critical", "warning"}
REQUIRED = {
    "NewswatchServiceDown",
    "NewswatchFeedsStale",
    "NewswatchPollerErrorRatioHigh",
    "NewswatchProcessorLagGrowing",
    "NewswatchAlerterLagGrowing",
    "NewswatchDeliveriesFailing",
    "NewswatchDeadLettersGrowing",
}
JOBS = ["newswatch-poller", "newswatch-processor", "newswatch-alerter"]


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary("promtool"), *map(str, args)], capture_output=True, text=True, check=False, timeout=120
    )


@pytest.mark.parametrize("config", ["prometheus.local.yml", "prometheus.compose.yml"])
def test_scrape_config_is_valid_and_scrapes_the_three_services(config: str) -> None:
    done = promtool("check", "config", PROMETHEUS / config)
    assert done.returncode == 0, done.stdout + done.stderr
    doc = yaml.safe_load((PROMETHEUS / config).read_text())
    assert [job["job_name"] for job in doc["scrape_configs"]] == JOBS
    ports = [job["static_configs"][0]["targets"][0].rsplit(":", 1)[1] for job in doc["scrape_configs"]]
    assert ports == ["9101", "9102", "9103"]


def test_local_config_loads_the_rules() -> None:
    done = promtool("check", "config", PROMETHEUS / "prometheus.local.yml")
    assert "SUCCESS: 1 rule files found" in done.stdout, done.stdout
    assert f"Checking {RULES}\n  SUCCESS: {len(rules())} rules found" in done.stdout, done.stdout


def test_compose_config_loads_the_rules_from_their_mount(tmp_path: Path) -> None:
    """The compose config reads /etc/prometheus/rules/*.yml: with that folder being deploy/prometheus/rules
    (the mount), promtool finds and checks the rules."""
    text = (PROMETHEUS / "prometheus.compose.yml").read_text()
    assert "/etc/prometheus/rules/*.yml" in text
    config = tmp_path / "prometheus.yml"
    config.write_text(text.replace("/etc/prometheus/rules/", f"{RULES.parent}/"))
    done = promtool("check", "config", config)
    assert done.returncode == 0 and "SUCCESS: 1 rule files found" in done.stdout, done.stdout + done.stderr


def test_rules_are_valid() -> None:
    done = promtool("check", "rules", RULES)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules())} rules found" in done.stdout


def test_rule_unit_tests_pass() -> None:
    assert RULE_TESTS, "no promtool tests under deploy/prometheus/tests/"
    done = promtool("test", "rules", *RULE_TESTS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_a_broken_rule_fails_its_unit_test(tmp_path: Path) -> None:
    """The unit tests can fail: with the stale-feeds threshold raised, the firing case does not fire."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "tests").mkdir()
    broken = RULES.read_text().replace("newswatch_poller_stale_feeds > 0", "newswatch_poller_stale_feeds > 5")
    assert broken != RULES.read_text()
    (tmp_path / "rules" / RULES.name).write_text(broken)
    for test in RULE_TESTS:
        (tmp_path / "tests" / test.name).write_text(test.read_text())
    done = promtool("test", "rules", *sorted((tmp_path / "tests").glob("*.yml")))
    assert done.returncode != 0
    assert "NewswatchFeedsStale" in done.stdout + done.stderr


@pytest.mark.parametrize("rule", rules(), ids=lambda r: str(r.get("alert")))
def test_every_alert_is_documented(rule: dict[str, Any]) -> None:
    assert rule.get("alert"), "only alerting rules in this file"
    assert rule.get("for"), "every alert waits before firing"
    assert rule["labels"]["severity"] in SEVERITIES
    annotations = rule["annotations"]
    assert {"summary", "description", "runbook"} <= set(annotations)
    assert f"README, Operations, {rule['alert']}." in annotations["runbook"]


def test_the_required_alerts_exist() -> None:
    assert {str(rule["alert"]) for rule in rules()} == REQUIRED


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {str(rule["alert"]) for rule in rules()}
    assert names - firing == set(), "alerts never tested firing"
    assert names - quiet == set(), "alerts never tested quiet"

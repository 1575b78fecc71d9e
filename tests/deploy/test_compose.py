"""docker-compose.yml: valid against the Compose Specification schema, and consistent with the repository
(image, mounted paths, ports, settings, health checks, shutdown grace), with no container engine."""

from __future__ import annotations

import base64
import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from newswatch.errors import SettingsError
from newswatch.settings import Settings
from tests.deploy.conftest import REPO, SCHEMAS, SERVICES, known_settings, metrics_port, settings_from

COMPOSE = REPO / "docker-compose.yml"
_INTERPOLATION = re.compile(r"^\$\{(?P<name>[A-Z0-9_]+)(?::-(?P<default>[^}]*))?\}$")
_GO_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")
# Defaults a secret may have in the compose file: unset, or Grafana's well-known local "admin".
_LOCAL_SECRET_DEFAULTS = {"", "admin"}


def _compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())  # PyYAML resolves the `<<` merge keys, as Compose does
    assert isinstance(doc, dict)
    return doc


def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def _resolved_env(service: dict[str, Any]) -> dict[str, str]:
    """The service's environment as Compose would pass it with no variables set (defaults applied)."""
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment as a mapping keeps merges readable"
    out = {}
    for key, value in env.items():
        text = "" if value is None else str(value)
        match = _INTERPOLATION.match(text)
        out[key] = (match.group("default") or "") if match else text
    return out


def _seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration))


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    errors = sorted(_validator().iter_errors(_compose()), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_durations_are_compose_durations() -> None:
    # The schema leaves durations to Compose's own parser (Go durations: 40s, 1m30s).
    for name, svc in _compose()["services"].items():
        fields = {"stop_grace_period": svc.get("stop_grace_period")}
        for key in ("interval", "timeout", "start_period", "start_interval"):
            fields[f"healthcheck.{key}"] = (svc.get("healthcheck") or {}).get(key)
        for key, value in fields.items():
            if value is not None:
                assert _GO_DURATION.match(str(value)), f"{name}: {key} = {value!r} is not a duration"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("services", "poller", "healthcheck", "intervall"), "15s"),  # unknown key
        (("services", "poller", "tmpfs"), {"path": "/run"}),  # neither a string nor a list
        (("services", "kafka", "ports"), "9094"),  # not a list
    ],
)
def test_the_schema_rejects_a_broken_file(path: tuple[str, ...], value: object) -> None:
    doc = copy.deepcopy(_compose())
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert list(_validator().iter_errors(doc)), f"schema accepted {path} = {value!r}"


def test_newswatch_services_run_the_image_built_from_the_repository() -> None:
    services = _compose()["services"]
    for name in (*SERVICES, "feeds-import"):
        svc = services[name]
        assert svc["image"] == "newswatch:latest"
        assert svc["build"]["context"] == "."
        assert (REPO / svc["build"]["dockerfile"]).is_file()
    for name in SERVICES:
        assert services[name]["command"] == ["run", name]


def test_every_long_running_service_has_a_health_check() -> None:
    services = _compose()["services"]
    for name, svc in services.items():
        check = svc.get("healthcheck")
        if svc.get("restart") == "no":
            continue  # one-shot jobs
        assert check and not check.get("disable"), f"{name} has no health check"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
    for name in SERVICES:
        check = services[name]["healthcheck"]
        assert check["test"] == ["CMD", "newswatch-healthcheck", "--ready"], name
        # the processor loads its gazetteer before it answers: give it time before failures count
        assert _seconds(check["start_period"]) >= 60, name
    assert "kafka-broker-api-versions.sh" in " ".join(services["kafka"]["healthcheck"]["test"])
    for name in SERVICES:
        assert services[name]["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_every_bind_mount_source_exists_in_the_repository() -> None:
    services = _compose()["services"]
    named = set(_compose().get("volumes") or {})
    binds = []
    for name, svc in services.items():
        for volume in svc.get("volumes") or []:
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                binds.append((name, source))
            else:
                assert source in named, f"{name}: volume {source} is not declared"
    for name, source in binds:
        assert (REPO / source).exists(), f"{name} mounts {source}, which is not in the repository"
    mounts = {v.split(":")[1]: v.split(":")[0] for v in services["prometheus"]["volumes"]}
    assert mounts["/etc/prometheus/rules"] == "./deploy/prometheus/rules"
    assert mounts["/etc/prometheus/prometheus.yml"] == "./deploy/prometheus/prometheus.compose.yml"
    grafana = {v.split(":")[1]: v.split(":")[0] for v in services["grafana"]["volumes"]}
    assert grafana["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    assert (REPO / "deploy/grafana/provisioning/datasources").is_dir()
    assert (REPO / "deploy/grafana/provisioning/dashboards").is_dir()


def test_prometheus_loads_the_mounted_rules_and_scrapes_every_service() -> None:
    config = yaml.safe_load((REPO / "deploy/prometheus/prometheus.compose.yml").read_text())
    rule_files = config.get("rule_files") or []
    assert any(str(r).startswith("/etc/prometheus/rules/") for r in rule_files), (
        f"prometheus.compose.yml loads no rules from the mounted /etc/prometheus/rules/: {rule_files}"
    )
    assert list(Path(REPO / "deploy/prometheus/rules").glob("*.yml")), "no rule file to load"
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    }
    defaults = Settings()
    for name in SERVICES:
        assert f"{name}:{metrics_port(defaults, name)}" in targets


def test_published_ports_are_the_documented_ones_on_loopback() -> None:
    services = _compose()["services"]
    defaults = Settings()
    expected = {name: {metrics_port(defaults, name)} for name in SERVICES}
    expected["alerter"].add(defaults.api_port)
    assert defaults.api_port == 8080
    assert {n: metrics_port(defaults, n) for n in SERVICES} == {
        "poller": 9101,
        "processor": 9102,
        "alerter": 9103,
    }
    for name, ports in expected.items():
        published = services[name]["ports"]
        assert {int(p.rsplit(":", 1)[1]) for p in published} == ports, name
        for p in published:
            host, hostport, _ = p.split(":")
            assert host == "127.0.0.1" and int(hostport) in ports, f"{name}: {p} is not on loopback"


def test_service_environments_are_settings_the_services_accept() -> None:
    services = _compose()["services"]
    known = known_settings()
    for name in (*SERVICES, "feeds-import"):
        env = _resolved_env(services[name])
        unknown = sorted(k for k in env if k.startswith("NEWSWATCH_") and k not in known)
        assert not unknown, f"{name}: unknown settings stop the service with exit code 2: {unknown}"
        try:
            settings = settings_from(env)
        except SettingsError as exc:
            pytest.fail(f"{name}: {exc}")
        assert settings.kafka_bootstrap == "kafka:9092"
        assert settings.metrics_host == "0.0.0.0"
        assert str(settings.data_dir) == "/var/lib/newswatch"


def test_stop_grace_period_is_longer_than_the_drain_deadline() -> None:
    services = _compose()["services"]
    for name in SERVICES:
        deadline = settings_from(_resolved_env(services[name])).shutdown_deadline_seconds
        grace = _seconds(services[name]["stop_grace_period"])
        assert grace >= deadline + 10, f"{name}: stop_grace_period {grace}s vs drain deadline {deadline}s"


def test_services_run_read_only_with_tmp_and_the_data_dir_writable() -> None:
    services = _compose()["services"]
    for name in SERVICES:
        svc = services[name]
        assert svc["read_only"] is True, name
        writable = set(svc.get("tmpfs") or []) | {v.split(":")[1] for v in svc.get("volumes") or []}
        assert writable == {"/tmp", "/var/lib/newswatch"}, name  # noqa: S108 (mount paths)
    assert "processor-data:/var/lib/newswatch" in services["processor"]["volumes"]


def test_no_secret_is_hard_coded() -> None:
    secretish = re.compile(r"TOKEN|PASSWORD|SECRET|_KEY$", re.IGNORECASE)
    for name, svc in _compose()["services"].items():
        for key, value in (svc.get("environment") or {}).items():
            if not secretish.search(key):
                continue
            match = _INTERPOLATION.match(str(value))
            assert match, f"{name}: {key} is a literal; take it from the environment (${{{key}:-}})"
            assert (match.group("default") or "") in _LOCAL_SECRET_DEFAULTS, f"{name}: {key} default"


def test_kafka_is_a_persistent_kraft_node_without_topic_auto_creation() -> None:
    kafka = _compose()["services"]["kafka"]
    env = {k: str(v) for k, v in kafka["environment"].items()}
    assert kafka["image"].startswith("apache/kafka:")
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    # the services create their topics with the partitions and configs of topics.py
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert len(base64.urlsafe_b64decode(env["CLUSTER_ID"] + "==")) == 16
    data_mount = next(v for v in kafka["volumes"] if v.startswith("kafka-data:"))
    assert data_mount.split(":")[1] == env["KAFKA_LOG_DIRS"]
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]

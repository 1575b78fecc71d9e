"""The public surface: generated code is fresh, the CLI lists the verbs of DESIGN.md, lint config holds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_generated_protobuf_code_is_fresh() -> None:
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "gen_proto.sh"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr


def _help(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "newswatch", *args, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return proc.stdout


def test_help_lists_the_design_verbs() -> None:
    top = _help()
    for verb in ("run", "feeds", "watchlists", "subscriptions", "tail", "check-feed", "replay"):
        assert verb in top
    assert all(s in _help("run") for s in ("all", "poller", "processor", "alerter"))
    assert all(a in _help("feeds") for a in ("add", "list", "remove", "import"))
    assert "apply" in _help("watchlists")
    assert all(a in _help("subscriptions") for a in ("add", "list", "remove"))

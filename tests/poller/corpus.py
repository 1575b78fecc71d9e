"""feedparser 6.0.14's own test feeds (~2,400 files), downloaded once from PyPI into .cache (never committed).

:func:`corpus_files` fails (never skips) with a clear message when the download is impossible.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

VERSION = "6.0.14"
CACHE = Path(__file__).resolve().parents[2] / ".cache" / "feedparser-corpus"
ROOT = CACHE / f"feedparser-{VERSION}" / "tests"


def _download() -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
    command += [f"feedparser=={VERSION}", "-d", str(CACHE), "--quiet"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    archive = CACHE / f"feedparser-{VERSION}.tar.gz"
    if done.returncode != 0 or not archive.exists():
        pytest.fail(f"could not download the feedparser {VERSION} sdist from PyPI: {done.stderr[-2000:]}")
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if "/tests/" in m.name and (m.isfile() or m.isdir())]
        tar.extractall(CACHE, members=members, filter="data")


def corpus_files() -> list[Path]:
    """Every feed file (.xml) of feedparser's test suite, sorted."""
    if not ROOT.is_dir():
        _download()
    files = sorted(ROOT.rglob("*.xml"))
    if len(files) < 2000:
        pytest.fail(f"feedparser corpus under {ROOT} holds only {len(files)} feeds; delete it to re-download")
    return files

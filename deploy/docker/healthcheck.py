#!/usr/local/bin/python
"""Container health check of a newswatch service: exit 0 when its health endpoint answers 200.

Usage: ``newswatch-healthcheck [--ready] [PORT ...]``

Without ports, the ports come from the container's main process (``newswatch run poller|processor|
alerter|all``, read from ``/proc/1/cmdline``) and the ``NEWSWATCH_<SERVICE>_METRICS_PORT`` variables, with
the documented defaults (poller 9101, processor 9102, alerter 9103; ``all`` checks the three). ``/healthz``
(alive) is asked by default, ``/readyz`` (connected and assigned) with ``--ready``. Every port must answer
200 within two seconds. Standard library only: it runs in the image beside the service, on a read-only root.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

DEFAULT_PORTS = {"poller": 9101, "processor": 9102, "alerter": 9103}
TIMEOUT_SECONDS = 2.0


def service_of(cmdline: Sequence[str]) -> str:
    """The service a ``newswatch run SERVICE`` command line runs ("all" when it names none)."""
    args = list(cmdline)
    for i, arg in enumerate(args[:-1]):
        if arg == "run" and args[i + 1] in (*DEFAULT_PORTS, "all"):
            return args[i + 1]
    return "all"


def ports_for(service: str, environ: Mapping[str, str]) -> list[int]:
    """The metrics ports of ``service`` ("all": every service), from the environment or the defaults."""
    names = list(DEFAULT_PORTS) if service == "all" else [service]
    ports = []
    for name in names:
        raw = environ.get(f"NEWSWATCH_{name.upper()}_METRICS_PORT", "")
        ports.append(int(raw) if raw.strip() else DEFAULT_PORTS[name])
    return ports


def main_cmdline(proc: Path = Path("/proc/1/cmdline")) -> list[str]:
    """The container's main process command line (empty when it cannot be read)."""
    try:
        raw = proc.read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def probe(port: int, path: str, host: str = "127.0.0.1") -> str | None:
    """None when ``http://host:port/path`` answers 200, else what went wrong."""
    url = f"http://{host}:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as resp:
            status = int(resp.status)
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        return f"{url}: {exc}"
    return None if status == 200 else f"{url}: HTTP {status}"


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if environ is None else environ
    path = "/healthz"
    if "--ready" in args:
        args.remove("--ready")
        path = "/readyz"
    try:
        ports = [int(a) for a in args] or ports_for(service_of(main_cmdline()), env)
    except ValueError as exc:
        sys.stderr.write(f"newswatch-healthcheck: bad port: {exc}\n")
        return 2
    failures = [f for f in (probe(port, path) for port in ports) if f is not None]
    for failure in failures:
        sys.stderr.write(f"unhealthy: {failure}\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

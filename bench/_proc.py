"""Process figures the benchmarks print, read from ``/proc`` (Linux): resident memory and CPU time.

``pid`` None = this process. Memory in MiB; a field the kernel does not report reads as NaN.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["children", "cpu_seconds", "peak_rss_mb", "pss_mb", "rss_mb", "status_mb"]


def status_mb(key: str, pid: int | None = None) -> float:
    """A ``kB`` field of ``/proc/<pid>/status`` (VmRSS, VmHWM ...) in MiB."""
    for line in Path(f"/proc/{pid or 'self'}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == key:
            return int(value.split()[0]) / 1024
    return float("nan")


def rss_mb(pid: int | None = None) -> float:
    """Resident memory now."""
    return status_mb("VmRSS", pid)


def peak_rss_mb(pid: int | None = None) -> float:
    """Peak resident memory so far."""
    return status_mb("VmHWM", pid)


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time the process used so far."""
    fields = Path(f"/proc/{pid or 'self'}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The process's direct children (of all its threads)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:  # the thread ended meanwhile
            continue
    return found


def pss_mb(pid: int | None = None) -> float:
    """Proportional resident memory now: pages shared with other processes count by their share, so
    the PSS of a process and its forked children adds up to what they hold together."""
    for line in Path(f"/proc/{pid or 'self'}/smaps_rollup").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == "Pss":
            return int(value.split()[0]) / 1024
    return float("nan")

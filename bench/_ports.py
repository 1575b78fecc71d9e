"""Free loopback ports for the benchmarks' own servers and brokers."""

from __future__ import annotations

import socket

__all__ = ["free_port", "free_port_pair", "free_ports"]


def free_port() -> int:
    """A port free on 127.0.0.1 when asked (the caller binds it soon after)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_ports(n: int) -> list[int]:
    return [free_port() for _ in range(n)]


def free_port_pair() -> int:
    """A port p such that p and p + 1 (the broker's controller listener) are both free on loopback."""
    for _ in range(50):
        port = free_port()
        if port >= 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free pair of loopback ports")

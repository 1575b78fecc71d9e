"""Fixtures of the alerter tests."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

import pytest

# Names the fake resolver knows; any other name does not resolve (the tests have no network).
DNS = {
    "hooks.example.org": "93.184.216.34",
    "internal.example.org": "10.1.2.3",
    "meta.example.org": "169.254.169.254",
}


@pytest.fixture
async def fake_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolve the names of :data:`DNS` on the test's event loop; IP literals resolve as usual."""
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo

    async def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in DNS:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (DNS[host], port or 0))]
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return await real(host, port, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)

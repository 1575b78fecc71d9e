"""The guarded POST resolves a host once, checks every address, and connects to what it checked."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from newswatch.alerter.channels.httppost import GuardedPoster
from newswatch.errors import DeliveryError
from tests.alerter.receiver import Receiver


class FakeResolver(AbstractResolver):
    """Answers from a table; counts lookups. A name not in the table does not resolve."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.lookups: list[str] = []

    async def resolve(self, host: str, port: int = 0, family: Any = socket.AF_INET) -> list[ResolveResult]:
        self.lookups.append(host)
        if host not in self.table:
            raise OSError(socket.EAI_NONAME, "Name or service not known")
        return [
            ResolveResult(
                hostname=host, host=a, port=port, family=socket.AF_INET, proto=0, flags=socket.AI_NUMERICHOST
            )
            for a in self.table[host]
        ]

    async def close(self) -> None:
        pass


def poster(resolver: FakeResolver, allow_private: bool) -> GuardedPoster:
    return GuardedPoster(
        what="webhook",
        allow_private=allow_private,
        timeout_seconds=5.0,
        max_connections=4,
        user_agent="test",
        resolver=resolver,
    )


async def test_the_checked_address_is_used_and_the_host_name_kept() -> None:
    dns = FakeResolver({"hooks.example.org": ["127.0.0.1"]})
    client = poster(dns, allow_private=True)
    async with Receiver() as rx:
        try:
            url = f"http://hooks.example.org:{rx.port}/hook"
            assert await client.post(url, b"{}", {"content-type": "application/json"}) == 204
            assert dns.lookups == ["hooks.example.org"]  # one lookup: no second resolution before connecting
            assert await client.post(url, b"{}", {"content-type": "application/json"}) == 204
        finally:
            await client.close()
    assert len(dns.lookups) <= 2  # at most one per delivery (cached or a reused connection: none)
    assert [r.headers["Host"] for r in rx.received] == [f"hooks.example.org:{rx.port}"] * 2


async def failure(dns: FakeResolver, url: str) -> DeliveryError:
    """The error of one POST to ``url`` with private networks refused."""
    client = poster(dns, allow_private=False)
    try:
        with pytest.raises(DeliveryError) as caught:
            await client.post(url, b"{}", {})
    finally:
        await client.close()
    return caught.value


@pytest.mark.parametrize(
    ("addresses", "shown"),
    [
        (["10.1.2.3"], "10.1.2.3"),
        (["169.254.169.254"], "169.254.169.254"),
        (["93.184.216.34", "127.0.0.1"], "127.0.0.1"),  # one private address refuses the host
    ],
)
async def test_a_host_with_a_private_address_is_refused_for_good(addresses: list[str], shown: str) -> None:
    dns = FakeResolver({"hooks.example.org": addresses})
    error = await failure(dns, "https://hooks.example.org/services/T/B/secret")
    assert not error.retriable
    assert "URL refused" in str(error) and shown in str(error)
    assert "secret" not in str(error)
    assert dns.lookups == ["hooks.example.org"]


async def test_a_host_that_does_not_resolve_is_retried() -> None:
    error = await failure(FakeResolver({}), "https://nowhere.example.org/hook")
    assert error.retriable and "nowhere.example.org" in str(error)


async def test_private_literals_are_refused_without_a_lookup() -> None:
    dns = FakeResolver({})
    error = await failure(dns, "http://127.0.0.1:9/hook")
    assert not error.retriable and dns.lookups == []

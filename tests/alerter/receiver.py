"""A webhook receiver on 127.0.0.1 for tests: records requests, answers from a script."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Step:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay_seconds: float = 0.0


class Receiver:
    """``script`` answers requests in order; when it runs out every request gets ``default``."""

    def __init__(self, script: list[Step] | None = None, default: Step | None = None) -> None:
        self.script = list(script or [])
        self.default = default or Step(204)
        self.received: list[Received] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        app.router.add_post("/moved", self._moved)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def moved_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/moved"

    async def _hook(self, request: web.Request) -> web.StreamResponse:
        self.received.append(Received(dict(request.headers), await request.read()))
        step = self.script.pop(0) if self.script else self.default
        if step.delay_seconds:
            await asyncio.sleep(step.delay_seconds)
        return web.Response(status=step.status, headers=step.headers, body=step.body)

    async def _moved(self, request: web.Request) -> web.StreamResponse:
        self.received.append(Received(dict(request.headers), await request.read()))
        raise web.HTTPTemporaryRedirect(location=self.url)


def reference_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """Standard Webhooks, written independently of newswatch.alerter.signing."""
    key = base64.b64decode(secret.split("_", 1)[1])
    mac = hmac.new(key, msg_id.encode() + b"." + timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def check_signed(secret: str, got: Received) -> None:
    """Assert ``got`` carries a valid signature, by the reference implementation."""
    headers = {k.lower(): v for k, v in got.headers.items()}
    expected = reference_signature(secret, headers["webhook-id"], headers["webhook-timestamp"], got.body)
    assert expected in headers["webhook-signature"].split(), "signature does not verify"

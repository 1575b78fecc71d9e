"""A hostile feed corpus served on 127.0.0.1 and checked through the poller's own fetch + parse.

Run as a script it prints one JSON object: every case's outcome (the error class and outcome label, or
"ok" with the entry count), whether any served file content leaked into a result, how many times the
server was asked for an external DTD or entity, and the process's peak RSS. ``test_hostile.py`` runs it
in a fresh interpreter so that the RSS figure is this corpus's alone.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
import zlib
from pathlib import Path
from typing import Any

from aiohttp import web

from newswatch.errors import NewswatchError
from newswatch.poller.checker import check_feed
from newswatch.settings import load_settings

SECRET_MARK = "root:x:0:0"  # what /etc/passwd would leak
ITEM = "<item><title>t{0}</title><link>http://127.0.0.1/a/{0}</link><guid>g{0}</guid><description>d</description></item>"


def rss(items: str, prolog: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>{prolog}<rss version="2.0"><channel><title>x</title>'
        f"<link>http://127.0.0.1/</link><description>d</description>{items}</channel></rss>"
    ).encode()


def peak_rss_mb() -> float:
    """This process's peak resident memory since its exec (VmHWM). Not ``ru_maxrss``: after fork + exec
    that also carries the parent's peak (here: the whole pytest process)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def gzip_bomb_bytes(size: int) -> bytes:
    """``size`` bytes of '<' gzip-compressed chunk by chunk (the server never holds the expanded form)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip container
    chunk = b"<" * (1024 * 1024)
    parts = [packer.compress(chunk) for _ in range(size // len(chunk))]
    return b"".join(parts) + packer.flush()


def corpus(port: int) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}"
    lol = '<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9)
    )
    big = "x" * 100_000
    return {
        "billion_laughs": rss("<item><title>&j;</title></item>", f"<!DOCTYPE rss [{lol}]>"),
        "quadratic_blowup": rss(
            "<item><title>" + "&big;" * 20_000 + "</title></item>", f'<!DOCTYPE rss [<!ENTITY big "{big}">]>'
        ),
        "xxe_file": rss(
            "<item><title>&x;</title></item>", '<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        ),
        "xxe_parameter_entity": rss(
            "<item><title>t</title></item>",
            f'<!DOCTYPE rss [<!ENTITY % p SYSTEM "{base}/evil.ent"> %p;]>',
        ),
        "external_dtd": rss(ITEM.format(1), f'<!DOCTYPE rss SYSTEM "{base}/evil.dtd">'),
        "empty_body": b"",
        "wrong_charset": (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Caf\xe9</title>'
            "<item><title>Palmyre \xe9t\xe9</title><guid>c1</guid></item></channel></rss>"
        ).encode("latin-1"),
        # 100,000 items in ~3.5 MB: under the body cap, so the parser itself must cope.
        "many_items": rss("".join(f"<item><guid>g{i}</guid></item>" for i in range(100_000))),
    }


async def run() -> dict[str, Any]:
    hits = {"evil": 0}
    bomb = gzip_bomb_bytes(512 * 1024 * 1024)
    bodies: dict[str, bytes] = {}

    async def feed(request: web.Request) -> web.StreamResponse:
        return web.Response(body=bodies[request.match_info["name"]], content_type="application/rss+xml")

    async def evil(_request: web.Request) -> web.Response:
        hits["evil"] += 1
        return web.Response(text='<!ENTITY leak SYSTEM "file:///etc/passwd">')

    async def gzip_bomb(_request: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip"})

    async def endless(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await resp.prepare(request)
        chunk = b"<item><title>again</title></item>" * 1000
        for _ in range(100_000):
            await resp.write(chunk)
        return resp

    async def slow_drip(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await resp.prepare(request)
        for _ in range(600):
            await resp.write(b"<")
            await asyncio.sleep(0.1)
        return resp

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"/loop?n={int(request.query.get('n', '0')) + 1}")

    app = web.Application()
    app.router.add_get("/feed/{name}", feed)
    app.router.add_get("/evil.dtd", evil)
    app.router.add_get("/evil.ent", evil)
    app.router.add_get("/gzip-bomb", gzip_bomb)
    app.router.add_get("/endless", endless)
    app.router.add_get("/slow-drip", slow_drip)
    app.router.add_get("/loop", loop)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    bodies.update(corpus(port))
    settings = load_settings(
        environ={
            "NEWSWATCH_ALLOW_PRIVATE_NETWORKS": "true",
            "NEWSWATCH_FETCH_TIMEOUT_SECONDS": "3",
            "NEWSWATCH_FETCH_CONNECT_TIMEOUT_SECONDS": "1",
        }
    )
    urls = {name: f"http://127.0.0.1:{port}/feed/{name}" for name in bodies}
    for path in ("gzip-bomb", "endless", "slow-drip", "loop"):
        urls[path.replace("-", "_")] = f"http://127.0.0.1:{port}/{path}"
    results: dict[str, Any] = {}
    leaked = False
    try:
        for name, url in urls.items():
            started = time.monotonic()
            try:
                parsed, articles = await check_feed(settings, url)
            except NewswatchError as exc:
                outcome = f"{type(exc).__name__}:{getattr(exc, 'outcome', '')}"
                leaked |= SECRET_MARK in str(exc)
            else:
                outcome = f"ok:{len(articles)}"
                leaked |= any(SECRET_MARK in (a.title + a.summary + a.content) for a in articles)
                leaked |= SECRET_MARK in parsed.title
            results[name] = {"outcome": outcome, "seconds": round(time.monotonic() - started, 2)}
    finally:
        await runner.cleanup()
    rss_mb = peak_rss_mb()
    return {"cases": results, "leaked": leaked, "external_fetches": hits["evil"], "max_rss_mb": rss_mb}


if __name__ == "__main__":
    json.dump(asyncio.run(run()), sys.stdout)

"""The console page: checked-in files under ``static/`` (HTML, CSS, JavaScript modules — no build step),
served from memory.

Routes: ``GET /`` redirects (302) to ``/console/``; ``GET /console/`` is ``index.html``; ``GET
/console/{name}`` is one of the files found under ``static/`` at start-up (anything else: 404). The
files hold no data, so they need no token (:meth:`ConsoleFiles.public_paths` is given to the bearer
middleware); every data call the page makes sends ``Authorization: Bearer``.

:func:`security_headers` (an ``on_response_prepare`` hook, so Server-Sent Events get them too) sets on
every response of the app: a Content-Security-Policy that allows only this origin and nothing inline
(:data:`CONTENT_SECURITY_POLICY`: no inline script or style, no framing, no plugins, no ``<base>``),
``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` and ``X-Frame-Options: DENY``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from aiohttp import web

from newswatch.alerter.apihttp import ApiError

__all__ = ["CONSOLE_PATH", "CONTENT_SECURITY_POLICY", "ConsoleFiles", "security_headers"]

CONSOLE_PATH = "/console/"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_TYPES = {
    ".html": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
}
_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True, slots=True)
class _File:
    body: bytes
    content_type: str


def _walk(folder: Traversable, prefix: str = "") -> dict[str, _File]:
    found: dict[str, _File] = {}
    for entry in folder.iterdir():
        name = prefix + entry.name
        if entry.is_dir():
            found.update(_walk(entry, name + "/"))
            continue
        suffix = name[name.rfind(".") :] if "." in name else ""
        if suffix in _TYPES:
            found[name] = _File(entry.read_bytes(), _TYPES[suffix])
    return found


class ConsoleFiles:
    """The page's files, read once from the package (``newswatch.alerter.console/static``)."""

    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        """``files`` (name → body) replaces the packaged ones (tests)."""
        if files is None:
            root = resources.files("newswatch.alerter.console") / "static"
            self._files = _walk(root)
        else:
            self._files = {
                n: _File(b, _TYPES.get(n[n.rfind(".") :], "application/octet-stream"))
                for n, b in files.items()
            }
        if "index.html" not in self._files:
            raise FileNotFoundError("the console's index.html is missing from the package")

    @property
    def names(self) -> list[str]:
        return sorted(self._files)

    def public_paths(self) -> frozenset[str]:
        """The paths served without a token."""
        return frozenset({"/", CONSOLE_PATH, *(CONSOLE_PATH + n for n in self._files)})

    def add_to(self, app: web.Application) -> None:
        app.router.add_get("/", self._root, allow_head=False)
        app.router.add_get(CONSOLE_PATH, self._index, allow_head=False)
        app.router.add_get(CONSOLE_PATH + "{name:.+}", self._file, allow_head=False)

    async def _root(self, _request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": CONSOLE_PATH})

    async def _index(self, _request: web.Request) -> web.Response:
        return self._respond(self._files["index.html"])

    async def _file(self, request: web.Request) -> web.Response:
        found = self._files.get(request.match_info["name"])
        if found is None:
            raise ApiError(404, "not_found", "no such console file")
        return self._respond(found)

    @staticmethod
    def _respond(file: _File) -> web.Response:
        return web.Response(
            body=file.body,
            content_type=file.content_type,
            charset="utf-8" if file.content_type.startswith("text/") else None,
            headers={"Cache-Control": "no-cache"},
        )


async def security_headers(_request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare`` hook: the headers of the module docstring, on every response."""
    for name, value in _HEADERS.items():
        response.headers.setdefault(name, value)

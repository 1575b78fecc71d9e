"""Headless Chromium for the console tests, driven by Selenium through the system chromedriver.

The browser is Debian's ``chromium`` with ``chromium-driver`` (``scripts/bootstrap.sh`` installs both);
Selenium is pointed at ``/usr/bin/chromedriver`` with a Service, so Selenium Manager never goes to the
network. When Chromium does not start, :func:`start_chromium` fails the test with the reason — never a skip.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web
from selenium import webdriver
from selenium.common.exceptions import (
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / ".artifacts" / "console"
CHROMIUM = os.environ.get("NEWSWATCH_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("NEWSWATCH_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking")
WAIT_SECONDS = 20.0
T = TypeVar("T")


def start_chromium() -> WebDriver:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, "--window-size=1400,1000", "--disable-extensions", "--no-first-run"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            pytest.fail(
                f"{path} is missing: install Debian's chromium and chromium-driver (scripts/bootstrap.sh)",
                pytrace=False,
            )
    try:
        return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    except WebDriverException as exc:
        pytest.fail(f"Chromium did not start ({CHROMIUM} via {CHROMEDRIVER}): {exc.msg}", pytrace=False)


@contextmanager
def chromium() -> Iterator[WebDriver]:
    driver = start_chromium()
    try:
        yield driver
    finally:
        driver.quit()


def wait(
    driver: WebDriver, condition: Callable[[WebDriver], T], what: str, seconds: float = WAIT_SECONDS
) -> T:
    """Wait for ``condition`` to return something truthy; fail naming ``what`` and the page's errors."""
    try:
        # A list re-rendered under the condition's feet makes elements stale: look again.
        waiting = WebDriverWait(
            driver, seconds, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
        )
        return waiting.until(condition)  # type: ignore[no-any-return]
    except TimeoutException as exc:
        logs = "\n".join(str(e) for e in driver.get_log("browser"))
        raise AssertionError(
            f"timed out after {seconds:g}s waiting for {what}\nbrowser log:\n{logs}"
        ) from exc


def page_errors(driver: WebDriver, expected_statuses: tuple[int, ...] = ()) -> list[str]:
    """Console errors the page produced since the last call (script errors, CSP violations, failed loads),
    but for the 401 of the page's first probe, made without a token to learn whether it must ask for one,
    and the answers with ``expected_statuses``."""
    allowed = [f"status of {status} " for status in (401, *expected_statuses)]
    return [
        message
        for e in driver.get_log("browser")
        if e.get("level") == "SEVERE" and not any(a in (message := str(e["message"])) for a in allowed)
    ]


def screenshot(driver: WebDriver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    assert driver.save_screenshot(str(path)), f"no screenshot written to {path}"
    print(f"console screenshot: {path}")  # noqa: T201 - the artifact's path, for whoever reads the test log
    return path


class ServerThread:
    """An aiohttp application served on 127.0.0.1 by its own event loop in a thread, so that blocking
    Selenium calls in the test do not stall it. ``call(fn, *args)`` runs ``fn`` on that loop."""

    def __init__(self, app_factory: Callable[[], web.Application]) -> None:
        self._factory = app_factory
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="console-test-server", daemon=True
        )
        self._runner: web.AppRunner | None = None
        self.port = 0

    def __enter__(self) -> ServerThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    def __exit__(self, *_exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()

    async def _start(self) -> None:
        self._runner = web.AppRunner(self._factory(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        async def run() -> None:
            fn(*args)

        asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

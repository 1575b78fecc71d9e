"""The console against a running pipeline on the real broker, in headless Chromium.

A loopback feed serves one article about Palmyra; poller, processor and alerter run as ``newswatch run``
processes (:mod:`tests.e2e.harness`). The page is signed in with the API token; the test waits for the
article's alert in the live list, opens its detail (the article text from the enriched topic with the
matched term highlighted, the place and region), finds the feed in the health table, creates a
subscription through the form (filtered on a watch list no alert has, so it never takes other tests'
alerts), checks it through the API, and saves a screenshot under ``.artifacts/console/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from tests.console.browser import chromium, page_errors, screenshot, wait
from tests.e2e.harness import FeedItem, FeedServer, Pipeline, consumers_start_at_end, pipeline_env

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(300)]

TOKEN = "console-e2e-token-" + "z" * 16
ALERT_SECONDS = 150.0


def _alert_titled(driver: WebDriver, title: str) -> WebElement | None:
    for button in driver.find_elements(By.CSS_SELECTOR, "#alert-list button.alert-item"):
        if title in button.text:
            return button
    return None


def _row_with(driver: WebDriver, rows: str, text: str) -> WebElement | None:
    return next((r for r in driver.find_elements(By.CSS_SELECTOR, f"{rows} tr") if text in r.text), None)


def _feed_ok(driver: WebDriver, feed_title: str) -> WebElement | None:
    """The feed's row once its state is ok; until then ask for a refresh (the poller writes the health
    after its first check, the page reloads it every 15 s)."""
    row = _row_with(driver, "#feed-rows", feed_title)
    if row is not None and row.find_elements(By.CSS_SELECTOR, "td.state-ok"):
        return row
    driver.find_element(By.ID, "feeds-refresh").click()
    return None


def drive_console(base: str, title: str, feed_title: str, name: str, watchlist: str) -> dict[str, Any]:
    """Everything the browser does (blocking: run in a thread). Returns what it saw."""
    seen: dict[str, Any] = {}
    with chromium() as driver:
        started = time.monotonic()
        driver.get(base + "/")
        wait(driver, lambda d: d.find_element(By.ID, "token").is_displayed(), "the token form")
        driver.find_element(By.ID, "token").send_keys(TOKEN, Keys.ENTER)
        button = wait(driver, lambda d: _alert_titled(d, title), "the article's alert", ALERT_SECONDS)
        seen["alert_after_seconds"] = time.monotonic() - started
        button.send_keys(Keys.ENTER)  # the keyboard opens it
        dialog = wait(driver, lambda d: d.find_element(By.ID, "detail"), "the detail dialog")
        marks = wait(
            driver,
            lambda d: d.find_elements(By.CSS_SELECTOR, "#detail .article-text mark.term"),
            "the article text with highlighted terms",
        )
        seen["marks"] = [m.text for m in marks]
        seen["detail"] = dialog.text
        screenshot(driver, "e2e-detail")
        driver.switch_to.active_element.send_keys(Keys.ESCAPE)
        wait(driver, lambda d: not d.find_element(By.ID, "detail").is_displayed(), "the dialog to close")

        feed_row = wait(driver, lambda d: _feed_ok(d, feed_title), "the feed, state ok, in the health table")
        seen["feed_row"] = feed_row.text

        form = driver.find_element(By.ID, "subscription-form")
        form.find_element(By.NAME, "name").send_keys(name)
        Select(form.find_element(By.NAME, "channel")).select_by_value("stream")
        form.find_element(By.NAME, "watchlists").send_keys(watchlist)
        form.find_element(By.NAME, "regions").send_keys("mena")
        form.find_element(By.ID, "sub-save").click()
        row = wait(driver, lambda d: _row_with(d, "#subscription-rows", name), "the new subscription's row")
        seen["subscription_row"] = row.text
        driver.execute_script("arguments[0].scrollIntoView()", row)
        seen["screenshot"] = screenshot(driver, "e2e-console")
        seen["errors"] = page_errors(driver)
    return seen


async def _wait_for_console(base: str, pipe: Pipeline, seconds: float = 90.0) -> None:
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(base + "/console/") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.25)
    raise AssertionError(f"the console did not answer within {seconds:g}s\n{pipe.log('alerter')}")


async def _api(base: str, method: str, path: str) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, base + path, headers={"Authorization": f"Bearer {TOKEN}"}) as resp,
    ):
        assert resp.status < 300, await resp.text()
        return await resp.json() if resp.status != 204 else None


async def test_the_console_shows_a_live_alert_and_its_detail_and_creates_a_subscription(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:10]
    title = f"Console {run}: Syrian army closes in on Palmyra"
    feed_title = f"console feed {run}"
    feed = FeedServer()
    feed.items = [
        FeedItem(
            guid=f"console-{run}",
            title=title,
            body="Syrian government forces advanced towards Palmyra on Sunday after weeks of fighting "
            f"with ISIS militants in the desert, officials said ({run}).",
            link=f"http://127.0.0.1/articles/console-{run}.html",
        )
    ]
    await feed.start()
    env = pipeline_env(kafka_bootstrap, tmp_path / "data", NEWSWATCH_API_TOKEN=TOKEN)
    base = f"http://127.0.0.1:{env['NEWSWATCH_API_PORT']}"
    pipe = Pipeline(env, tmp_path / "logs")
    created: list[str] = []
    try:
        await pipe.cli("feeds", "add", feed.url, "--title", feed_title, "--interval", "2")
        await consumers_start_at_end(pipe.env)
        for name in ("alerter", "processor", "poller"):
            pipe.start(name, "run", name)
        await _wait_for_console(base, pipe)

        name, watchlist = f"console {run}", f"console-{run}"
        try:
            seen = await asyncio.to_thread(drive_console, base, title, feed_title, name, watchlist)
        except AssertionError as exc:
            logs = "\n".join(f"--- {n}\n{pipe.log(n)}" for n in ("poller", "processor", "alerter"))
            raise AssertionError(f"{exc}\n{logs}") from None

        assert "Palmyra" in seen["marks"] and "ISIS" in seen["marks"], seen["marks"]
        assert "Palmyra (SY)" in seen["detail"] and "mena" in seen["detail"]
        assert f"http://127.0.0.1/articles/console-{run}.html" in seen["detail"]
        assert "ok" in seen["feed_row"].split(), seen["feed_row"]
        assert seen["errors"] == []
        subs = (await _api(base, "GET", "/v1/subscriptions"))["subscriptions"]
        mine = [s for s in subs if s["name"] == name]
        assert len(mine) == 1, subs
        created.append(mine[0]["id"])
        assert mine[0]["watchlists"] == [watchlist] and mine[0]["regions"] == ["mena"]
        assert mine[0]["channel"]["type"] == "stream" and mine[0]["enabled"] is True
        assert seen["screenshot"].exists()
        assert seen["alert_after_seconds"] < ALERT_SECONDS
    finally:
        for subscription_id in created:
            await _api(base, "DELETE", f"/v1/subscriptions/{subscription_id}")
        pipe.stop_all()
        await feed.stop()
        with contextlib.suppress(AssertionError, TimeoutError):  # best effort: the test's verdict stands
            await pipe.cli("feeds", "remove", feed.url)

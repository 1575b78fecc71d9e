"""The console page in headless Chromium against the API on fakes (no broker): sign-in, the live list,
untrusted text shown as text, the keyboard path to a detail and back, the SSE parser, the API-off page."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from tests.console.browser import ServerThread, chromium, page_errors, screenshot, wait
from tests.console.fakes import TOKEN, Console, make_alert

pytestmark = [pytest.mark.timeout(120)]

XSS_TITLE = '<img src=x onerror="window.__pwned=1"> Palmyra <script>window.__pwned=2</script>'


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    with chromium() as browser:
        yield browser


def sign_in(driver: WebDriver, base: str, token: str = TOKEN) -> None:
    page_errors(driver)  # forget what earlier pages logged
    driver.get(base + "/")
    field = wait(driver, lambda d: _visible(d, "token"), "the token form")
    field.send_keys(token, Keys.ENTER)
    wait(driver, lambda d: _visible(d, "alerts"), "the console after sign-in")


def _visible(driver: WebDriver, element_id: str) -> WebElement | None:
    found = driver.find_elements(By.ID, element_id)
    return found[0] if found and found[0].is_displayed() else None


def alert_button(driver: WebDriver, alert_id: str) -> WebElement | None:
    found = driver.find_elements(By.CSS_SELECTOR, f'#alert-list button[data-alert-id="{alert_id}"]')
    return found[0] if found else None


def test_live_alerts_untrusted_titles_and_the_keyboard_path_to_a_detail(driver: WebDriver) -> None:
    console = Console()
    hostile = make_alert(XSS_TITLE, cluster="cluster-1")
    twin = make_alert("Same story, other outlet", cluster="cluster-1")
    with ServerThread(console.app) as server:
        server.call(console.publish, twin)
        server.call(console.publish, hostile)
        sign_in(driver, server.url)
        assert driver.execute_script("return sessionStorage.length") == 1
        assert TOKEN not in driver.current_url
        button = wait(driver, lambda d: alert_button(d, hostile.alert_id), "the buffered alert in the list")
        assert XSS_TITLE in button.text  # shown as text ...
        assert driver.find_elements(By.CSS_SELECTOR, "#alert-list img, #alert-list script") == []
        assert driver.execute_script("return window.__pwned") is None  # ... and never run
        assert driver.find_element(By.ID, "alert-list").get_attribute("aria-live") == "polite"

        live = make_alert("Clashes near Tadmur reported")
        server.call(console.publish, live)
        wait(driver, lambda d: alert_button(d, live.alert_id), "an alert arriving live")
        first = driver.find_element(By.CSS_SELECTOR, "#alert-list li:first-child button")
        assert first.get_attribute("data-alert-id") == live.alert_id  # newest first

        # Keyboard only, from a fresh load (the token is kept for the tab): the skip link comes first,
        # Enter on it moves to the alerts, then Tab through to the hostile alert, Enter opens it.
        driver.refresh()
        wait(driver, lambda d: alert_button(d, hostile.alert_id), "the alerts after a reload")
        keys = ActionChains(driver)
        keys.send_keys(Keys.TAB).perform()
        assert driver.switch_to.active_element.get_attribute("class") == "skip"
        keys.send_keys(Keys.ENTER).perform()
        for _ in range(20):
            keys.send_keys(Keys.TAB).perform()
            if driver.switch_to.active_element.get_attribute("data-alert-id") == hostile.alert_id:
                break
        assert driver.switch_to.active_element.get_attribute("data-alert-id") == hostile.alert_id
        keys.send_keys(Keys.ENTER).perform()
        dialog = wait(driver, lambda d: _visible(d, "detail"), "the detail dialog")
        wait(
            driver,
            lambda d: d.find_elements(By.CSS_SELECTOR, "#detail .article-text mark.term"),
            "highlights",
        )
        marks = [m.text for m in dialog.find_elements(By.CSS_SELECTOR, ".article-text mark.term")]
        assert marks == ["Palmyra", "ISIS"]
        assert "Palmyra (SY)" in dialog.text and "mena" in dialog.text
        assert dialog.find_element(By.ID, "detail-title").text == XSS_TITLE
        link = dialog.find_element(By.CSS_SELECTOR, "dl.facts a")
        assert link.get_attribute("href") == hostile.url
        assert link.get_attribute("rel") == "noopener noreferrer"
        assert "Same story, other outlet" in dialog.text  # its duplicate
        screenshot(driver, "detail-on-fakes")
        keys.send_keys(Keys.ESCAPE).perform()
        wait(driver, lambda d: not d.find_element(By.ID, "detail").is_displayed(), "the dialog to close")
        assert driver.switch_to.active_element.get_attribute("data-alert-id") == hostile.alert_id
        assert console.articles.asked == [hostile.article_id]
        assert page_errors(driver) == []


def test_a_javascript_url_is_not_a_link_and_feed_health_is_listed(driver: WebDriver) -> None:
    console = Console()
    sneaky = make_alert("Sneaky link", url="javascript:window.__pwned=3")
    with ServerThread(console.app) as server:
        server.call(console.publish, sneaky)
        sign_in(driver, server.url)
        wait(driver, lambda d: alert_button(d, sneaky.alert_id), "the alert").click()
        dialog = wait(driver, lambda d: _visible(d, "detail"), "the detail dialog")
        assert dialog.find_elements(By.CSS_SELECTOR, "dl.facts a") == []
        assert "javascript:window.__pwned=3" in dialog.text
        dialog.find_element(By.ID, "detail-close").click()
        rows = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#feed-rows tr"), "feed rows")
        text = " ".join(r.text for r in rows)
        assert "Broken feed" in text and "failing" in text and "http_status: 503" in text
        assert "s3cret" not in text and "pw@" not in text  # feed URLs without credentials or query
        assert page_errors(driver) == []


def test_the_sse_parser_in_the_browser(driver: WebDriver) -> None:
    console = Console()
    with ServerThread(console.app) as server:
        driver.get(server.url + "/console/")
        chunks = [
            "retry: 10\r\n: comment\r",
            '\nid: a1\nevent: alert\ndata: {"x":',
            "1}\n\nda",
            "ta: line one\ndata: line two\r\n\r\nid: b2\ndata:no-space\n\n",
            "data: unfinished",
        ]
        events = driver.execute_async_script(
            """
            const [chunks, done] = arguments;
            import("/console/js/sse.js").then(({ SseParser }) => {
              const out = [];
              const retries = [];
              const parser = new SseParser((e) => out.push(e), (ms) => retries.push(ms));
              for (const chunk of chunks) parser.push(chunk);
              done({ out, retries });
            });
            """,
            chunks,
        )
    assert events["retries"] == [10]
    assert events["out"] == [
        {"id": "a1", "event": "alert", "data": '{"x":1}'},
        {"id": "a1", "event": "message", "data": "line one\nline two"},
        {"id": "b2", "event": "message", "data": "no-space"},
    ]
    assert json.loads(events["out"][0]["data"]) == {"x": 1}


def test_without_a_token_configured_the_page_says_the_api_is_off(driver: WebDriver) -> None:
    console = Console(token="")
    with ServerThread(console.app) as server:
        driver.get(server.url + "/console/")
        wait(driver, lambda d: _visible(d, "api-off"), "the API-off notice")
        assert not driver.find_element(By.ID, "auth").is_displayed()
        assert not driver.find_element(By.ID, "main").is_displayed()


def test_a_cut_stream_resumes_after_the_last_event_without_repeating_any(driver: WebDriver) -> None:
    console = Console()
    first, second = make_alert("first"), make_alert("second")
    with ServerThread(console.app) as server:
        server.call(console.publish, first)
        server.call(console.publish, second)
        sign_in(driver, server.url)
        wait(driver, lambda d: alert_button(d, second.alert_id), "the buffered alerts")
        assert _events_written(console) == 2

        def cut_every_stream() -> None:
            for client in list(console.stream._clients):
                console.stream._cut(client, "slow_client")

        missed = make_alert("published while the stream was cut")
        server.call(cut_every_stream)
        server.call(console.publish, missed)
        wait(driver, lambda d: alert_button(d, missed.alert_id), "the missed alert after the reconnect")
        # Resumed with Last-Event-ID: only the missed alert was sent again (a fresh `last=50` would be 3).
        assert _events_written(console) == 3
        ids = [
            b.get_attribute("data-alert-id")
            for b in driver.find_elements(By.CSS_SELECTOR, "#alert-list button")
        ]
        assert ids == [missed.alert_id, second.alert_id, first.alert_id]


def _events_written(console: Console) -> float:
    value = console.registry.get_sample_value("newswatch_alerter_stream_events_total")
    return value or 0.0


def test_filters_and_subscriptions_from_the_page(driver: WebDriver) -> None:
    console = Console()
    english, french = make_alert("in English"), make_alert("en français", language="fr")
    with ServerThread(console.app) as server:
        server.call(console.publish, english)
        server.call(console.publish, french)
        sign_in(driver, server.url)
        wait(driver, lambda d: alert_button(d, english.alert_id), "the alerts")
        filters = driver.find_element(By.ID, "alert-filters")
        filters.find_element(By.NAME, "language").send_keys("fr", Keys.ENTER)
        wait(driver, lambda d: alert_button(d, english.alert_id) is None, "the English alert to go")
        assert alert_button(driver, french.alert_id) is not None

        form = driver.find_element(By.ID, "subscription-form")
        form.find_element(By.NAME, "name").send_keys("night desk")
        form.find_element(By.NAME, "regions").send_keys("mena, levant")
        form.find_element(By.NAME, "name").send_keys(Keys.ENTER)  # Enter submits the form
        row = wait(driver, lambda d: _row(d, "night desk"), "the created subscription")
        (sub,) = console.store.all()
        assert list(sub.regions) == ["mena", "levant"] and sub.HasField("stream") and sub.enabled

        row.find_element(By.XPATH, ".//button[text()='Edit']").click()
        name = form.find_element(By.NAME, "name")
        assert driver.switch_to.active_element == name and name.get_attribute("value") == "night desk"
        name.clear()
        name.send_keys("night desk (MENA)", Keys.ENTER)
        row = wait(driver, lambda d: _row(d, "night desk (MENA)"), "the renamed subscription")
        row.find_element(By.XPATH, ".//button[text()='Disable']").click()
        wait(driver, lambda d: "disabled" in getattr(_row(d, "night desk (MENA)"), "text", ""), "disabled")
        (sub,) = console.store.all()
        assert sub.name == "night desk (MENA)" and not sub.enabled and list(sub.regions) == ["mena", "levant"]

        form.find_element(By.NAME, "name").send_keys("bad score")
        score = form.find_element(By.NAME, "min_score")
        score.clear()
        score.send_keys("-1", Keys.ENTER)
        error = wait(driver, lambda d: d.find_element(By.ID, "sub-error").text, "the API's refusal")
        assert "min_score" in error
        assert len(console.store.all()) == 1  # refused: nothing written
        assert driver.switch_to.active_element == score  # focus on the field the API named
        assert page_errors(driver, expected_statuses=(400,)) == []


def _row(driver: WebDriver, name: str) -> WebElement | None:
    for row in driver.find_elements(By.CSS_SELECTOR, "#subscription-rows tr"):
        if row.find_elements(By.CSS_SELECTOR, "td") and row.find_element(By.CSS_SELECTOR, "td").text == name:
            return row
    return None

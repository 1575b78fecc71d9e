"""Observability of the running pipeline: what the dashboards and alert rules read is what the services
expose, ``promtool check metrics`` accepts every ``/metrics``, and a real Prometheus scraping the services
answers PromQL about what the test fed them.

One pipeline (poller, processor and alerter as ``newswatch run …`` processes on the session's broker) runs
for the whole module: a feed server on 127.0.0.1 serves :data:`ARTICLES` written for the test, a webhook
receiver takes the alerts, and the tests start once every article has been processed and delivered.
Prometheus runs from ``deploy/prometheus/prometheus.local.yml`` with this pipeline's ports, a 1 s scrape
interval, the alert rules and a temporary storage folder, on a free loopback port.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import yaml

from tests.deploy import (
    PROMETHEUS,
    RULES,
    SCRAPE_SERIES,
    binary,
    exposed,
    families,
    metric_names,
    panel_exprs,
    rule_exprs,
    rules,
)
from tests.e2e.harness import (
    FeedItem,
    FeedServer,
    Pipeline,
    WebhookReceiver,
    consumers_start_at_end,
    pipeline_env,
    wait_for,
)
from tests.helpers import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(420)]

SERVICES = ("poller", "processor", "alerter")
SECRET = "whsec_" + "bmV3c3dhdGNoLW9ic2VydmFiaWxpdHktdGVzdC0wMDA="
# (title, body, flagged by the default watch list)
ARTICLES = (
    (
        "Army retakes Palmyra from ISIS",
        "Syrian troops entered Palmyra after weeks of fighting with ISIS.",
        True,
    ),
    (
        "Iraqi forces push into Hit",
        "Iraqi forces fought Islamic State militants in the town of Hit in Anbar.",
        True,
    ),
    (
        "Daesh loses ground near Tadmur",
        "Daesh fighters withdrew from the hills east of Tadmur on Sunday.",
        True,
    ),
    ("Harvest festival opens", "Farmers brought apples, pears and pumpkins to the autumn market.", False),
)


@dataclass
class Running:
    pipe: Pipeline
    feed: FeedServer
    receiver: WebhookReceiver
    run: str

    def metrics_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.pipe.env[f'NEWSWATCH_{service.upper()}_METRICS_PORT']}/metrics"

    def links(self, flagged: bool | None = None) -> set[str]:
        return {
            f"http://127.0.0.1/articles/{self.run}-{i}.html"
            for i, (_t, _b, hit) in enumerate(ARTICLES)
            if flagged is None or hit == flagged
        }


async def scrape(url: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200, url
        return await response.text()


def sample(exposition: str, series: str) -> float | None:
    """The value of one series line (``name{labels}`` exactly as exposed), None when absent."""
    for line in exposition.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def delivered_links(receiver: WebhookReceiver) -> set[str]:
    return {str(json.loads(got.body)["url"]) for got in receiver.received}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def running(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    run = uuid.uuid4().hex[:10]
    base = tmp_path_factory.mktemp("observability")
    feed, receiver = FeedServer(), WebhookReceiver()
    await feed.start()
    await receiver.start()
    feed.items = [
        FeedItem(
            guid=f"obs-{run}-{i}", title=title, body=body, link=f"http://127.0.0.1/articles/{run}-{i}.html"
        )
        for i, (title, body, _hit) in enumerate(ARTICLES)
    ]
    pipe = Pipeline(pipeline_env(kafka_bootstrap, base / "data"), base / "logs")
    state = Running(pipe, feed, receiver, run)
    try:
        await pipe.watch(f"obs {run}", feed.url, receiver.url, SECRET)
        await consumers_start_at_end(pipe.env)
        for service in reversed(SERVICES):
            pipe.start(service, "run", service)
        flagged = state.links(flagged=True)
        await wait_for(
            lambda: flagged <= delivered_links(receiver),
            240,
            lambda: (
                f"an alert for every flagged article; missing {sorted(flagged - delivered_links(receiver))}"
            ),
            pipe,
        )
        processed = 'newswatch_processor_articles_total{outcome="processed"}'
        deadline = time.monotonic() + 60
        while sample(await scrape(state.metrics_url("processor")), processed) != len(ARTICLES):
            assert time.monotonic() < deadline, f"{processed} never reached {len(ARTICLES)}"
            await asyncio.sleep(0.5)
        yield state
        for service in SERVICES:
            assert await pipe.terminate(service) == 0, pipe.log(service)
        await pipe.unwatch(f"obs {run}", feed.url)
    finally:
        pipe.stop_all()
        await feed.stop()
        await receiver.stop()


@dataclass
class PrometheusServer:
    url: str
    proc: asyncio.subprocess.Process
    log: Path

    async def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query; fails the test unless Prometheus answers success."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.url}/api/v1/query", params={"query": promql}) as response,
        ):
            doc = await response.json()
        assert doc.get("status") == "success", f"{promql}: {doc}"
        result: list[dict[str, Any]] = doc["data"]["result"]
        return result

    async def value(self, promql: str) -> float | None:
        result = await self.query(promql)
        return float(result[0]["value"][1]) if len(result) == 1 else None

    async def api(self, path: str) -> dict[str, Any]:
        async with aiohttp.ClientSession() as session, session.get(f"{self.url}{path}") as response:
            doc: dict[str, Any] = await response.json()
        assert doc.get("status") == "success", doc
        return doc

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def prometheus(
    running: Running, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[PrometheusServer]:
    """Prometheus with ``prometheus.local.yml``: this pipeline's ports, 1 s intervals, the alert rules."""
    base = tmp_path_factory.mktemp("prometheus")
    config: dict[str, Any] = yaml.safe_load((PROMETHEUS / "prometheus.local.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"}
    config["rule_files"] = [str(RULES)]
    for job in config["scrape_configs"]:
        service = job["job_name"].removeprefix("newswatch-")
        job["static_configs"] = [
            {"targets": [f"127.0.0.1:{running.pipe.env[f'NEWSWATCH_{service.upper()}_METRICS_PORT']}"]}
        ]
    (base / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = base / "prometheus.log"
    with log.open("wb") as out:  # the child keeps its own descriptor
        proc = await asyncio.create_subprocess_exec(
            binary("prometheus"),
            f"--config.file={base / 'prometheus.yml'}",
            f"--storage.tsdb.path={base / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    server = PrometheusServer(f"http://127.0.0.1:{port}", proc, log)
    try:
        ready = False
        deadline = time.monotonic() + 60
        async with aiohttp.ClientSession() as session:
            while not ready and time.monotonic() < deadline and proc.returncode is None:
                try:
                    async with session.get(f"{server.url}/-/ready") as response:
                        ready = response.status == 200
                except aiohttp.ClientError:
                    pass
                if not ready:
                    await asyncio.sleep(0.2)
        assert ready, f"Prometheus did not become ready:\n{server.output()}"
        yield server
    finally:
        proc.terminate()
        try:
            async with asyncio.timeout(20):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def test_every_metric_of_the_dashboards_and_rules_is_exposed(running: Running) -> None:
    declared: dict[str, dict[str, str]] = {
        service: families(await scrape(running.metrics_url(service))) for service in SERVICES
    }
    everywhere = {name: kind for fams in declared.values() for name, kind in fams.items()}
    missing: dict[str, list[str]] = {}
    for where, expr in panel_exprs() + rule_exprs():
        for name in metric_names(expr):
            if name in SCRAPE_SERIES:
                continue
            # A service's metrics come from that service: newswatch_poller_* from the poller, and so on.
            owner = name.split("_")[1] if name.startswith("newswatch_") else ""
            if not exposed(name, declared.get(owner, everywhere)):
                missing.setdefault(name, []).append(where)
    assert missing == {}, f"queried but exposed by no service: {missing}"


async def test_metrics_have_samples_of_what_the_pipeline_did(running: Running) -> None:
    fed, flagged = len(ARTICLES), len(running.links(flagged=True))
    poller = await scrape(running.metrics_url("poller"))
    processor = await scrape(running.metrics_url("processor"))
    alerter = await scrape(running.metrics_url("alerter"))
    assert sample(poller, "newswatch_poller_articles_published_total") == fed
    assert (sample(poller, 'newswatch_poller_feeds{state="ok"}') or 0) >= 1
    assert sample(poller, "newswatch_poller_stale_feeds") is not None
    assert (sample(poller, "newswatch_poller_oldest_success_age_seconds") or 0) > 0
    assert sample(processor, 'newswatch_processor_articles_total{outcome="processed"}') == fed
    assert (sample(processor, "newswatch_processor_processing_duration_seconds_count") or 0) >= 1
    assert sample(alerter, "newswatch_alerter_alerts_consumed_total") == flagged
    assert (
        sample(alerter, 'newswatch_alerter_deliveries_total{channel="webhook",outcome="delivered"}')
        == flagged
    )
    assert sample(alerter, 'newswatch_alerter_delivery_duration_seconds_count{channel="webhook"}') == flagged
    assert sample(alerter, "newswatch_alerter_consumer_lag_records") is not None


@pytest.mark.parametrize("service", SERVICES)
async def test_promtool_check_metrics_is_clean(running: Running, service: str) -> None:
    text = await scrape(running.metrics_url(service))
    assert f"# TYPE newswatch_{service}_" in text
    check = await asyncio.create_subprocess_exec(
        binary("promtool"), "check", "metrics",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    async with asyncio.timeout(60):
        report, _ = await check.communicate(text.encode())
    assert (check.returncode, report.decode()) == (0, ""), f"{service}: promtool check metrics"


async def all_up(prometheus: PrometheusServer) -> None:
    async def up() -> dict[str, float]:
        result = await prometheus.query('up{job=~"newswatch-.*"}')
        return {r["metric"]["job"]: float(r["value"][1]) for r in result}

    deadline = time.monotonic() + 30
    while await up() != dict.fromkeys(("newswatch-poller", "newswatch-processor", "newswatch-alerter"), 1.0):
        assert time.monotonic() < deadline, f"up: {await up()}\n{prometheus.output()}"
        await asyncio.sleep(0.5)


async def test_prometheus_scrapes_the_three_services(prometheus: PrometheusServer) -> None:
    await all_up(prometheus)
    targets = (await prometheus.api("/api/v1/targets"))["data"]["activeTargets"]
    assert sorted((t["labels"]["job"], t["health"]) for t in targets) == [
        ("newswatch-alerter", "up"),
        ("newswatch-poller", "up"),
        ("newswatch-processor", "up"),
    ]


async def test_prometheus_answers_what_the_pipeline_processed(
    running: Running, prometheus: PrometheusServer
) -> None:
    fed, flagged = len(ARTICLES), len(running.links(flagged=True))
    expected = {
        'sum(newswatch_processor_articles_total{outcome="processed"})': fed,
        "sum(newswatch_poller_articles_published_total)": fed,
        "sum(newswatch_processor_alerts_total)": flagged,
        'sum(newswatch_alerter_deliveries_total{outcome="delivered"})': flagged,
        'sum(up{job=~"newswatch-.*"})': 3,
    }
    got: dict[str, float | None] = {}
    deadline = time.monotonic() + 30
    while True:
        got = {promql: await prometheus.value(promql) for promql in expected}
        if got == expected or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    assert got == expected, prometheus.output()


async def test_every_panel_query_runs_on_prometheus(running: Running, prometheus: PrometheusServer) -> None:
    """Every panel's query is accepted by Prometheus, with Grafana's window as a duration; once Prometheus
    holds a few scrapes, the overview's panels have data."""
    await all_up(prometheus)
    overview = {where: expr for where, expr in panel_exprs() if where.startswith("overview / ")}
    empty: list[str] = list(overview)
    deadline = time.monotonic() + 30
    while empty and time.monotonic() < deadline:
        await asyncio.sleep(1)
        empty = [
            w for w, e in overview.items() if not await prometheus.query(e.replace("$__rate_interval", "1m"))
        ]
    assert empty == [], "overview panels without data"
    for _where, expr in panel_exprs():
        await prometheus.query(expr.replace("$__rate_interval", "1m"))  # fails unless Prometheus accepts it


async def test_alert_rules_load_and_evaluate_on_the_live_metrics(prometheus: PrometheusServer) -> None:
    """Every rule evaluates without error on the live series; no service is (even pending) down."""
    await all_up(prometheus)
    names = {str(rule["alert"]) for rule in rules()}
    health: dict[str, str] = {}
    deadline = time.monotonic() + 30
    while health != dict.fromkeys(names, "ok") and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        doc = await prometheus.api("/api/v1/rules")
        health = {r["name"]: r["health"] for g in doc["data"]["groups"] for r in g["rules"]}
    assert health == dict.fromkeys(names, "ok"), doc
    alerts = (await prometheus.api("/api/v1/alerts"))["data"]["alerts"]
    assert [a for a in alerts if a["labels"]["alertname"] == "NewswatchServiceDown"] == []

"""The whole pipeline as real processes on the real broker.

A feed server on 127.0.0.1 serves the seed article and articles written for the test; poller, processor
and alerter run as ``newswatch run …`` processes; a webhook receiver on 127.0.0.1 checks every signature
with its own verifier. The processor is SIGKILLed half-way and restarted: no alert may be lost.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.harness import (
    FeedItem,
    FeedServer,
    Pipeline,
    WebhookReceiver,
    consumers_start_at_end,
    pipeline_env,
    verify_standard_webhook,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

SAMPLE_FEED = Path(__file__).resolve().parents[2] / "deploy" / "sample-feed" / "sample.xml"
SAMPLE_MATCHING = {
    "Syrian army takes al-Qaryatayn, turns towards Palmyra road",
    "Iraqi troops free prisoners from militant jail in Hit",
    "L'armée syrienne se rapproche de Palmyre",
}
SECRET = "whsec_" + "bmV3c3dhdGNoLWUyZS10ZXN0LXNlY3JldC0wMDAwMDA="


def seed_item(seed_text: str, run: str) -> FeedItem:
    lines = [line for line in seed_text.splitlines() if line.strip()]
    return FeedItem(
        guid=f"seed-{run}",
        title=lines[0].strip(),
        body="\n".join(lines[1:]),
        link=f"http://127.0.0.1/articles/seed-{run}.html",
    )


def written_items(run: str, start: int, count: int) -> list[FeedItem]:
    places = ["Palmyra", "the town of Hit in Anbar province", "Palmyra and the town of Hit"]
    return [
        FeedItem(
            guid=f"e2e-{run}-{i}",
            title=f"Report {i}: fighting with ISIS continues",
            body=f"Government forces reported new clashes with ISIS units near {places[i % 3]} on day {i}.",
            link=f"http://127.0.0.1/articles/{run}-{i}.html",
        )
        for i in range(start, start + count)
    ]


def alerts_by_url(receiver: WebhookReceiver) -> dict[str, list[dict[str, object]]]:
    out: dict[str, list[dict[str, object]]] = {}
    for got in receiver.received:
        doc = json.loads(got.body)
        out.setdefault(str(doc["url"]), []).append(doc)
    return out


async def test_seed_article_reaches_a_signed_webhook_and_survives_a_processor_kill(
    kafka_bootstrap: str, tmp_path: Path, seed_text: str
) -> None:
    run = uuid.uuid4().hex[:10]
    feed, receiver = FeedServer(), WebhookReceiver()
    await feed.start()
    await receiver.start()
    feed.items = [seed_item(seed_text, run), *written_items(run, 0, 5)]
    pipe = Pipeline(pipeline_env(kafka_bootstrap, tmp_path / "data"), tmp_path / "logs")
    try:
        await pipe.watch(f"e2e {run}", feed.url, receiver.url, SECRET)
        await consumers_start_at_end(pipe.env)
        pipe.start("alerter", "run", "alerter")
        pipe.start("processor", "run", "processor")
        pipe.start("poller", "run", "poller")

        first_urls = {i.link for i in feed.items}
        await wait_for(
            lambda: bool(first_urls & set(alerts_by_url(receiver))), 150, "a first alert of this run", pipe
        )
        # Kill the processor half-way, add articles while it is down, start it again.
        pipe.kill("processor")
        feed.items.extend(written_items(run, 5, 5))
        pipe.start("processor", "run", "processor")
        expected = first_urls | {i.link for i in feed.items}
        await wait_for(
            lambda: expected <= set(alerts_by_url(receiver)),
            180,
            lambda: f"an alert for every article; missing: {sorted(expected - set(alerts_by_url(receiver)))}",
            pipe,
        )

        by_url = alerts_by_url(receiver)
        for got in receiver.received:
            verify_standard_webhook(SECRET, {k.lower(): v for k, v in got.headers.items()}, got.body)
        # Redeliveries keep their webhook-id so a receiver can drop duplicates; one id per article.
        ids_per_url: dict[str, set[str]] = {}
        for got in receiver.received:
            url = str(json.loads(got.body)["url"])
            ids_per_url.setdefault(url, set()).add(got.headers["webhook-id"])
        assert all(len(ids) == 1 for url, ids in ids_per_url.items() if url in expected)

        seed = by_url[f"http://127.0.0.1/articles/seed-{run}.html"][0]
        labels = {m["term_label"] for m in seed["matches"]}  # type: ignore[union-attr, index]
        assert {"ISIS", "Palmyra", "Hit"} <= labels
        assert "mena" in seed["regions"]  # type: ignore[operator]
        assert {"SY", "IQ"} <= set(seed["countries"])  # type: ignore[arg-type]

        tail = await pipe.cli("tail", "-n", "50", "--max-alerts", "50", "--timeout-seconds", "5")
        assert "Heavy Clashes with ISIS" in tail

        for name in ("poller", "processor", "alerter"):
            assert await pipe.terminate(name) == 0, pipe.log(name)
        await pipe.unwatch(f"e2e {run}", feed.url)
    finally:
        pipe.stop_all()
        await feed.stop()
        await receiver.stop()


async def test_run_all_shows_an_alert_from_the_sample_feed(kafka_bootstrap: str, tmp_path: Path) -> None:
    """What `make run` promises: the bundled sample feed yields an alert that `newswatch tail` prints."""
    run = uuid.uuid4().hex[:10]
    feed = FeedServer()
    # The sample feed with fresh GUIDs, so that earlier runs on the same broker do not hide its alerts.
    feed.raw = SAMPLE_FEED.read_text().replace("newswatch-sample-", f"sample-{run}-").encode()
    await feed.start()
    pipe = Pipeline(pipeline_env(kafka_bootstrap, tmp_path / "data"), tmp_path / "logs")
    try:
        await pipe.cli("feeds", "add", feed.url, "--interval", "5")
        listed = [json.loads(line) for line in (await pipe.cli("feeds", "list", "--json")).splitlines()]
        feed_id = next(f["feed_id"] for f in listed if f.get("url") == feed.url)
        await consumers_start_at_end(pipe.env)
        started = time.monotonic()
        pipe.start("all", "run", "all")
        titles: set[str] = set()
        while not titles >= SAMPLE_MATCHING and time.monotonic() - started < 90:
            tail = await pipe.cli("tail", "-n", "1000", "--json", "--timeout-seconds", "2")
            docs = [json.loads(line) for line in tail.splitlines() if line.strip()]
            titles = {str(d["title"]) for d in docs if d.get("feed_id") == feed_id}
        assert titles >= SAMPLE_MATCHING, f"sample alerts missing after 90 s: {titles}\n{pipe.log('all')}"
        assert "Summer chart hit tops streaming lists" not in titles  # the song is not the town of Hit
        assert await pipe.terminate("all", timeout_seconds=90) == 0, pipe.log("all")
        await pipe.cli("feeds", "remove", feed_id)
    finally:
        pipe.stop_all()
        await feed.stop()

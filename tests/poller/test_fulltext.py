"""Full text for summary-only feeds: selection rules (fake fetcher) and real pages over loopback HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from newswatch.errors import FetchError
from newswatch.poller import fulltext
from newswatch.poller.fetcher import Fetcher, FetchResult, HttpFetcher, Validators
from newswatch.poller.fulltext import PAGE_ACCEPT, TEASER_MAX_CHARS, FullText, needs_page, newest_first
from newswatch.poller.metrics import FULLTEXT_OUTCOMES, PollerMetrics
from newswatch.settings import Settings
from newswatch.v1.article_pb2 import Article
from newswatch.v1.feed_pb2 import Feed

from .conftest import ServeFn
from .fakes import FakeFetcher

SUMMARY = "Syrian troops entered Palmyra on Sunday, state media said."
NAV = "Home World Middle East Economy Opinion Subscribe to our newsletter"
FOOTER = "Copyright 2026 Desert Herald Media. All rights reserved. Privacy policy. Cookie settings."
PARAGRAPHS = [
    "Syrian government forces backed by Russian air strikes re-entered the ancient city of Palmyra on "
    "Sunday, ten months after Islamic State fighters seized the UNESCO World Heritage site.",
    "Army engineers began clearing mines from the streets around the Roman theatre, where the group had "
    "staged executions, a military source told reporters in the nearby town of Tadmur.",
    "Archaeologists said the Temple of Bel and the Arch of Triumph had been destroyed, but that much of "
    "the colonnade and the museum's heavier statues appeared to have survived the occupation.",
    "The recapture opens the road east towards Deir ez-Zor and the Euphrates valley, where the militants "
    "still hold a string of towns stretching to the Iraqi border near Al-Qaim and Hit.",
]


def article_page(title: str, paragraphs: list[str]) -> str:
    """A news page as sites build them: header navigation, sidebar, the article, related links, footer."""
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} | Desert Herald</title>
<script>window.dataLayer = [{{"page": "article"}}];</script><style>body {{ font: 16px serif }}</style>
</head><body>
<header><nav class="menu"><ul>{"".join(f'<li><a href="/{w.lower()}">{w}</a></li>' for w in NAV.split())}</ul>
</nav></header>
<aside class="sidebar"><h3>Most read</h3><ul><li><a href="/a">Markets slide as oil prices climb</a></li>
<li><a href="/b">Ten recipes for a quick weeknight dinner</a></li></ul></aside>
<main><article><h1>{title}</h1><p class="byline">By Staff Reporter, 27 March 2026</p>
{body}
</article>
<section class="related"><h2>Related stories</h2><ul><li><a href="/c">Weather warning for the coast</a></li>
</ul></section></main>
<footer><p>{FOOTER}</p><a href="/terms">Terms of use</a></footer>
</body></html>"""


PALMYRA_PAGE = article_page("Syrian army retakes Palmyra", PARAGRAPHS)
NAV_ONLY_PAGE = "<!DOCTYPE html><html><body><nav><a href='/'>Home</a></nav><footer>(c)</footer></body></html>"


def article(
    n: int, *, url: str, content: str = "", summary: str = SUMMARY, published: int | None = 0
) -> Article:
    a = Article(
        article_id=f"a{n}", feed_id="f1", url=url, title=f"Story {n}", summary=summary, content=content
    )
    a.content_sha256 = hashlib.sha256(f"{a.title}{a.summary}{a.content}".encode()).hexdigest()
    if published is not None:
        a.published_at.FromSeconds(1_770_000_000 + published)
    return a


def full_text_feed(on: bool = True) -> Feed:
    return Feed(feed_id="f1", url="https://news.example/rss", full_text=on)


def html(
    url: str, body: str = PALMYRA_PAGE, content_type: str | None = "text/html; charset=utf-8"
) -> FetchResult:
    data = body.encode()
    return FetchResult(url, url, 200, data, False, Validators(), content_type, len(data))


@pytest.fixture
def metrics() -> PollerMetrics:
    return PollerMetrics(CollectorRegistry())


def counts(metrics: PollerMetrics) -> dict[str, float]:
    """Non-zero page outcomes."""
    values = {o: metrics.fulltext_pages.labels(outcome=o)._value.get() for o in FULLTEXT_OUTCOMES}
    return {o: v for o, v in values.items() if v}


def make(
    fetcher: Fetcher,
    metrics: PollerMetrics,
    cap: int = 20,
    *,
    allow_private_networks: bool = True,
    budget_seconds: float = fulltext.BUDGET_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> FullText:
    return FullText(
        fetcher,
        metrics,
        max_pages_per_check=cap,
        allow_private_networks=allow_private_networks,
        budget_seconds=budget_seconds,
        clock=clock,
    )


# ---------------------------------------------------------------- rules


@pytest.mark.parametrize(
    ("name", "url", "content", "summary", "wanted"),
    [
        ("no content", "https://n.example/1", "", SUMMARY, True),
        ("no content, no summary", "https://n.example/1", "", "", True),
        ("content equal to summary", "https://n.example/1", SUMMARY, SUMMARY, True),
        ("short teaser longer than summary", "https://n.example/1", SUMMARY + " Read more…", SUMMARY, True),
        ("teaser at the limit", "https://n.example/1", "x" * TEASER_MAX_CHARS, "", True),
        ("full content", "https://n.example/1", "x" * (TEASER_MAX_CHARS + 1), SUMMARY, False),
        ("content shorter than a long summary", "https://n.example/1", "y" * 600, "z" * 900, True),
        ("no URL", "", "", SUMMARY, False),
        ("blank URL", "   ", "", SUMMARY, False),
    ],
)
def test_needs_page(name: str, url: str, content: str, summary: str, wanted: bool) -> None:
    assert needs_page(article(1, url=url, content=content, summary=summary)) is wanted, name


def test_newest_first_then_undated_in_feed_order() -> None:
    items = [
        article(1, url="u1", published=10),
        article(2, url="u2", published=None),
        article(3, url="u3", published=30),
        article(4, url="u4", published=None),
        article(5, url="u5", published=20),
    ]
    assert [a.article_id for a in newest_first(items)] == ["a3", "a5", "a1", "a2", "a4"]


async def test_feed_without_full_text_is_untouched(metrics: PollerMetrics) -> None:
    fetcher = FakeFetcher()
    items = [article(1, url="https://n.example/1")]
    before = [a.SerializeToString() for a in items]
    await make(fetcher, metrics).complete(full_text_feed(on=False), items)
    assert fetcher.calls == []
    assert [a.SerializeToString() for a in items] == before
    assert counts(metrics) == {}


async def test_ok_fills_content_and_keeps_the_hash(metrics: PollerMetrics) -> None:
    url = "https://n.example/palmyra?utm_source=rss"
    fetcher = FakeFetcher(html(url))
    item = article(1, url=url)
    sha, summary = item.content_sha256, item.summary
    await make(fetcher, metrics).complete(full_text_feed(), [item])
    assert fetcher.calls == [(url, None)] and fetcher.accepts == [PAGE_ACCEPT]
    assert "ancient city of Palmyra" in item.content and "Al-Qaim and Hit" in item.content
    assert (item.content_sha256, item.summary) == (sha, summary)
    assert counts(metrics) == {"ok": 1}
    assert metrics.fulltext_extract_duration._sum.get() > 0


async def test_cap_takes_the_newest_and_counts_the_rest_over_cap(metrics: PollerMetrics) -> None:
    items = [article(n, url=f"https://n.example/{n}", published=n) for n in range(5)]
    fetcher = FakeFetcher(html("https://n.example/4"), html("https://n.example/3"))
    await make(fetcher, metrics, cap=2).complete(full_text_feed(), items)
    assert [url for url, _ in fetcher.calls] == ["https://n.example/4", "https://n.example/3"]
    assert [bool(a.content) for a in items] == [False, False, False, True, True]
    assert counts(metrics) == {"ok": 2, "over_cap": 3}


async def test_zero_cap_fetches_nothing(metrics: PollerMetrics) -> None:
    fetcher = FakeFetcher()
    await make(fetcher, metrics, cap=0).complete(full_text_feed(), [article(1, url="https://n.example/1")])
    assert fetcher.calls == [] and counts(metrics) == {"over_cap": 1}


async def test_articles_with_full_content_are_not_fetched(metrics: PollerMetrics) -> None:
    fetcher = FakeFetcher()
    body = " ".join(PARAGRAPHS)
    item = article(1, url="https://n.example/1", content=body)
    await make(fetcher, metrics).complete(full_text_feed(), [item])
    assert fetcher.calls == [] and item.content == body and counts(metrics) == {}


@pytest.mark.parametrize(
    ("name", "result", "outcome"),
    [
        (
            "http error",
            FetchError("HTTP 404", outcome="http_error", retriable=False, status=404),
            "fetch_failed",
        ),
        ("too large", FetchError("body larger", outcome="too_large", retriable=False), "fetch_failed"),
        ("pdf", html("https://n.example/1", "%PDF-1.7", "application/pdf"), "not_html"),
        ("json", html("https://n.example/1", '{"a": 1}', "application/json"), "not_html"),
        ("no type, not html", html("https://n.example/1", "plain words", None), "not_html"),
        ("no type, html", html("https://n.example/1", PALMYRA_PAGE, None), "ok"),
        ("xhtml", html("https://n.example/1", PALMYRA_PAGE, "application/xhtml+xml"), "ok"),
        ("navigation only", html("https://n.example/1", NAV_ONLY_PAGE), "no_text"),
        ("shorter than the feed", html("https://n.example/1", article_page("T", ["Palmyra."])), "no_text"),
    ],
)
async def test_outcomes(
    name: str, result: FetchResult | FetchError, outcome: str, metrics: PollerMetrics
) -> None:
    item = article(1, url="https://n.example/1", content=SUMMARY + " More.")
    before = item.content
    await make(FakeFetcher(result), metrics).complete(full_text_feed(), [item])
    assert counts(metrics) == {outcome: 1}, name
    assert (item.content != before) is (outcome == "ok"), name


@pytest.mark.parametrize(
    ("name", "url", "allow_private"),
    [
        ("file scheme", "file:///etc/passwd", True),
        ("javascript", "javascript:alert(1)", True),
        ("credentials", "https://user:secret@n.example/1", True),
        ("private address", "http://10.1.2.3/story", False),
        ("cloud metadata", "http://169.254.169.254/latest/meta-data/", False),
        ("not a URL", "http://[::1/", True),
    ],
)
async def test_refused_urls_are_never_requested(
    name: str, url: str, allow_private: bool, metrics: PollerMetrics
) -> None:
    fetcher = FakeFetcher()
    item = article(1, url=url)
    await make(fetcher, metrics, allow_private_networks=allow_private).complete(full_text_feed(), [item])
    assert fetcher.calls == [], name
    assert counts(metrics) == {"fetch_failed": 1} and item.content == "", name


async def test_a_host_that_times_out_is_not_asked_again_in_this_check(metrics: PollerMetrics) -> None:
    items = [
        article(1, url="https://slow.example/1", published=3),
        article(2, url="https://slow.example/2", published=2),
        article(3, url="https://fast.example/3", published=1),
    ]
    fetcher = FakeFetcher(FetchError("no answer", outcome="timeout"), html("https://fast.example/3"))
    await make(fetcher, metrics).complete(full_text_feed(), items)
    assert [url for url, _ in fetcher.calls] == ["https://slow.example/1", "https://fast.example/3"]
    assert counts(metrics) == {"fetch_failed": 2, "ok": 1}


async def test_time_budget_turns_the_rest_over_cap(metrics: PollerMetrics) -> None:
    now = [0.0]

    def clock() -> float:
        now[0] += 10.0  # every look at the clock costs ten seconds
        return now[0]

    items = [article(n, url=f"https://n.example/{n}", published=-n) for n in range(4)]
    fetcher = FakeFetcher(html("https://n.example/0"), html("https://n.example/1"))
    await make(fetcher, metrics, budget_seconds=25.0, clock=clock).complete(full_text_feed(), items)
    assert len(fetcher.calls) == 2
    assert counts(metrics) == {"ok": 2, "over_cap": 2}


async def test_an_extractor_crash_counts_no_text(
    metrics: PollerMetrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(body: bytes, content_type: str | None) -> str:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(fulltext, "_page_text", explode)
    item = article(1, url="https://n.example/1")
    await make(FakeFetcher(html("https://n.example/1")), metrics).complete(full_text_feed(), [item])
    assert counts(metrics) == {"no_text": 1} and item.content == ""


async def test_an_unexpected_fetcher_error_is_counted_not_raised(metrics: PollerMetrics) -> None:
    class Broken(FakeFetcher):
        async def fetch(
            self, url: str, validators: Validators | None = None, *, accept: str = ""
        ) -> FetchResult:
            raise RuntimeError("bug")

    items = [article(n, url=f"https://n.example/{n}") for n in range(2)]
    await make(Broken(), metrics).complete(full_text_feed(), items)
    assert counts(metrics) == {"fetch_failed": 2}


async def test_cancellation_propagates(metrics: PollerMetrics) -> None:
    started = asyncio.Event()

    class Hanging(FakeFetcher):
        async def fetch(
            self, url: str, validators: Validators | None = None, *, accept: str = ""
        ) -> FetchResult:
            started.set()
            await asyncio.sleep(3600)
            raise AssertionError("not reached")

    task = asyncio.create_task(
        make(Hanging(), metrics).complete(full_text_feed(), [article(1, url="https://n.example/1")])
    )
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert counts(metrics) == {}


# ---------------------------------------------------------------- real HTTP on loopback


class Site:
    """Article pages on a loopback server; records every request's path and Accept header."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        latin1 = article_page(
            "Palmyre reprise",
            [
                "L'armée syrienne est entrée à Palmyre, où l'État islamique "
                "avait détruit le temple de Bel. " * 4
            ],
        )
        self.pages: dict[str, tuple[bytes, str]] = {
            "/2026/03/palmyra": (PALMYRA_PAGE.encode(), "text/html; charset=utf-8"),
            "/fr/palmyre": (
                latin1.replace('charset="utf-8"', "").encode("latin-1"),
                "text/html; charset=iso-8859-1",
            ),
            "/data.json": (b'{"headline": "Palmyra"}', "application/json"),
            "/huge": (article_page("Huge", ["Palmyra " * 20_000]).encode(), "text/html"),
        }

    def app(self) -> web.Application:
        async def handle(request: web.Request) -> web.Response:
            self.requests.append((request.path, request.headers.get("Accept", "")))
            if request.path not in self.pages:
                return web.Response(
                    status=404, text="<html><body>Not found</body></html>", content_type="text/html"
                )
            body, content_type = self.pages[request.path]
            return web.Response(body=body, headers={"Content-Type": content_type})

        app = web.Application()
        app.router.add_get("/{tail:.*}", handle)
        return app


@pytest.fixture
async def site(serve: ServeFn) -> tuple[Site, str]:
    s = Site()
    return s, await serve(s.app())


@pytest.fixture
async def http_fetcher(unit_settings: Settings) -> AsyncIterator[HttpFetcher]:
    fetcher = HttpFetcher(unit_settings)
    yield fetcher
    await fetcher.close()


async def test_real_pages_over_http(
    site: tuple[Site, str], http_fetcher: HttpFetcher, metrics: PollerMetrics
) -> None:
    server, base = site
    host = base.removeprefix("http://")
    items = {
        "palmyra": article(1, url=base + "/2026/03/palmyra?ref=rss#top", published=9),
        "palmyre": article(2, url=base + "/fr/palmyre", published=8),
        "json": article(3, url=base + "/data.json", published=7),
        "missing": article(4, url=base + "/gone", published=6),
        "huge": article(5, url=base + "/huge", published=5),
        "credentials": article(6, url=f"http://editor:hunter2@{host}/2026/03/palmyra", published=4),
        "over cap": article(7, url=base + "/2026/03/palmyra", published=3),
    }
    hashes = {k: a.content_sha256 for k, a in items.items()}
    await make(http_fetcher, metrics, cap=6).complete(full_text_feed(), list(items.values()))

    text = items["palmyra"].content
    assert all(p in text for p in PARAGRAPHS)
    for boilerplate in (
        "Subscribe to our newsletter",
        "All rights reserved",
        "Most read",
        "Related stories",
        "Terms of use",
        "dataLayer",
        "font:",
    ):
        assert boilerplate not in text, boilerplate
    assert "l'État islamique avait détruit le temple de Bel" in items["palmyre"].content
    for key in ("json", "missing", "huge", "credentials", "over cap"):
        assert items[key].content == "", key
    assert {k: a.content_sha256 for k, a in items.items()} == hashes
    assert counts(metrics) == {"ok": 2, "not_html": 1, "fetch_failed": 3, "over_cap": 1}
    paths = [path for path, _ in server.requests]
    assert paths == ["/2026/03/palmyra", "/fr/palmyre", "/data.json", "/gone", "/huge"]  # newest first
    assert {accept for _, accept in server.requests} == {PAGE_ACCEPT}


async def test_private_pages_refused_before_any_request(
    site: tuple[Site, str], http_fetcher: HttpFetcher, metrics: PollerMetrics
) -> None:
    server, base = site
    item = article(1, url=base + "/2026/03/palmyra")
    await make(http_fetcher, metrics, allow_private_networks=False).complete(full_text_feed(), [item])
    assert server.requests == [] and item.content == ""
    assert counts(metrics) == {"fetch_failed": 1}


async def test_feed_without_full_text_makes_no_request(
    site: tuple[Site, str], http_fetcher: HttpFetcher, metrics: PollerMetrics
) -> None:
    server, base = site
    item = article(1, url=base + "/2026/03/palmyra")
    await make(http_fetcher, metrics).complete(full_text_feed(on=False), [item])
    assert server.requests == [] and item.content == "" and counts(metrics) == {}


async def test_feed_fetches_still_ask_for_feeds(site: tuple[Site, str], http_fetcher: HttpFetcher) -> None:
    server, base = site
    await http_fetcher.fetch(base + "/2026/03/palmyra")
    assert server.requests[0][1].startswith("application/rss+xml")

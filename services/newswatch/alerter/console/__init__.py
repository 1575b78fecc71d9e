"""The ops console served beside the alerter's HTTP API (same aiohttp app, same port, same token).

- :mod:`~newswatch.alerter.console.static`: the page itself — checked-in HTML, CSS and JavaScript
  modules under ``static/`` (no build step), served under ``/console/`` without a token (they hold no
  data), with a strict Content-Security-Policy on every response of the app.
- :mod:`~newswatch.alerter.console.routes`: the data the page needs beyond the subscriptions API —
  ``GET /v1/feeds``, ``GET /v1/alerts/recent``, ``GET /v1/alerts/{id}`` — behind the bearer token.
- :mod:`~newswatch.alerter.console.articles`: an alert's article text, looked up on
  ``newswatch.articles.enriched.v1`` by key and time, bounded in records read and in time.
- :mod:`~newswatch.alerter.console.documents`: the JSON shapes of feeds, articles and duplicates.
"""

from __future__ import annotations

from newswatch.alerter.console.articles import ArticleLookup, ArticleSource
from newswatch.alerter.console.routes import ConsoleRoutes
from newswatch.alerter.console.static import ConsoleFiles, security_headers

__all__ = ["ArticleLookup", "ArticleSource", "ConsoleFiles", "ConsoleRoutes", "security_headers"]

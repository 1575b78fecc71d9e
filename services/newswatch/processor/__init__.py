"""The processor: raw articles → enriched articles + alerts, driven by watch lists.

Modules, one step each: ``normalize`` (folding, boilerplate), ``keywords`` (the Matcher), ``places``
and ``regions`` (gazetteer, country → region), ``enrich`` (pure Article → EnrichedArticle → Alerts),
``dedupe`` (seen ids, exact copies), ``watchlist`` (watch lists as data), ``agents`` (one message in,
outputs out), ``app`` (the Faust app and :func:`~newswatch.processor.app.run_worker`), ``metrics``.
"""

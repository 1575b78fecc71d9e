"""Alert filters given in a query string (``/v1/alerts/stream``, ``/v1/alerts/recent``).

``watchlist``, ``term``, ``region``, ``country``, ``language`` (each repeatable or comma-separated) and
``min_score`` become a subscription's filters, checked like a subscription's (unknown regions, too many
values, ... are 400 :class:`~newswatch.alerter.apihttp.ApiError` naming the query parameter), so that
:func:`~newswatch.alerter.matching.matches` decides which alerts pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from newswatch.alerter.apihttp import ApiError
from newswatch.alerter.subscriptions import InvalidSubscriptionError, normalised
from newswatch.v1.subscription_pb2 import ConsoleChannel, Subscription

__all__ = ["FILTER_QUERY", "STREAM_PARAMETERS", "alert_filter"]

# Query parameter → the subscription filter it sets.
STREAM_PARAMETERS = {
    "watchlist": "watchlists",
    "term": "terms",
    "region": "regions",
    "country": "countries",
    "language": "languages",
}
FILTER_QUERY = (*STREAM_PARAMETERS, "min_score")


def alert_filter(
    query: Mapping[str, str], pairs: Iterable[tuple[str, str]], other: tuple[str, ...] = ()
) -> Subscription:
    """The filters of a query as a checked subscription; raises ApiError(400).

    ``pairs`` are every (name, value) of the query (names repeat); ``query`` the first value of each;
    ``other`` the route's own parameters (allowed, not read here).
    """
    known = (*FILTER_QUERY, *other)
    draft = Subscription(subscription_id="stream", name="stream", enabled=True, console=ConsoleChannel())
    for name, value in pairs:
        if name not in known:
            raise ApiError(
                400,
                "unknown_field",
                f"unknown query parameter {name[:50]!r}; known: {', '.join(known)}",
                name[:50],
            )
        if name in STREAM_PARAMETERS:
            getattr(draft, STREAM_PARAMETERS[name]).extend(v for v in value.split(",") if v.strip())
    if "min_score" in query:
        try:
            draft.min_score = float(query["min_score"])
        except ValueError:
            raise ApiError(400, "invalid_type", "min_score must be a number", "min_score") from None
    try:
        return normalised(draft, allow_private=False)
    except InvalidSubscriptionError as exc:
        fields = {v: k for k, v in STREAM_PARAMETERS.items()}
        field = fields.get(exc.field or "", exc.field)
        raise ApiError(400, exc.code, str(exc).replace(exc.field or "\0", field or ""), field) from None

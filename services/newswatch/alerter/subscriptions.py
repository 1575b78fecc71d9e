"""Subscriptions: who receives which alerts, kept on the compacted topic ``newswatch.subscriptions.v1``.

The key is the subscription id; an empty value (tombstone) removes the subscription. The value is the
protobuf :class:`Subscription` (``newswatch/v1/subscription.proto``), re-exported here.

Filters (:func:`matches`): an empty filter matches everything; a non-empty one must match at least one of
the alert's values. Comparisons ignore case and surrounding whitespace. Watch lists match by id or by
name, terms by ``term_id`` or ``term_label`` of any of the alert's matches, languages by primary subtag
too (``fr`` matches ``fr-CA``). ``min_score`` is inclusive. A disabled subscription never matches.

Secrets are generated here, written to Kafka, and never returned by :func:`list_subscriptions`.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable

from newswatch import kafka, netguard
from newswatch.alerter import signing
from newswatch.contracts import timestamp
from newswatch.errors import NewswatchError, UnsafeURLError
from newswatch.settings import Settings
from newswatch.topics import SUBSCRIPTIONS
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.subscription_pb2 import ConsoleChannel, Subscription, WebhookChannel

__all__ = [
    "REDACTED",
    "InvalidSubscriptionError",
    "Subscription",
    "add_subscription",
    "channel_of",
    "list_subscriptions",
    "matches",
    "new_subscription",
    "redacted",
    "remove_subscription",
]

REDACTED = "[redacted]"
_MAX_NAME_CHARS = 200
_MAX_FILTER_VALUES = 500


class InvalidSubscriptionError(NewswatchError):
    """A subscription that cannot be stored: bad name, channel, URL, secret or filter (not retriable)."""


def _clean(values: Iterable[str], *, upper: bool = False) -> list[str]:
    out: list[str] = []
    for raw in values:
        value = raw.strip()
        value = value.upper() if upper else value
        if value and value not in out:
            out.append(value)
    if len(out) > _MAX_FILTER_VALUES:
        raise InvalidSubscriptionError(f"a filter may list at most {_MAX_FILTER_VALUES} values")
    return out


def new_subscription(
    name: str,
    *,
    webhook_url: str | None = None,
    console: bool = False,
    secret: str | None = None,
    watchlists: Iterable[str] = (),
    terms: Iterable[str] = (),
    regions: Iterable[str] = (),
    countries: Iterable[str] = (),
    languages: Iterable[str] = (),
    min_score: float = 0.0,
    allow_private: bool,
) -> Subscription:
    """A validated, enabled subscription with a fresh id (and a fresh secret for webhooks).

    Exactly one channel: ``webhook_url`` or ``console=True``. The URL is checked with
    :func:`newswatch.netguard.check_url`. Raises :class:`InvalidSubscriptionError`.
    """
    clean_name = name.strip()
    if not clean_name or len(clean_name) > _MAX_NAME_CHARS:
        raise InvalidSubscriptionError(f"name must be 1-{_MAX_NAME_CHARS} characters")
    if (webhook_url is not None) == console:
        raise InvalidSubscriptionError("choose exactly one channel: a webhook URL or the console")
    if not math.isfinite(min_score) or min_score < 0:
        raise InvalidSubscriptionError(f"min_score must be a number >= 0, got {min_score!r}")
    if secret is not None and webhook_url is None:
        raise InvalidSubscriptionError("a secret only applies to webhook subscriptions")
    sub = Subscription(
        subscription_id=uuid.uuid4().hex,
        name=clean_name,
        enabled=True,
        watchlists=_clean(watchlists),
        terms=_clean(terms),
        regions=_clean(regions),
        countries=_clean(countries, upper=True),
        languages=_clean(languages),
        min_score=min_score,
        created_at=timestamp(),
    )
    if webhook_url is not None:
        try:
            url = netguard.check_url(webhook_url, allow_private)
        except UnsafeURLError as exc:
            raise InvalidSubscriptionError(f"webhook URL refused: {exc}") from None
        chosen = secret if secret is not None else signing.generate_secret()
        try:
            signing.validate_secret(chosen)
        except signing.InvalidSecretError as exc:
            raise InvalidSubscriptionError(str(exc)) from None
        sub.webhook.CopyFrom(WebhookChannel(url=str(url), secret=chosen))
    else:
        sub.console.CopyFrom(ConsoleChannel())
    return sub


def channel_of(sub: Subscription) -> str | None:
    """``"webhook"``, ``"console"`` or None when the subscription names no channel."""
    return sub.WhichOneof("channel")


def redacted(sub: Subscription) -> Subscription:
    """A copy whose webhook secret reads :data:`REDACTED`."""
    copy = Subscription()
    copy.CopyFrom(sub)
    if copy.HasField("webhook") and copy.webhook.secret:
        copy.webhook.secret = REDACTED
    return copy


def _check_storable(sub: Subscription) -> None:
    if not sub.subscription_id:
        raise InvalidSubscriptionError("subscription_id is empty")
    channel = channel_of(sub)
    if channel is None:
        raise InvalidSubscriptionError("subscription has no channel")
    if channel == "webhook":
        if sub.webhook.secret == REDACTED:
            raise InvalidSubscriptionError("refusing to store a redacted secret")
        try:
            signing.validate_secret(sub.webhook.secret)
        except signing.InvalidSecretError as exc:
            raise InvalidSubscriptionError(str(exc)) from None


async def _put(settings: Settings, key: str, sub: Subscription | None) -> None:
    await kafka.ensure_topics(settings, [SUBSCRIPTIONS])
    producer = kafka.make_producer(settings, "subscriptions")
    await producer.start()
    try:
        fut = await kafka.publish(producer, SUBSCRIPTIONS, key, sub)
        await fut
    finally:
        await producer.stop()


async def add_subscription(settings: Settings, sub: Subscription) -> None:
    """Store ``sub`` (replacing one with the same id). Returns once the broker has it."""
    _check_storable(sub)
    await _put(settings, sub.subscription_id, sub)


async def _current(settings: Settings) -> dict[str, Subscription]:
    await kafka.ensure_topics(settings, [SUBSCRIPTIONS])
    return await kafka.read_compacted(settings, SUBSCRIPTIONS, Subscription)


async def list_subscriptions(settings: Settings) -> list[Subscription]:
    """Every current subscription, oldest first, secrets replaced by :data:`REDACTED`."""
    subs = (await _current(settings)).values()
    ordered = sorted(subs, key=lambda s: (s.created_at.seconds, s.created_at.nanos, s.subscription_id))
    return [redacted(s) for s in ordered]


async def remove_subscription(settings: Settings, subscription_id: str) -> bool:
    """Tombstone ``subscription_id``; False when no such subscription exists."""
    if not subscription_id or subscription_id not in await _current(settings):
        return False
    await _put(settings, subscription_id, None)
    return True


def _folded(values: Iterable[str]) -> set[str]:
    return {v.strip().casefold() for v in values if v.strip()}


def _language_matches(wanted: set[str], language: str) -> bool:
    lang = language.strip().casefold().replace("_", "-")
    return lang in wanted or lang.split("-", 1)[0] in wanted


def matches(sub: Subscription, alert: Alert) -> bool:
    """True when ``alert`` passes every filter of an enabled ``sub`` (see the module docstring)."""
    if not sub.enabled:
        return False
    if alert.score < sub.min_score:
        return False
    if sub.watchlists and not _folded(sub.watchlists) & _folded([alert.watchlist_id, alert.watchlist_name]):
        return False
    if sub.terms:
        found = _folded(m.term_id for m in alert.matches) | _folded(m.term_label for m in alert.matches)
        if not _folded(sub.terms) & found:
            return False
    if sub.regions and not _folded(sub.regions) & _folded(alert.regions):
        return False
    if sub.countries and not _folded(sub.countries) & _folded(alert.countries):
        return False
    return not (sub.languages and not _language_matches(_folded(sub.languages), alert.language))

"""Subscriptions: who receives which alerts, kept on the compacted topic ``newswatch.subscriptions.v1``.

The key is the subscription id; an empty value (tombstone) removes the subscription. The value is the
protobuf :class:`Subscription` (``newswatch/v1/subscription.proto``), re-exported here.

Validation, one path for the CLI and the HTTP API: :func:`normalised` checks and cleans a subscription
without I/O (limits below, known region ids, ``http(s)`` webhook URL without credentials, a usable
secret) and :func:`validated` adds the DNS check of the webhook host (every address it resolves to must
be public unless ``NEWSWATCH_ALLOW_PRIVATE_NETWORKS``). :func:`add_subscription` stores only what
:func:`validated` returned. Errors are :class:`InvalidSubscriptionError` naming the offending field with
the API's JSON name (``name``, ``regions``, ``channel.url`` ...).

Filters (:func:`matches`): an empty filter matches everything; a non-empty one must match at least one of
the alert's values. Comparisons ignore case and surrounding whitespace. Watch lists match by id or by
name, terms by ``term_id`` or ``term_label`` of any of the alert's matches, languages by primary subtag
too (``fr`` matches ``fr-CA``). ``min_score`` is inclusive. A disabled subscription never matches.

Secrets are generated here, written to Kafka, and never returned by :func:`list_subscriptions`; error
messages never quote them.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterable

from newswatch import kafka, netguard
from newswatch.alerter import signing
from newswatch.contracts import timestamp
from newswatch.errors import NewswatchError, UnsafeURLError
from newswatch.processor.regions import default_regions
from newswatch.settings import Settings
from newswatch.topics import SUBSCRIPTIONS
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.subscription_pb2 import ConsoleChannel, Subscription, WebhookChannel

__all__ = [
    "FILTERS",
    "MAX_FILTER_VALUES",
    "MAX_NAME_CHARS",
    "MAX_VALUE_CHARS",
    "REDACTED",
    "InvalidSubscriptionError",
    "Subscription",
    "add_subscription",
    "channel_of",
    "list_subscriptions",
    "matches",
    "new_subscription",
    "normalised",
    "ordered",
    "redacted",
    "remove_subscription",
    "validated",
]

REDACTED = "[redacted]"
MAX_NAME_CHARS = 200
MAX_FILTER_VALUES = 100
MAX_VALUE_CHARS = 200
FILTERS = ("watchlists", "terms", "regions", "countries", "languages")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
# BCP 47-ish: a 2-3 letter primary language, then subtags of 1-8 letters or digits (fr, fr-CA, zh-Hant).
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


class InvalidSubscriptionError(NewswatchError):
    """A subscription that cannot be stored (not retriable, except a webhook host that did not resolve).

    ``field`` names the offending field as the HTTP API spells it, or is None; ``code`` is a stable
    machine-readable reason (``invalid_value``, ``unsafe_url``, ``unresolvable_url``, and for request
    bodies ``missing_field``, ``unknown_field``, ``invalid_type``).
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str = "invalid_value",
        retriable: bool | None = None,
    ) -> None:
        super().__init__(message, retriable=retriable)
        self.field = field
        self.code = code


def _language(tag: str) -> str:
    """Canonical case: ``fr``, ``fr-CA``, ``zh-Hant``."""
    primary, *rest = tag.replace("_", "-").split("-")
    subtags = [p.upper() if len(p) == 2 else p.title() if len(p) == 4 else p.lower() for p in rest]
    return "-".join([primary.lower(), *subtags])


def _clean(name: str, values: Iterable[str]) -> list[str]:
    out: list[str] = []
    for raw in values:
        value = raw.strip()
        if not value:
            continue
        if len(value) > MAX_VALUE_CHARS or not value.isprintable():
            raise InvalidSubscriptionError(
                f"{name}: each value must be 1-{MAX_VALUE_CHARS} printable characters", field=name
            )
        if name == "countries":
            value = value.upper()
            if not _COUNTRY.match(value):
                raise InvalidSubscriptionError(
                    f"countries: {value!r} is not an ISO 3166-1 alpha-2 code such as SY", field=name
                )
        elif name == "regions":
            value = value.lower()
            known = default_regions().regions
            if value not in known:
                raise InvalidSubscriptionError(
                    f"regions: unknown region {value!r}; known: {', '.join(sorted(known))}", field=name
                )
        elif name == "languages":
            if not _LANGUAGE.match(value.replace("_", "-")):
                raise InvalidSubscriptionError(
                    f"languages: {value!r} is not a language tag such as en, fr or fr-CA", field=name
                )
            value = _language(value)
        if value not in out:
            out.append(value)
    if len(out) > MAX_FILTER_VALUES:
        raise InvalidSubscriptionError(f"{name}: at most {MAX_FILTER_VALUES} values", field=name)
    return out


def normalised(sub: Subscription, *, allow_private: bool) -> Subscription:
    """A checked, cleaned copy of ``sub``; no I/O. Raises :class:`InvalidSubscriptionError`.

    Trims the name and filter values, drops empty and repeated values, upper-cases countries, lower-cases
    regions, writes languages in canonical case and stamps ``created_at`` when unset.
    """
    out = Subscription()
    out.CopyFrom(sub)
    if not _ID.match(out.subscription_id):
        raise InvalidSubscriptionError(
            "id must be 1-128 letters, digits or . _ : - and start with a letter or digit", field="id"
        )
    out.name = out.name.strip()
    if not out.name or len(out.name) > MAX_NAME_CHARS or not out.name.isprintable():
        raise InvalidSubscriptionError(f"name must be 1-{MAX_NAME_CHARS} printable characters", field="name")
    for name in FILTERS:
        cleaned = _clean(name, getattr(sub, name))
        del getattr(out, name)[:]
        getattr(out, name).extend(cleaned)
    if not math.isfinite(out.min_score) or out.min_score < 0:
        raise InvalidSubscriptionError(
            f"min_score must be a number >= 0, got {out.min_score!r}", field="min_score"
        )
    channel = channel_of(out)
    if channel is None:
        raise InvalidSubscriptionError("choose a channel: a webhook URL or the console", field="channel")
    if channel == "webhook":
        try:
            url = netguard.check_url(out.webhook.url, allow_private)
        except UnsafeURLError as exc:
            raise InvalidSubscriptionError(
                f"webhook URL refused: {exc}", field="channel.url", code="unsafe_url"
            ) from None
        out.webhook.url = str(url)
        if out.webhook.secret == REDACTED:
            raise InvalidSubscriptionError("refusing to store a redacted secret", field="channel.secret")
        try:
            signing.validate_secret(out.webhook.secret)
        except signing.InvalidSecretError as exc:
            raise InvalidSubscriptionError(str(exc), field="channel.secret") from None
    if not out.HasField("created_at"):
        out.created_at.CopyFrom(timestamp())
    return out


async def validated(sub: Subscription, *, allow_private: bool) -> Subscription:
    """:func:`normalised`, then the webhook host is resolved and every address it has must be allowed.

    A host that does not resolve raises a *retriable* :class:`InvalidSubscriptionError`.
    """
    out = normalised(sub, allow_private=allow_private)
    if out.HasField("webhook"):
        try:
            await netguard.resolve_and_check(out.webhook.url, allow_private)
        except UnsafeURLError as exc:
            raise InvalidSubscriptionError(
                f"webhook URL refused: {exc}",
                field="channel.url",
                code="unresolvable_url" if exc.retriable else "unsafe_url",
                retriable=exc.retriable,
            ) from None
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
    """A :func:`normalised`, enabled subscription with a fresh id (and a fresh secret for webhooks).

    Exactly one channel: ``webhook_url`` or ``console=True``. Raises :class:`InvalidSubscriptionError`.
    """
    if (webhook_url is not None) == console:
        raise InvalidSubscriptionError(
            "choose exactly one channel: a webhook URL or the console", field="channel"
        )
    if secret is not None and webhook_url is None:
        raise InvalidSubscriptionError(
            "a secret only applies to webhook subscriptions", field="channel.secret"
        )
    sub = Subscription(
        subscription_id=uuid.uuid4().hex,
        name=name,
        enabled=True,
        watchlists=list(watchlists),
        terms=list(terms),
        regions=list(regions),
        countries=list(countries),
        languages=list(languages),
        min_score=min_score,
    )
    if webhook_url is not None:
        chosen = secret if secret is not None else signing.generate_secret()
        sub.webhook.CopyFrom(WebhookChannel(url=webhook_url, secret=chosen))
    else:
        sub.console.CopyFrom(ConsoleChannel())
    return normalised(sub, allow_private=allow_private)


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


async def _put(settings: Settings, key: str, sub: Subscription | None) -> None:
    await kafka.ensure_topics(settings, [SUBSCRIPTIONS])
    producer = kafka.make_producer(settings, "subscriptions")
    await producer.start()
    try:
        fut = await kafka.publish(producer, SUBSCRIPTIONS, key, sub)
        await fut
    finally:
        await producer.stop()


async def add_subscription(settings: Settings, sub: Subscription) -> Subscription:
    """Store :func:`validated` ``sub`` (replacing one with the same id); returns what was stored, once the
    broker has it. Raises :class:`InvalidSubscriptionError`."""
    clean = await validated(sub, allow_private=settings.allow_private_networks)
    await _put(settings, clean.subscription_id, clean)
    return clean


async def _current(settings: Settings) -> dict[str, Subscription]:
    await kafka.ensure_topics(settings, [SUBSCRIPTIONS])
    return await kafka.read_compacted(settings, SUBSCRIPTIONS, Subscription)


def ordered(subs: Iterable[Subscription]) -> list[Subscription]:
    """Oldest first (``created_at``, then id)."""
    return sorted(subs, key=lambda s: (s.created_at.seconds, s.created_at.nanos, s.subscription_id))


async def list_subscriptions(settings: Settings) -> list[Subscription]:
    """Every current subscription, oldest first, secrets replaced by :data:`REDACTED`."""
    return [redacted(s) for s in ordered((await _current(settings)).values())]


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

"""Subscriptions: who receives which alerts, kept on the compacted topic ``newswatch.subscriptions.v1``.

The key is the subscription id; an empty value (tombstone) removes the subscription. The value is the
protobuf :class:`Subscription` (``newswatch/v1/subscription.proto``), re-exported here.

Validation, one path for the CLI and the HTTP API: :func:`normalised` checks and cleans a subscription
without I/O (limits below, known region ids, and the channel and delivery policy rules of
:mod:`~newswatch.alerter.validation`) and :func:`validated` adds the DNS check of a webhook or Slack
host (every address it resolves to must be public unless ``NEWSWATCH_ALLOW_PRIVATE_NETWORKS``).
:func:`add_subscription` stores only what :func:`validated` returned. Errors are
:class:`InvalidSubscriptionError` naming the offending field with the API's JSON name (``name``,
``regions``, ``channel.url`` ...).

Filters: :func:`~newswatch.alerter.matching.matches` (re-exported here).

Secrets (webhook secrets, Slack URLs) are generated or taken here, written to Kafka, and never returned
by :func:`list_subscriptions` (:func:`redacted`); error messages never quote them.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterable

from newswatch import kafka, netguard
from newswatch.alerter import signing
from newswatch.alerter.matching import matches
from newswatch.alerter.validation import (
    REDACTED,
    InvalidSubscriptionError,
    check_channel,
    check_policy,
    masked_url,
)
from newswatch.contracts import timestamp
from newswatch.errors import UnsafeURLError
from newswatch.processor.regions import default_regions
from newswatch.settings import Settings
from newswatch.topics import SUBSCRIPTIONS
from newswatch.v1.subscription_pb2 import (
    ConsoleChannel,
    EmailChannel,
    SlackChannel,
    StreamChannel,
    Subscription,
    WebhookChannel,
)

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
    "target_url",
    "validated",
]

MAX_NAME_CHARS = 200
MAX_FILTER_VALUES = 100
MAX_VALUE_CHARS = 200
FILTERS = ("watchlists", "terms", "regions", "countries", "languages")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
# BCP 47-ish: a 2-3 letter primary language, then subtags of 1-8 letters or digits (fr, fr-CA, zh-Hant).
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


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
    check_channel(out, allow_private=allow_private)
    check_policy(out)
    if not out.HasField("created_at"):
        out.created_at.CopyFrom(timestamp())
    return out


def target_url(sub: Subscription) -> str | None:
    """The URL the alerter posts to (webhook or Slack), or None for other channels."""
    if sub.HasField("webhook"):
        return sub.webhook.url
    if sub.HasField("slack"):
        return sub.slack.url
    return None


async def validated(sub: Subscription, *, allow_private: bool) -> Subscription:
    """:func:`normalised`, then a webhook or Slack host is resolved and every address it has must be
    allowed. A host that does not resolve raises a *retriable* :class:`InvalidSubscriptionError`."""
    out = normalised(sub, allow_private=allow_private)
    url = target_url(out)
    if url is not None:
        kind = "Slack" if out.HasField("slack") else "webhook"
        try:
            await netguard.resolve_and_check(url, allow_private)
        except UnsafeURLError as exc:
            raise InvalidSubscriptionError(
                f"{kind} URL refused: {exc}",
                field="channel.url",
                code="unresolvable_url" if exc.retriable else "unsafe_url",
                retriable=exc.retriable,
            ) from None
    return out


def new_subscription(
    name: str,
    *,
    webhook_url: str | None = None,
    slack_url: str | None = None,
    email_to: Iterable[str] = (),
    subject_prefix: str = "",
    console: bool = False,
    stream: bool = False,
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

    Exactly one channel: ``webhook_url``, ``slack_url``, ``email_to`` (non-empty), ``console=True`` or
    ``stream=True``. Delivery policy fields are set on the result by the caller, then checked again by
    :func:`validated`. Raises :class:`InvalidSubscriptionError`.
    """
    recipients = list(email_to)
    chosen = [webhook_url is not None, slack_url is not None, bool(recipients), console, stream]
    if sum(chosen) != 1:
        raise InvalidSubscriptionError(
            "choose exactly one channel: webhook, slack, email, console or stream", field="channel"
        )
    if secret is not None and webhook_url is None:
        raise InvalidSubscriptionError(
            "a secret only applies to webhook subscriptions", field="channel.secret"
        )
    if subject_prefix and not recipients:
        raise InvalidSubscriptionError(
            "a subject prefix only applies to email subscriptions", field="channel.subject_prefix"
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
        key = secret if secret is not None else signing.generate_secret()
        sub.webhook.CopyFrom(WebhookChannel(url=webhook_url, secret=key))
    elif slack_url is not None:
        sub.slack.CopyFrom(SlackChannel(url=slack_url))
    elif recipients:
        sub.email.CopyFrom(EmailChannel(to=recipients, subject_prefix=subject_prefix))
    elif stream:
        sub.stream.CopyFrom(StreamChannel())
    else:
        sub.console.CopyFrom(ConsoleChannel())
    return normalised(sub, allow_private=allow_private)


def channel_of(sub: Subscription) -> str | None:
    """``"webhook"``, ``"slack"``, ``"email"``, ``"console"``, ``"stream"`` or None (no channel)."""
    return sub.WhichOneof("channel")


def redacted(sub: Subscription) -> Subscription:
    """A copy whose webhook secret reads :data:`REDACTED` and whose Slack URL is masked."""
    copy = Subscription()
    copy.CopyFrom(sub)
    if copy.HasField("webhook") and copy.webhook.secret:
        copy.webhook.secret = REDACTED
    if copy.HasField("slack"):
        copy.slack.url = masked_url(copy.slack.url)
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

"""Checks of a subscription's channel and delivery policy (no I/O), shared by the CLI and the HTTP API.

Errors are :class:`InvalidSubscriptionError` naming the field as the API spells it (``channel.url``,
``channel.to``, ``quiet_hours.timezone`` ...) with a stable ``code``; messages never quote a secret
(webhook secrets, Slack URLs).

Channels:

- webhook: ``http(s)`` URL without credentials (:func:`newswatch.netguard.check_url`), a usable secret;
- slack: the same URL rules; the URL is a secret, shown only as :func:`masked_url`
  (``https://hooks.slack.com/…``), and a masked URL sent back is refused;
- email: 1-:data:`MAX_RECIPIENTS` recipients of plain ``local@domain`` form (:func:`check_address`: no
  display names, quotes, comments, spaces or line breaks — nothing that could reach another header), and a
  ``subject_prefix`` of at most :data:`MAX_PREFIX_CHARS` printable characters;
- console, stream: nothing to check.

Delivery policy (the alerter enforces it; here it is only checked): ``rate_limit_per_hour`` 0 (no limit)
to :data:`MAX_RATE_PER_HOUR`; ``digest`` with ``every_alerts`` (0, or 2-:data:`MAX_DIGEST_ALERTS`) and
``every_seconds`` (0, or :data:`MIN_DIGEST_SECONDS`-:data:`MAX_DIGEST_SECONDS`), not both 0;
``quiet_hours`` ``start`` and ``end`` as ``HH:MM`` (24 h, different) and ``timezone`` an IANA name known
to :mod:`zoneinfo` (empty = UTC); ``owner_email`` empty or an address.
"""

from __future__ import annotations

import re
import zoneinfo

from newswatch import netguard
from newswatch.alerter import signing
from newswatch.alerter.policies import parse_hhmm
from newswatch.errors import NewswatchError, UnsafeURLError
from newswatch.v1.subscription_pb2 import Subscription

__all__ = [
    "MASK",
    "MAX_DIGEST_ALERTS",
    "MAX_DIGEST_SECONDS",
    "MAX_PREFIX_CHARS",
    "MAX_RATE_PER_HOUR",
    "MAX_RECIPIENTS",
    "MIN_DIGEST_SECONDS",
    "REDACTED",
    "InvalidSubscriptionError",
    "check_address",
    "check_channel",
    "check_policy",
    "masked_url",
    "parse_quiet_hours",
]

REDACTED = "[redacted]"
MASK = "…"
MAX_RECIPIENTS = 20
MAX_PREFIX_CHARS = 50
MAX_RATE_PER_HOUR = 100_000
MAX_DIGEST_ALERTS = 1000
MIN_DIGEST_SECONDS = 10
MAX_DIGEST_SECONDS = 7 * 86400
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"^{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+$")


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


def check_address(address: str, field: str) -> str:
    """``address`` trimmed, when it is a plain ``local@domain`` address of at most 254 characters."""
    value = address.strip()
    local, _, domain = value.rpartition("@")
    if len(value) > 254 or len(local) > 64 or not _ADDRESS.match(value):
        shown = value[:60] if value.isprintable() else "(with control characters)"
        raise InvalidSubscriptionError(
            f"{field}: {shown!r} is not an email address such as ops@example.org", field=field
        )
    return f"{local}@{domain.lower()}"


def masked_url(url: str) -> str:
    """Scheme and host only, then :data:`MASK`: how a secret URL is shown."""
    try:
        parsed = netguard.check_url(url, allow_private=True)
    except UnsafeURLError:
        return MASK
    return f"{parsed.scheme}://{parsed.host}/{MASK}"


def _url(url: str, kind: str, allow_private: bool) -> str:
    if url.endswith(MASK):
        raise InvalidSubscriptionError(
            "refusing to store a masked URL: send the full URL", field="channel.url"
        )
    try:
        return str(netguard.check_url(url, allow_private))
    except UnsafeURLError as exc:
        raise InvalidSubscriptionError(
            f"{kind} URL refused: {exc}", field="channel.url", code="unsafe_url"
        ) from None


def check_channel(sub: Subscription, *, allow_private: bool) -> None:
    """Check and clean ``sub``'s channel in place (see the module docstring)."""
    kind = sub.WhichOneof("channel")
    if kind is None:
        raise InvalidSubscriptionError(
            "choose a channel: webhook, slack, email, console or stream", field="channel"
        )
    if kind == "webhook":
        sub.webhook.url = _url(sub.webhook.url, "webhook", allow_private)
        if sub.webhook.secret == REDACTED:
            raise InvalidSubscriptionError("refusing to store a redacted secret", field="channel.secret")
        try:
            signing.validate_secret(sub.webhook.secret)
        except signing.InvalidSecretError as exc:
            raise InvalidSubscriptionError(str(exc), field="channel.secret") from None
    elif kind == "slack":
        sub.slack.url = _url(sub.slack.url, "Slack", allow_private)
    elif kind == "email":
        recipients: list[str] = []
        for raw in sub.email.to:
            address = check_address(raw, "channel.to")
            if address not in recipients:
                recipients.append(address)
        if not 1 <= len(recipients) <= MAX_RECIPIENTS:
            raise InvalidSubscriptionError(
                f"channel.to: give 1-{MAX_RECIPIENTS} email addresses", field="channel.to"
            )
        del sub.email.to[:]
        sub.email.to.extend(recipients)
        prefix = sub.email.subject_prefix.strip()
        if len(prefix) > MAX_PREFIX_CHARS or not prefix.isprintable():
            raise InvalidSubscriptionError(
                f"channel.subject_prefix: at most {MAX_PREFIX_CHARS} printable characters (no line breaks)",
                field="channel.subject_prefix",
            )
        sub.email.subject_prefix = prefix


def _clock(value: str, field: str) -> int:
    parsed = parse_hhmm(value)
    if parsed is None:
        raise InvalidSubscriptionError(f"{field} must be a time HH:MM (24 h), e.g. 22:00", field=field)
    return parsed.hour * 60 + parsed.minute


def parse_quiet_hours(text: str) -> tuple[str, str]:
    """``"22:00-07:00"`` → ``("22:00", "07:00")``; raises InvalidSubscriptionError."""
    start, sep, end = text.partition("-")
    if not sep:
        raise InvalidSubscriptionError(
            f"quiet hours {text!r}: expected START-END such as 22:00-07:00", field="quiet_hours"
        )
    _clock(start, "quiet_hours.start")
    _clock(end, "quiet_hours.end")
    return start.strip(), end.strip()


def check_policy(sub: Subscription) -> None:
    """Check and clean ``sub``'s delivery policy in place (see the module docstring)."""
    if sub.rate_limit_per_hour > MAX_RATE_PER_HOUR:
        raise InvalidSubscriptionError(
            f"rate_limit_per_hour must be 0 (no limit) to {MAX_RATE_PER_HOUR}", field="rate_limit_per_hour"
        )
    if sub.HasField("digest"):
        alerts, seconds = sub.digest.every_alerts, sub.digest.every_seconds
        if not alerts and not seconds:
            raise InvalidSubscriptionError(
                "digest: give every_alerts, every_seconds or both (or no digest)", field="digest"
            )
        if alerts and not 2 <= alerts <= MAX_DIGEST_ALERTS:
            raise InvalidSubscriptionError(
                f"digest.every_alerts must be 0 (unused) or 2-{MAX_DIGEST_ALERTS}",
                field="digest.every_alerts",
            )
        if seconds and not MIN_DIGEST_SECONDS <= seconds <= MAX_DIGEST_SECONDS:
            raise InvalidSubscriptionError(
                f"digest.every_seconds must be 0 (unused) or {MIN_DIGEST_SECONDS}-{MAX_DIGEST_SECONDS}",
                field="digest.every_seconds",
            )
    if sub.HasField("quiet_hours"):
        quiet = sub.quiet_hours
        start = _clock(quiet.start, "quiet_hours.start")
        end = _clock(quiet.end, "quiet_hours.end")
        if start == end:
            raise InvalidSubscriptionError("quiet_hours: start and end must differ", field="quiet_hours.end")
        quiet.start, quiet.end = quiet.start.strip(), quiet.end.strip()
        quiet.timezone = quiet.timezone.strip()
        if quiet.timezone:
            try:
                if len(quiet.timezone) > 64:
                    raise ValueError("too long")
                zoneinfo.ZoneInfo(quiet.timezone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
                shown = quiet.timezone[:60] if quiet.timezone.isprintable() else "?"
                raise InvalidSubscriptionError(
                    f"quiet_hours.timezone: {shown!r} is not an IANA time zone such as Europe/Paris",
                    field="quiet_hours.timezone",
                ) from None
    if sub.owner_email.strip():
        sub.owner_email = check_address(sub.owner_email, "owner_email")
    else:
        sub.owner_email = ""

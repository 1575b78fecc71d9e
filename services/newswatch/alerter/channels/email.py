"""Email channel: one message per delivery over SMTP (``NEWSWATCH_SMTP_*``).

Message (:func:`build_message`): ``multipart/alternative`` with a plain-text part and an HTML part (every
value from the article escaped), ``From`` = ``smtp_from``, ``To`` = the subscription's recipients,
``Subject`` = ``subject_prefix`` (default ``[newswatch]``) + watch list + title with every control
character (CR, LF ...) replaced by a space — no header injection — and ``Message-ID``
``<{delivery_id}@{domain of smtp_from}>``: every attempt of one (alert, subscription) carries the same id,
so a redelivery is recognisable. ``X-Newswatch-Alert-Id`` names the alert. Several alerts delivered
together (:meth:`EmailChannel.deliver_digest`) are one message listing each.

Transport: :mod:`smtplib` in a worker thread (at most :data:`MAX_SESSIONS` at once), one session per
message: ``smtp_security`` ``tls`` (implicit TLS), ``starttls`` (refused when the server does not offer
it: never silently in clear) or ``none``; login when ``smtp_username`` is set. Every socket operation
times out after ``smtp_timeout_seconds``, and so does the whole delivery.

Outcome: accepted for at least one recipient = delivered (refused recipients are logged by count). SMTP
4xx replies, timeouts and connection errors are retriable; 5xx replies are final — except a refused login
or missing STARTTLS, which are the alerter's configuration, not the subscriber's, and are retried. With
no ``smtp_host`` every delivery fails retriably ("email is off"). The password is never logged.
"""

from __future__ import annotations

import asyncio
import html
import logging
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage

from newswatch.alerter.channels.base import DeliveryResult, alert_document
from newswatch.alerter.validation import InvalidSubscriptionError, check_address
from newswatch.errors import DeliveryError
from newswatch.settings import Settings
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.subscription_pb2 import Subscription

__all__ = ["DEFAULT_SUBJECT_PREFIX", "MAX_SESSIONS", "EmailChannel", "build_message", "one_line"]

log = logging.getLogger(__name__)

DEFAULT_SUBJECT_PREFIX = "[newswatch]"
MAX_SESSIONS = 8
_SUBJECT_CHARS = 200


def one_line(text: str) -> str:
    """``text`` with control characters (CR, LF, TAB ...) as spaces and runs of spaces collapsed."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _domain(address: str) -> str:
    return address.rpartition("@")[2] or "localhost"


def _rows(alert: Alert) -> list[tuple[str, str]]:
    doc = alert_document(alert)
    terms = sorted({m.term_label or m.term_id for m in alert.matches})
    places = sorted({p.name for p in alert.places if p.name})
    return [
        ("Watch list", alert.watchlist_name or alert.watchlist_id),
        ("Terms", ", ".join(terms) or "-"),
        ("Places", ", ".join(places) or "-"),
        ("Countries", ", ".join(alert.countries) or "-"),
        ("Regions", ", ".join(alert.regions) or "-"),
        ("Score", f"{alert.score:g}"),
        ("Published", doc["published_at"] or "-"),
        ("Alert", alert.alert_id),
    ]


def _text(alert: Alert) -> list[str]:
    title = alert.title.strip() or "(untitled)"
    lines = [one_line(title), alert.url, "", *(f"{k}: {one_line(v)}" for k, v in _rows(alert))]
    snippets = [m.snippet for m in alert.matches if m.snippet][:5]
    return lines + (["", *(f"> {one_line(s)}" for s in snippets)] if snippets else [])


def _html(alert: Alert) -> str:
    e = html.escape
    title = alert.title.strip() or "(untitled)"
    link = f'<a href="{e(alert.url)}">{e(title)}</a>' if alert.url else e(title)
    table = "".join(f"<tr><th align='left'>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _rows(alert))
    snippets = [m.snippet for m in alert.matches if m.snippet][:5]
    quotes = "".join(f"<blockquote>{e(snippet)}</blockquote>" for snippet in snippets)
    return f"<h2>{link}</h2><table>{table}</table>{quotes}"


def build_message(
    alerts: Alert | Sequence[Alert], subscription: Subscription, delivery_id: str, sender: str
) -> EmailMessage:
    """The email for one delivery of one alert, or of several delivered together (a digest)."""
    items = [alerts] if isinstance(alerts, Alert) else list(alerts)
    prefix = one_line(subscription.email.subject_prefix) or DEFAULT_SUBJECT_PREFIX
    first = items[0]
    title = first.title.strip() or "(untitled)"
    if len(items) == 1:
        subject = f"{prefix} {first.watchlist_name or first.watchlist_id}: {title}"
    else:
        subject = f"{prefix} {len(items)} alerts: {title} …"
    msg = EmailMessage()
    msg["Subject"] = one_line(subject)[:_SUBJECT_CHARS]
    msg["From"] = sender
    msg["To"] = ", ".join(subscription.email.to)
    msg["Message-ID"] = f"<{delivery_id}@{_domain(sender)}>"
    msg["X-Newswatch-Alert-Id"] = one_line(" ".join(a.alert_id for a in items))[:900]
    text: list[str] = []
    for alert in items:
        text += [*_text(alert), "", "-" * 20, ""] if len(items) > 1 else _text(alert)
    msg.set_content("\n".join(text) + "\n")
    body = "<hr>".join(_html(a) for a in items)
    msg.add_alternative(f"<!doctype html><html><body>{body}</body></html>\n", subtype="html")
    return msg


class EmailChannel:
    """Sends alerts by email. Safe to share between concurrent deliveries; ``close()`` is a no-op."""

    name = "email"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._sessions = asyncio.Semaphore(MAX_SESSIONS)
        # Loading the CA store costs milliseconds: once per channel, not once per message.
        self._tls = ssl.create_default_context() if settings.smtp_security in ("tls", "starttls") else None

    async def deliver(
        self, alert: Alert, subscription: Subscription, delivery_id: str, attempt: int
    ) -> DeliveryResult:
        """Send one message. Raises DeliveryError(retriable=...) (see the module docstring)."""
        self._check(subscription)
        msg = build_message(alert, subscription, delivery_id, self._settings.smtp_from)
        return await self._send_one(msg, list(subscription.email.to))

    async def deliver_digest(
        self, alerts: Sequence[Alert], subscription: Subscription, delivery_id: str, attempt: int
    ) -> DeliveryResult:
        """One message for several alerts; outcomes as :meth:`deliver`."""
        self._check(subscription)
        msg = build_message(alerts, subscription, delivery_id, self._settings.smtp_from)
        return await self._send_one(msg, list(subscription.email.to))

    async def _send_one(self, msg: EmailMessage, recipients: list[str]) -> DeliveryResult:
        settings = self._settings
        timeout = settings.smtp_timeout_seconds
        async with self._sessions:
            try:
                async with asyncio.timeout(timeout):
                    refused = await asyncio.to_thread(self._send, msg, recipients)
            except TimeoutError:
                raise DeliveryError(
                    f"SMTP server {settings.smtp_host} did not finish within {timeout:g}s", retriable=True
                ) from None
        if refused:
            log.warning(
                "some email recipients refused",
                extra={"message_id": str(msg["Message-ID"]), "refused_recipients": len(refused)},
            )
        return DeliveryResult()

    def _check(self, subscription: Subscription) -> None:
        if not self._settings.smtp_host:
            raise DeliveryError("email is off: set NEWSWATCH_SMTP_HOST on the alerter", retriable=True)
        if not subscription.email.to:
            raise DeliveryError("the subscription names no email recipient", retriable=False)
        try:  # checked when stored; checked again, since records on the topic are not trusted
            for address in subscription.email.to:
                check_address(address, "channel.to")
        except InvalidSubscriptionError as exc:
            raise DeliveryError(f"unusable recipient: {exc}", retriable=False) from None

    def _send(self, msg: EmailMessage, recipients: list[str]) -> dict[str, tuple[int, bytes]]:
        """Blocking: one SMTP session. Returns the refused recipients; raises DeliveryError."""
        s = self._settings
        host = s.smtp_host
        try:
            client: smtplib.SMTP
            if s.smtp_security == "tls":
                client = smtplib.SMTP_SSL(
                    host, s.smtp_port, timeout=s.smtp_timeout_seconds, context=self._tls
                )
            else:
                client = smtplib.SMTP(host, s.smtp_port, timeout=s.smtp_timeout_seconds)
            with client:
                if s.smtp_security == "starttls":
                    client.starttls(context=self._tls)
                if s.smtp_username:
                    client.login(s.smtp_username, s.smtp_password)
                return client.send_message(msg, from_addr=s.smtp_from, to_addrs=recipients)
        except smtplib.SMTPNotSupportedError:
            raise DeliveryError(
                f"SMTP server {host} does not offer STARTTLS (NEWSWATCH_SMTP_SECURITY=starttls)",
                retriable=True,
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"SMTP server {host} refused the login ({exc.smtp_code}): check NEWSWATCH_SMTP_USERNAME "
                "and NEWSWATCH_SMTP_PASSWORD",
                retriable=True,
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(
                f"SMTP server {host} refused every recipient (codes {sorted(set(codes))})",
                retriable=all(400 <= c < 500 for c in codes),
                status=max(codes, default=None),
            ) from None
        except smtplib.SMTPResponseException as exc:
            reply = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else ""
            raise DeliveryError(
                f"SMTP server {host} answered {exc.smtp_code}: {one_line(reply)[:200]}",
                retriable=not 500 <= exc.smtp_code < 600,
                status=exc.smtp_code,
            ) from None
        except (smtplib.SMTPException, OSError) as exc:  # disconnects, timeouts, refused connections, TLS
            raise DeliveryError(
                f"SMTP to {host} failed: {type(exc).__name__}: {exc}", retriable=True
            ) from None

    async def close(self) -> None:
        return None

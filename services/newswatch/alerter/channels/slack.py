"""Slack channel: a Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat).

Request: ``POST <subscription slack url>`` with ``content-type: application/json`` and the body of
:func:`slack_message`: ``{"text": <one-line fallback>, "blocks": [...]}`` — a header with the title, a
section with the link, watch list, matched terms, places, countries/regions and score, and a context line
with the alert id. Several alerts delivered together (:meth:`SlackChannel.deliver_digest`) are one message
listing the first :data:`DIGEST_MAX_LISTED` (a line each) and how many more. Text from articles is
escaped for Slack's mrkdwn (``&``, ``<``, ``>``), so an article cannot inject mentions (``<!channel>``)
or links.

Outcome, URL checks, redirect refusal, body cap and timeouts are those of the webhook channel
(:class:`~.httppost.GuardedPoster`). The URL itself is the secret: it is never logged, and messages name
its host only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from newswatch.alerter.channels.base import DeliveryResult
from newswatch.alerter.channels.httppost import GuardedPoster
from newswatch.settings import Settings
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.subscription_pb2 import Subscription

__all__ = ["DIGEST_MAX_LISTED", "SlackChannel", "escape", "slack_digest", "slack_message"]

DIGEST_MAX_LISTED = 20  # Slack shows at most 50 blocks

_HEADER_CHARS = 150  # Slack's limit for a header block's text
_FIELD_CHARS = 1900  # under the 2,000 of a section field


def escape(text: str) -> str:
    """``text`` safe inside Slack mrkdwn: the three control characters as entities, no line breaks."""
    cleaned = " ".join(text.split())
    return cleaned.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_message(alert: Alert) -> dict[str, Any]:
    """The incoming-webhook payload for ``alert`` (see the module docstring)."""
    title = alert.title.strip() or "(untitled)"
    watchlist = alert.watchlist_name or alert.watchlist_id
    terms = sorted({m.term_label or m.term_id for m in alert.matches})
    places = sorted({p.name for p in alert.places if p.name})
    where = [*alert.countries, *alert.regions]
    link = f"<{escape(alert.url).replace('|', '%7C')}|{escape(title).replace('|', '¦')}>" if alert.url else ""
    fields = [
        ("Watch list", escape(watchlist) or "-"),
        ("Score", f"{alert.score:g}"),
        ("Terms", escape(", ".join(terms)) or "-"),
        ("Places", escape(", ".join(places)) or "-"),
        ("Countries / regions", escape(", ".join(where)) or "-"),
    ]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(" ".join(title.split()), _HEADER_CHARS)},
        },
    ]
    if link:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(link, _FIELD_CHARS)}})
    blocks.append(
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": _cut(f"*{k}*\n{v}", _FIELD_CHARS)} for k, v in fields],
        }
    )
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"newswatch alert {escape(alert.alert_id)}"}],
        }
    )
    fallback = f"[{escape(watchlist)}] {escape(title)}"
    if terms:
        fallback += f" ({escape(', '.join(terms))})"
    if alert.url:
        fallback += f" {escape(alert.url)}"
    return {"text": _cut(fallback, 3000), "blocks": blocks}


def _line(alert: Alert) -> str:
    title = escape(alert.title.strip() or "(untitled)").replace("|", "¦")
    link = f"<{escape(alert.url).replace('|', '%7C')}|{title}>" if alert.url else title
    terms = ", ".join(sorted({m.term_label or m.term_id for m in alert.matches}))
    watchlist = escape(alert.watchlist_name or alert.watchlist_id)
    return _cut(f"{link}\n{watchlist} · {escape(terms) or '-'} · score {alert.score:g}", _FIELD_CHARS)


def slack_digest(alerts: Sequence[Alert]) -> dict[str, Any]:
    """One incoming-webhook payload for several alerts (see the module docstring)."""
    count = len(alerts)
    heading = f"newswatch: {count} alert{'s' if count != 1 else ''}"
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": heading}}]
    blocks += [
        {"type": "section", "text": {"type": "mrkdwn", "text": _line(a)}} for a in alerts[:DIGEST_MAX_LISTED]
    ]
    if count > DIGEST_MAX_LISTED:
        more = f"and {count - DIGEST_MAX_LISTED} more"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]})
    titles = "; ".join(escape(a.title.strip() or "(untitled)") for a in alerts[:5])
    return {"text": _cut(f"{heading}: {titles}", 3000), "blocks": blocks}


class SlackChannel:
    """Posts alerts to Slack-compatible incoming webhooks. One event loop; ``close()`` when done."""

    name = "slack"

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self._poster = GuardedPoster.for_alerter(settings, "Slack webhook", clock)

    async def deliver(
        self, alert: Alert, subscription: Subscription, delivery_id: str, attempt: int
    ) -> DeliveryResult:
        """POST the message once. Raises DeliveryError(retriable=...) as the webhook channel does."""
        return await self._post(subscription, slack_message(alert))

    async def deliver_digest(
        self, alerts: Sequence[Alert], subscription: Subscription, delivery_id: str, attempt: int
    ) -> DeliveryResult:
        """POST one message for several alerts; outcomes as :meth:`deliver`."""
        return await self._post(subscription, slack_digest(alerts))

    async def _post(self, subscription: Subscription, message: dict[str, Any]) -> DeliveryResult:
        body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        status = await self._poster.post(subscription.slack.url, body, {"content-type": "application/json"})
        return DeliveryResult(http_status=status)

    async def close(self) -> None:
        await self._poster.close()

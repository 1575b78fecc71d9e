"""Our own outages are not the feeds' fault: telling "this poller is offline" from "these feeds are down".

When the poller's network (or DNS) goes away, every feed fails at once with a network-level error. Those
failures must not back the feeds off, count against their health or reach the feeds topic as
``degraded`` / ``failing``. The rule (:func:`is_offline`, pure, table-tested) looks at the most recent
checks of this poller:

- only checks at most :attr:`OutageRule.window_seconds` old count, and at most the last
  :attr:`OutageRule.max_checks` of them;
- offline when there are at least :attr:`OutageRule.min_checks` such checks, at least
  :attr:`OutageRule.min_failure_ratio` of them failed with a network-level error (:data:`NETWORK_ERRORS`:
  ``connection_error``, ``timeout``), and those failures span at least :attr:`OutageRule.min_hosts`
  distinct host names (one dead host is that host's problem, not ours).

:class:`OutageDetector` keeps the bounded history, applies the rule after every check, sets the gauge
``newswatch_poller_network_down`` and logs each transition. What the scheduler does while offline
(failure counts untouched, a short fixed retry interval) is in :mod:`~newswatch.poller.scheduler`.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from newswatch.poller.metrics import PollerMetrics

__all__ = [
    "NETWORK_ERRORS",
    "Observation",
    "OutageDetector",
    "OutageRule",
    "host_of",
    "is_offline",
]

log = logging.getLogger(__name__)

NETWORK_ERRORS: frozenset[str] = frozenset({"connection_error", "timeout"})
"""Fetch outcomes that an outage on our side produces (see ``fetcher.FETCH_OUTCOMES``)."""


@dataclass(frozen=True, slots=True)
class OutageRule:
    window_seconds: float = 120.0
    min_checks: int = 5
    max_checks: int = 20
    min_failure_ratio: float = 0.8
    min_hosts: int = 3
    retry_seconds: float = 30.0  # while offline, feeds that failed at the network level come back this soon


@dataclass(frozen=True, slots=True)
class Observation:
    """One finished check: when (monotonic seconds), the feed's host, and whether it failed at the network
    level (any other outcome, success or not, is ``False``)."""

    at: float
    host: str
    network_failure: bool


def host_of(url: str) -> str:
    """The lower-case host name of ``url`` ("" when it has none)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def is_offline(observations: Sequence[Observation], now: float, rule: OutageRule) -> bool:
    """The rule of the module docstring over ``observations`` (oldest first)."""
    recent = [o for o in observations if now - o.at <= rule.window_seconds][-rule.max_checks :]
    if len(recent) < max(1, rule.min_checks):
        return False
    failed = [o for o in recent if o.network_failure]
    if len({o.host for o in failed}) < rule.min_hosts:
        return False
    return len(failed) >= rule.min_failure_ratio * len(recent)


class OutageDetector:
    """Applies :func:`is_offline` to this poller's latest checks. Not thread-safe; one event loop."""

    def __init__(self, metrics: PollerMetrics, rule: OutageRule | None = None) -> None:
        self.rule = rule or OutageRule()
        self._metrics = metrics
        self._history: deque[Observation] = deque(maxlen=max(1, self.rule.max_checks))
        self._offline = False
        self._since = 0.0
        metrics.network_down.set(0)

    @property
    def offline(self) -> bool:
        return self._offline

    def record(self, url: str, error_kind: str, now: float) -> bool:
        """Add one finished check (``error_kind`` "" for a success) and return whether we are offline now."""
        self._history.append(Observation(now, host_of(url), error_kind in NETWORK_ERRORS))
        offline = is_offline(self._history, now, self.rule)
        if offline != self._offline:
            self._offline = offline
            self._metrics.network_down.set(1 if offline else 0)
            recent = [o for o in self._history if now - o.at <= self.rule.window_seconds]
            fields = {
                "checks": len(recent),
                "network_failures": sum(o.network_failure for o in recent),
                "hosts_failing": len({o.host for o in recent if o.network_failure}),
            }
            if offline:
                self._since = now
                log.error(
                    "network down: most feeds fail at the network level at once; "
                    "feed health is left alone and feeds are retried every %gs",
                    self.rule.retry_seconds,
                    extra={**fields, "retry_seconds": self.rule.retry_seconds},
                )
            else:
                log.warning(
                    "network back: feed failures count again",
                    extra={**fields, "offline_seconds": round(now - self._since, 3)},
                )
        return offline

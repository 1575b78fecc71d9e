"""The ledger's memory of recent deliveries (rate limits rebuilt at start-up), without a broker."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from newswatch.alerter.ledger import Ledger
from newswatch.settings import Settings
from newswatch.v1.delivery_pb2 import DeliveryAttempt, DeliveryOutcome

NOW = 1_800_000_000.0


def delivered(sub: str, delivery: str, started: float | None, duration: float = 0.5) -> DeliveryAttempt:
    attempt = DeliveryAttempt(
        delivery_id=delivery,
        subscription_id=sub,
        outcome=DeliveryOutcome.DELIVERY_OUTCOME_DELIVERED,
        duration_seconds=duration,
    )
    if started is not None:
        attempt.started_at.CopyFrom(Timestamp(seconds=int(started), nanos=int((started % 1) * 1e9)))
    return attempt


def loading_ledger() -> Ledger:
    ledger = Ledger(Settings(), on_recent=lambda _sub, _at: None, clock=lambda: NOW)
    ledger._recent = {}  # what start() sets up before reading
    ledger._recent_since = NOW - 3600
    return ledger


def test_a_digest_counts_once_and_old_deliveries_not_at_all() -> None:
    ledger = loading_ledger()
    for member in ("d1", "d2", "d3"):  # one digest: three members, one channel call
        ledger._remember(delivered("sub-a", member, NOW - 60), NOW - 59)
    ledger._remember(delivered("sub-a", "d4", NOW - 30), NOW - 29)
    ledger._remember(delivered("sub-a", "d5", NOW - 4000), NOW - 3999)  # older than the hour
    ledger._remember(delivered("sub-b", "d6", None), NOW - 10)  # no started_at: the record's time
    assert ledger._recent is not None
    assert sorted(ledger._recent.values()) == [NOW - 59.5, NOW - 29.5, NOW - 10]
    assert sorted(sub for sub, _ in ledger._recent) == ["sub-a", "sub-a", "sub-b"]

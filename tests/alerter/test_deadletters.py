"""What counts in the DLQ depth: dead letters not since delivered or replayed (no broker needed)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from newswatch.alerter.deadletters import Outstanding, replay_mark
from newswatch.alerter.fanout import DLQ_SUBSCRIPTION_HEADER, delivery_id_for
from newswatch.alerter.ledger import OutcomeCache
from newswatch.v1.delivery_pb2 import DeliveryAttempt, DeliveryOutcome

Outcome = DeliveryOutcome


def dead(alert: str, sub: str | None, offset: int, at_ms: int, partition: int = 0) -> Any:
    headers = [(DLQ_SUBSCRIPTION_HEADER, sub.encode())] if sub is not None else []
    return SimpleNamespace(
        key=alert.encode(), headers=headers, partition=partition, offset=offset, timestamp=at_ms
    )


def attempt(alert: str, sub: str, outcome: DeliveryOutcome.ValueType) -> DeliveryAttempt:
    return DeliveryAttempt(
        delivery_id=delivery_id_for(alert, sub), alert_id=alert, subscription_id=sub, outcome=outcome
    )


# Each event: ("dead", offset, at_ms) | ("delivered" | "retrying" | "replayed", at_ms); then the count.
CASES = [
    ("a dead letter counts", [("dead", 1, 100)], 1),
    ("delivered afterwards", [("dead", 1, 100), ("delivered", 200)], 0),
    ("replayed afterwards", [("dead", 1, 100), ("replayed", 200)], 0),
    ("a plain retry settles nothing", [("dead", 1, 100), ("retrying", 200)], 1),
    ("delivered before it was dead-lettered", [("delivered", 50), ("dead", 1, 100)], 1),
    ("a settlement older than the letter", [("dead", 1, 100), ("replayed", 90)], 1),
    ("replayed, then dead-lettered again", [("dead", 1, 100), ("replayed", 200), ("dead", 2, 300)], 1),
    ("two letters of one delivery count once", [("dead", 1, 100), ("dead", 2, 150)], 1),
    ("the second letter outlives an early mark", [("dead", 1, 100), ("dead", 2, 300), ("replayed", 200)], 1),
]


@pytest.mark.parametrize(("events", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_outstanding(events: list[tuple[Any, ...]], expected: int) -> None:
    counted = Outstanding()
    for event in events:
        if event[0] == "dead":
            counted.dead_letter(dead("al-1", "sub-1", event[1], event[2]))
        elif event[0] == "replayed":
            counted.settled(replay_mark("al-1", "sub-1"), event[1])
        else:
            outcome = (
                Outcome.DELIVERY_OUTCOME_DELIVERED
                if event[0] == "delivered"
                else Outcome.DELIVERY_OUTCOME_RETRYING
            )
            counted.settled(attempt("al-1", "sub-1", outcome), event[1])
    assert len(counted) == expected
    assert (delivery_id_for("al-1", "sub-1") in counted) == bool(expected)
    assert counted.wanted(b"al-1") == bool(expected)


def test_other_subscriptions_deliveries_settle_nothing() -> None:
    counted = Outstanding()
    counted.dead_letter(dead("al-1", "sub-1", 1, 100))
    counted.settled(attempt("al-1", "sub-2", Outcome.DELIVERY_OUTCOME_DELIVERED), 200)
    assert len(counted) == 1


def test_letters_without_a_subscription_count_until_retention_removes_them() -> None:
    counted = Outstanding()
    counted.dead_letter(dead("article-1", None, 5, 100, partition=1))
    counted.dead_letter(dead("article-2", None, 9, 100, partition=1))
    counted.dead_letter(dead("al-1", "sub-1", 3, 100, partition=0))
    assert len(counted) == 3 and counted.oldest_ms() == 100
    counted.retained_from({0: 0, 1: 6})
    assert len(counted) == 2
    counted.retained_from({0: 4, 1: 10})
    assert len(counted) == 0 and counted.oldest_ms() is None and not counted.wanted(b"al-1")


def test_the_replay_mark_is_not_a_final_outcome() -> None:
    mark = replay_mark("al-1", "sub-1")
    assert mark.outcome == Outcome.DELIVERY_OUTCOME_REPLAYED and mark.attempt == 0
    assert mark.delivery_id == delivery_id_for("al-1", "sub-1")
    cache = OutcomeCache()
    cache.record(mark.delivery_id, Outcome.DELIVERY_OUTCOME_FAILED)
    cache.record(mark.delivery_id, mark.outcome)
    assert cache.outcome(mark.delivery_id) == Outcome.DELIVERY_OUTCOME_FAILED

"""Subscription filters: table tests and properties."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newswatch.alerter.subscriptions import matches
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.enriched_pb2 import TermMatch
from newswatch.v1.subscription_pb2 import Subscription

ALERT = Alert(
    alert_id="a1",
    watchlist_id="wl-default",
    watchlist_name="Default",
    language="fr-CA",
    matches=[
        TermMatch(term_id="palmyra", term_label="Palmyra"),
        TermMatch(term_id="isis", term_label="ISIS"),
    ],
    countries=["SY", "IQ"],
    regions=["mena"],
    score=0.8,
)


def sub(**filters: Any) -> Subscription:
    filters.setdefault("enabled", True)
    return Subscription(subscription_id="s1", name="t", **filters)


CASES = [
    ("no filter matches", sub(), True),
    ("disabled never matches", sub(enabled=False), False),
    ("disabled with matching filters", sub(enabled=False, watchlists=["wl-default"]), False),
    ("watchlist by id", sub(watchlists=["wl-default"]), True),
    ("watchlist by name, any case", sub(watchlists=["  default "]), True),
    ("watchlist other", sub(watchlists=["other"]), False),
    ("one of several watchlists", sub(watchlists=["other", "Default"]), True),
    ("term by id", sub(terms=["isis"]), True),
    ("term by label", sub(terms=["Palmyra"]), True),
    ("term label any case", sub(terms=["PALMYRA"]), True),
    ("term absent", sub(terms=["hit"]), False),
    ("region", sub(regions=["MENA"]), True),
    ("region absent", sub(regions=["europe"]), False),
    ("country", sub(countries=["iq"]), True),
    ("country absent", sub(countries=["FR"]), False),
    ("language exact", sub(languages=["fr-ca"]), True),
    ("language primary subtag", sub(languages=["fr"]), True),
    ("language other", sub(languages=["en"]), False),
    ("min score below", sub(min_score=0.5), True),
    ("min score inclusive", sub(min_score=0.8), True),
    ("min score above", sub(min_score=0.81), False),
    (
        "all filters pass",
        sub(
            watchlists=["Default"],
            terms=["isis"],
            regions=["mena"],
            countries=["SY"],
            languages=["fr"],
            min_score=0.1,
        ),
        True,
    ),
    ("one filter fails", sub(watchlists=["Default"], terms=["isis"], countries=["FR"]), False),
]


@pytest.mark.parametrize(("case", "subscription", "expected"), CASES, ids=[c[0] for c in CASES])
def test_matches(case: str, subscription: Subscription, expected: bool) -> None:
    assert matches(subscription, ALERT) is expected


def test_an_alert_without_language_fails_a_language_filter() -> None:
    bare = Alert(alert_id="a2", watchlist_id="w")
    assert matches(sub(), bare)
    assert not matches(sub(languages=["en"]), bare)
    assert not matches(sub(terms=["isis"]), bare)


# Letters whose upper and lower case fold to the same value (not e.g. the dotless ı).
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéèàçüöABCDEFXYZÉÀ0123456789", min_size=1, max_size=12)


@given(value=words, pad_left=st.text(" \t", max_size=3), pad_right=st.text(" \t", max_size=3))
def test_filters_ignore_case_and_surrounding_whitespace(value: str, pad_left: str, pad_right: str) -> None:
    alert = Alert(alert_id="a", watchlist_id=value, matches=[TermMatch(term_id=value)], regions=[value])
    for field in ("watchlists", "terms", "regions"):
        assert matches(sub(**{field: [pad_left + value.upper() + pad_right]}), alert) == matches(
            sub(**{field: [value.lower()]}), alert
        )
        assert matches(sub(**{field: [value]}), alert)


@given(
    score=st.floats(0, 1),
    countries=st.lists(st.sampled_from(["SY", "IQ", "FR"]), max_size=3),
    enabled=st.booleans(),
)
def test_empty_filters_match_every_alert_of_an_enabled_subscription(
    score: float, countries: list[str], enabled: bool
) -> None:
    alert = Alert(alert_id="a", score=score, countries=countries)
    assert matches(sub(enabled=enabled), alert) is enabled

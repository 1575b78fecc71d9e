"""The target index gives exactly the subscriptions ``matches`` accepts (property), and follows changes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from newswatch.alerter.matching import matches
from newswatch.alerter.targets import TargetIndex
from newswatch.v1.alert_pb2 import Alert
from newswatch.v1.subscription_pb2 import Subscription

NAMES = st.sampled_from(["syria", "Syria ", " SYRIA", "iraq", "Iraq", "", "  "])
subscriptions = st.lists(
    st.tuples(st.lists(NAMES, max_size=3), st.booleans(), st.sampled_from([0.0, 0.5])), max_size=8
)


@given(subscriptions, NAMES, NAMES, st.sampled_from([0.4, 0.9]))
def test_targets_are_exactly_the_matching_subscriptions(
    specs: list[tuple[list[str], bool, float]], wl_id: str, wl_name: str, score: float
) -> None:
    subs = {
        f"s{i}": Subscription(subscription_id=f"s{i}", watchlists=w, enabled=on, min_score=m)
        for i, (w, on, m) in enumerate(specs)
    }
    alert = Alert(alert_id="a", watchlist_id=wl_id, watchlist_name=wl_name, score=score)
    got = sorted(s.subscription_id for s in TargetIndex(subs).targets(alert))
    assert got == sorted(i for i, s in subs.items() if matches(s, alert))


def test_changes_and_scope_are_followed() -> None:
    subs = {"a": Subscription(subscription_id="a", watchlists=["w"], enabled=True)}
    index = TargetIndex(subs, scope=lambda sid: sid != "hidden")
    alert = Alert(alert_id="x", watchlist_id="w")
    assert [s.subscription_id for s in index.targets(alert)] == ["a"]
    subs["b"] = Subscription(subscription_id="b", enabled=True)  # no watch-list filter
    subs["hidden"] = Subscription(subscription_id="hidden", enabled=True)
    assert [s.subscription_id for s in index.targets(alert)] == ["a"]  # not rebuilt yet
    index.changed()
    assert sorted(s.subscription_id for s in index.targets(alert)) == ["a", "b"]

"""The shipped default watch list on sentences of its own: Hit the town versus hit the success.

Sentences here are written for these tests (not taken from the evaluation set): each names an Iraqi
place near "Hit", so only the negative context keeps the success (a song, a record, a show) out.
"""

from __future__ import annotations

import pytest

from newswatch.processor.enrich import enrich
from newswatch.processor.keywords import build_matcher
from newswatch.processor.places import default_gazetteer
from newswatch.processor.watchlist import default_watchlist
from newswatch.v1.article_pb2 import Article

MATCHER = build_matcher([default_watchlist()])
GAZ = default_gazetteer()


def _terms(text: str) -> set[str]:
    article = Article(article_id="default-watchlist-test", feed_id="f", content=text, language="en")
    return {m.term_id for m in enrich(article, MATCHER, GAZ).matches}


@pytest.mark.parametrize(
    "text",
    [
        "Hit songs from the eighties still play in the tea houses of Baghdad every evening.",
        "Hit singles by the band topped radio playlists from Basra to Baghdad last spring.",
        "Hit records of the decade were pressed at a small plant outside Baghdad.",
        "Hit albums by Iraqi crooners sold out in Baghdad markets within a week.",
        "Hit shows from Cairo are dubbed into the Iraqi dialect in a Baghdad studio.",
        "Hit tunes of the summer drifted over the Euphrates from a wedding party.",
        "The chart-topping Hit from Anbar province was streamed a million times.",
    ],
)
def test_hit_as_a_success_is_not_the_town(text: str) -> None:
    assert "hit" not in _terms(text)


@pytest.mark.parametrize(
    "text",
    [
        "Hit, a town on the Euphrates in Anbar province, was retaken by Iraqi forces.",
        "Fighting around Hit displaced thousands of families towards Ramadi.",
        "Government troops entered the city of Hit after a two-week siege.",
        "Hit recorded its first market day in years, Anbar officials said.",
    ],
)
def test_hit_the_town_still_matches(text: str) -> None:
    assert "hit" in _terms(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Isis the goddess was worshipped at the temple of Philae.", set()),
        ("Isis fighters withdrew from the outskirts of Raqqa overnight.", {"isis"}),
        ("Palmyra, New Jersey, approved a new budget for its borough.", set()),
        ("Les combattants ont quitté Palmyre au petit matin, selon l'armée syrienne.", {"palmyra"}),
    ],
)
def test_other_terms_keep_their_context_rules(text: str, expected: set[str]) -> None:
    assert _terms(text) == expected

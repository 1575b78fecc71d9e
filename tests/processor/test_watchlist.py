"""Watch lists as data: loading, validation errors, the default list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from newswatch.processor.watchlist import (
    WatchlistError,
    default_watchlist,
    load_watchlists_yaml,
    parse_watchlists,
    validate_watchlist,
)


def test_default_watchlist() -> None:
    wl = default_watchlist()
    assert wl.watchlist_id == "default" and wl.enabled and wl.threshold == 1.0
    assert {t.term_id for t in wl.terms} == {"isis", "palmyra", "hit"}
    isis = [t for t in wl.terms if t.term_id == "isis"]
    assert len(isis) == 5  # the main entry plus the Isis, IS, l'EI and EI variants
    assert all(t.label == "ISIS" and t.kind == "organisation" for t in isis)
    assert {"EI", "l'EI", "L'EI"} <= {a for t in isis for a in t.case_sensitive_aliases}
    assert validate_watchlist(wl) == []


def test_load_file_shapes(tmp_path: Path) -> None:
    one = tmp_path / "one.yaml"
    one.write_text("id: solo\nterms:\n  - id: x\n    aliases: [xylophone]\n", encoding="utf-8")
    many = tmp_path / "many.yaml"
    many.write_text(
        "watchlists:\n"
        "  - {id: a, terms: [{id: t, aliases: [alpha]}]}\n"
        "  - {id: b, threshold: 2.5, enabled: false, terms: [{id: t, case_sensitive_aliases: [BETA]}]}\n",
        encoding="utf-8",
    )
    (solo,) = load_watchlists_yaml(one)
    assert solo.name == "solo" and solo.terms[0].kind == "keyword" and solo.terms[0].weight == 1.0
    a, b = load_watchlists_yaml(many)
    assert (a.watchlist_id, b.watchlist_id, b.threshold, b.enabled) == ("a", "b", 2.5, False)


def _one(term: dict[str, Any], **watchlist: Any) -> dict[str, Any]:
    return {"id": "wl", "terms": [term], **watchlist}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"id": "Bad Id", "terms": []}, "field 'id'"),
        (_one({"id": "t", "aliases": ["x"]}, threshold=0), "watch list 'wl'.*'threshold'"),
        (_one({"id": "t", "aliases": ["x"]}, colour="red"), "watch list 'wl'.*unknown field 'colour'"),
        ({"id": "wl", "terms": []}, "'terms' must be a non-empty list"),
        (_one({"id": "t"}), "term 't'.*at least one"),
        (_one({"id": "t", "aliases": ["x"], "kind": "animal"}), "term 't'.*'kind'"),
        (_one({"id": "t", "aliases": ["x"], "weight": "heavy"}), "term 't'.*'weight'"),
        (_one({"id": "t", "aliases": "x"}), "term 't'.*'aliases' must be a list"),
        (_one({"id": "t", "aliases": ["x", " "]}), "term 't'.*empty string"),
        (_one({"id": "t", "aliases": ["x"], "context_window_chars": -1}), "'context_window_chars'"),
        (_one({"id": "t", "aliases": ["x"], "variants": [{"weight": 2, "aliases": ["y"]}]}),
         "variant 1.*'weight'"),
        ({"id": "wl", "terms": [{"id": "t", "aliases": ["x"]}, {"id": "t", "aliases": ["y"]}]},
         "duplicate term"),
        ([{"id": "a", "terms": [{"id": "t", "aliases": ["x"]}]}] * 2, "'a' is declared twice"),
    ],
)  # fmt: skip
def test_errors_name_list_term_and_field(data: Any, message: str) -> None:
    with pytest.raises(WatchlistError, match=message) as info:
        parse_watchlists(data, "lists.yaml")
    assert str(info.value).startswith("lists.yaml")
    assert info.value.retriable is False


def test_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(WatchlistError, match="cannot read"):
        load_watchlists_yaml(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: [unclosed", encoding="utf-8")
    with pytest.raises(WatchlistError, match="not valid YAML"):
        load_watchlists_yaml(broken)


def test_validate_watchlist_from_kafka() -> None:
    (wl,) = parse_watchlists(_one({"id": "t", "aliases": ["x"]}))
    assert validate_watchlist(wl) == []
    del wl.terms[0].aliases[:]
    wl.threshold = 0
    assert len(validate_watchlist(wl)) == 2

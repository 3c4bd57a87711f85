"""Nicknames come from the maintained ``nicknames`` package (plus a small non-English supplement)."""

from __future__ import annotations

from leadflow.identity.nicknames import equivalent_pairs, nickname_map


def test_package_relations_are_used() -> None:
    pairs = equivalent_pairs()
    for a, b in [("bob", "robert"), ("bill", "william"), ("mike", "michael"), ("liz", "elizabeth"),
                 ("peggy", "margaret"), ("hans", "johannes")]:
        assert f"{a}|{b}" in pairs and f"{b}|{a}" in pairs
    assert len(pairs) > 2000                # far beyond the old hand list of ~80 names


def test_keys_only_for_nicknames_of_one_name() -> None:
    m = nickname_map()
    assert m["jim"] == "james" and m["hans"] == "johannes"
    assert "bill" not in m                  # william or robert: no key may pick one
    assert m.get("bill") != m.get("bob") or m.get("bill") is None

"""No chaining through a third record; a review queue without contradicted pairs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadflow.clean import standardise_leads
from leadflow.identity import guards
from leadflow.identity.resolve import resolve


def _resolve(rows: list[dict], people: pd.DataFrame | None = None):
    return resolve(standardise_leads(pd.DataFrame(rows)), people)


def test_a_record_resembling_two_mailbox_holders_alike_joins_neither() -> None:
    rows = [{"email": "j.weber@acme.io", "first_name": "Jana", "last_name": "Weber", "company": "Acme"},
            {"email": "j.weber2@acme.io", "first_name": "Jana", "last_name": "Weber", "company": "Acme"},
            {"email": None, "first_name": "Jana", "last_name": "Weber", "company": "Acme GmbH"}]
    assign, reviews = _resolve(rows)
    assert assign["cluster"].nunique() == 3
    assert {tuple(sorted(p)) for p in reviews[["a", "b"]].to_numpy().tolist()} >= {(0, 2), (1, 2)}


def test_two_addresses_of_one_person_still_merge_on_direct_evidence() -> None:
    rows = [{"email": "mustafa.tanner@central.ch", "first_name": "Mustafa", "last_name": "Tanner",
             "company": "Central Software", "phone": "+41 78 239 77 41"},
            {"email": "m.tanner@central.ch", "first_name": "Mustafa", "last_name": "Tanner",
             "company": "Central Software", "phone": "+41782397741"}]
    assign, _ = _resolve(rows)
    assert assign["cluster"].nunique() == 1


def test_chaining_through_a_record_without_address_is_refused_within_a_batch() -> None:
    """b@ and c@ differ in name enough not to merge directly; a vague record resembling both
    (phone of one, name/company of the other) may join one of them, never tie them together."""
    rows = [{"email": "lea.roth@hooli.com", "first_name": "Lea", "last_name": "Roth", "company": "Hooli",
             "phone": "+49 30 1111111"},
            {"email": "leo.roth@hooli.com", "first_name": "Leo", "last_name": "Roth", "company": "Hooli"},
            {"email": None, "first_name": "Leo", "last_name": "Roth", "company": "Hooli", "phone": "+49 30 1111111"}]
    assign, _ = _resolve(rows)
    c = assign["cluster"].tolist()
    assert c[0] != c[1]


def test_components_refuse_only_inside_conflicting_components() -> None:
    # nodes 0-1 share a business label path through node 2 (no label); 3-4 are an ordinary pair
    email = np.array([10, 11, -1, 12, -1])
    comp, held = guards.components(5, np.array([], np.int64), np.array([], np.int64),
                                   np.array([0, 1, 3]), np.array([2, 2, 4]), np.array([0.99, 0.97, 0.95]),
                                   email, np.full(5, -1))
    assert comp[0] == comp[2] != comp[1]         # the stronger edge wins, the weaker is refused
    assert comp[3] == comp[4]
    assert held == []                            # 0.99 vs 0.97: more than a point apart


def test_namesakes_at_different_companies_are_not_review_candidates() -> None:
    rows = [{"email": "laura.brown@silveratlantic.com", "first_name": "Laura", "last_name": "Brown",
             "company": "Silveratlantic Data"},
            {"email": "laura.brown@vanguardapex.com", "first_name": "Laura", "last_name": "Brown",
             "company": "Vanguardapex Technologies"},
            {"email": "laura.brown77@gmail.com", "first_name": "Laura", "last_name": "Brown"}]
    assign, reviews = _resolve(rows)
    assert assign["cluster"].nunique() == 3
    pairs = {tuple(sorted(p)) for p in reviews[["a", "b"]].to_numpy().tolist()}
    assert (0, 1) not in pairs                   # contradicted: other address, other company
    assert (0, 2) in pairs and (1, 2) in pairs   # no company on one side: genuinely open


def test_strangers_sharing_a_placeholder_address_stay_apart() -> None:
    """Five people who typed the same filler address are five people; two rows of one of them
    (same name and phone) still join, on their name and phone."""
    rows = [{"email": "noemail@gmail.com", "first_name": "Ann", "last_name": "Lee", "company": "Acme",
             "phone": "+44 20 7946 0001"},
            {"email": "NoEmail@gmail.com", "first_name": "Bob", "last_name": "Stone", "company": "Globex",
             "phone": "+44 20 7946 0002"},
            {"email": "noemail@gmail.com", "first_name": "Chen", "last_name": "Wu", "company": "Initech"},
            {"email": "test@test.com", "first_name": "Dana", "last_name": "Ruiz", "company": "Hooli"},
            {"email": "test@test.com", "first_name": "Eli", "last_name": "Park", "company": "Umbrella"},
            {"email": "noemail@gmail.com", "first_name": "Ann", "last_name": "Lee", "company": "Acme Ltd",
             "phone": "020 7946 0001", "country": "GB"}]
    assign, reviews = _resolve(rows)
    c = assign["cluster"].tolist()
    assert len(set(c[:5])) == 5
    assert c[5] == c[0]
    assert not {tuple(sorted(p)) for p in reviews[["a", "b"]].to_numpy().tolist()} & {(0, 1), (0, 2), (3, 4)}

"""Qualification and suppression rules (pure), and the candidate query on both backends."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from leadflow import lifecycle
from leadflow.config import Qualification
from leadflow.handoff import synthetic as syn
from leadflow.qualify import candidates, priority, qualify, suppression_reason
from tests.plans import plans_of

AS_OF = datetime(2026, 11, 26, 23, 59, 59)


def _frame(**cols) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    base = {"grade": ["A"] * n, "score": [80.0] * n, "probability": [None] * n,
            "hand_raiser": [False] * n, "lifecycle_stage": ["lead"] * n, "recycled_at": [None] * n,
            "has_handoff": [False] * n}
    base.update(cols)
    return pd.DataFrame(base)


def test_threshold_needs_grade_and_score() -> None:
    q = Qualification(min_grade="B", min_score=70)
    df = qualify(_frame(grade=["A", "B", "C", "B", None], score=[70, 90, 95, 69.9, 99]), q, AS_OF)
    assert df["qualified_by"].tolist() == ["threshold", "threshold", None, None, None]
    assert df["status"].tolist() == ["qualified", "qualified", "not_qualified", "not_qualified", "not_qualified"]


def test_probability_and_hand_raisers() -> None:
    q = Qualification(min_grade="A", min_score=90, min_probability=0.6)
    df = qualify(_frame(grade=["D", "D", "D"], score=[0, 0, 0], probability=[0.7, 0.5, None],
                        hand_raiser=[False, False, True]), q, AS_OF)
    assert df["qualified_by"].tolist() == ["probability", None, "hand_raiser"]
    # Without min_probability the model alone never qualifies.
    df2 = qualify(_frame(grade=["D"], score=[0], probability=[0.99]), Qualification(), AS_OF)
    assert df2["qualified_by"].tolist() == [None]


def test_recycled_wait_unless_hand_raised_and_existing_handoffs() -> None:
    q = Qualification(recycle_after_days=90)
    df = qualify(_frame(lifecycle_stage=["recycled", "recycled", "recycled", "lead", "sal"],
                        recycled_at=[datetime(2026, 10, 1), datetime(2026, 6, 1), datetime(2026, 10, 1), None, None],
                        hand_raiser=[False, False, True, False, False],
                        has_handoff=[False, False, False, True, False]), q, AS_OF)
    assert df["status"].tolist() == ["recycle_wait", "qualified", "qualified", "already_queued", "with_sales"]


def test_suppression_reasons_in_order() -> None:
    q = Qualification(competitor_domains=["rival.test"])
    df = pd.DataFrame({
        "erased_at": [datetime(2026, 1, 1), None, None, None, None, None, None, None, None],
        "opt_out": [True, True, False, False, False, False, False, False, False],
        "do_not_contact": [False, False, True, False, False, False, False, False, False],
        "is_competitor": [False, False, False, True, False, False, False, False, False],
        "email_norm": [None, "a@x.test", "b@x.test", "c@x.test", "d@rival.test", "e@x.test", "f@x.test",
                       "g@x.test", "h@x.test"],
        "account_domain": [None] * 9,
        "is_customer": [False, False, False, False, False, True, False, False, False],
        "has_open_deal": [False, False, False, False, False, False, True, False, False],
        "lifecycle_stage": ["lead"] * 7 + ["disqualified", "lead"],
    })
    assert suppression_reason(df, q).tolist() == [
        "erased", "opt_out", "do_not_contact", "competitor", "competitor", "customer", "open_deal",
        "disqualified", None]


def test_priority_puts_hand_raisers_first() -> None:
    p = priority(_frame(score=[95, 10, 50], probability=[None, None, 0.8], hand_raiser=[False, True, False]))
    assert p.tolist() == [95.0, 110.0, 80.0]


def test_candidates_find_hand_raisers_only_in_the_current_cycle(engine: sa.Engine, make_ctx) -> None:
    d = date(2026, 11, 26)
    ctx = make_ctx({}, engine, d)
    with engine.begin() as c:
        syn.add_people(c, pd.DataFrame({"person_id": [1, 2, 3, 4, 5, 6, 7],
                                        "lifecycle_stage": ["lead"] * 7}))
        syn.add_scores(c, pd.DataFrame({"person_id": [1, 5, 6, 7], "score": [80.0, 10.0, 90.0, 69.9],
                                        "grade": ["B", "D", "C", "A"]}), d)
        syn.add_touches(c, pd.DataFrame({
            "person_id": [2, 3, 4],
            "touch_type": ["demo_request", "contact_sales", "page_view"],
            "occurred_at": [datetime(2026, 5, 1), datetime(2026, 11, 20), datetime(2026, 11, 20)]}))
    # Person 2 raised a hand in May, then was recycled in June: that hand-raise is spent.
    old = make_ctx({}, engine, date(2026, 6, 1))
    with engine.begin() as c:
        lifecycle.transition(c, [2], "mql", "hand_raiser", old)
        lifecycle.transition(c, [2], "recycled", "bad_timing", old)
    cand = candidates(engine, ctx).set_index("person_id")
    # 1's score today could qualify (B, 80 >= 70), 3 raised a hand; 2's only hand-raise predates
    # recycling; 4 only browsed; 5, 6 (grade C) and 7 (score 69.9) cannot qualify by score today.
    assert sorted(cand.index) == [1, 3]
    assert cand.loc[3, "hand_raiser"] and not cand.loc[1, "hand_raiser"]
    assert cand.loc[3, "target_cycle"] == 1
    # A new hand-raise after recycling counts again, for the next cycle.
    with engine.begin() as c:
        syn.add_touches(c, pd.DataFrame({"person_id": [2], "touch_type": ["demo_request"],
                                         "occurred_at": [datetime(2026, 11, 25)]}))
    cand = candidates(engine, ctx).set_index("person_id")
    assert cand.loc[2, "hand_raiser"] and cand.loc[2, "target_cycle"] == 2
    assert pd.notna(cand.loc[2, "recycled_at"])


def _candidate_plan(engine: sa.Engine, ctx: Any) -> tuple[pd.DataFrame, str]:
    """The daily candidates and the database's plan of the query that read them."""
    got: list[pd.DataFrame] = []
    with engine.connect() as c:
        plans = plans_of(c, lambda c: got.append(candidates(c, ctx)))
    return got[0], "\n".join(line for plan in plans for line in plan)


def test_the_daily_candidates_read_todays_scores_by_date(engine: sa.Engine, make_ctx) -> None:
    """``scores`` keeps every earlier day; the queue's score branch read them all (a scan of the
    table) to find today's possible MQLs. It searches ``ix_scores_date`` and judges each by its
    handoff (``uq_handoff_person_cycle``) for the person it joined once."""
    d = date(2026, 11, 26)
    ctx = make_ctx({}, engine, d)
    n, days = 2000, 30
    ids = list(range(1, n + 1))
    with engine.begin() as c:
        syn.add_people(c, pd.DataFrame({"person_id": ids, "lifecycle_stage": ["lead"] * n}))
        for k in range(days, -1, -1):       # today last; every 7th person scores A today
            grade = ["A" if k == 0 and i % 7 == 0 else "C" for i in ids]
            syn.add_scores(c, pd.DataFrame({"person_id": ids, "score": [90.0] * n, "grade": grade}),
                           d - pd.Timedelta(days=k))
        handed = [i for i in ids if i % 14 == 0]          # half of today's A were handed off before
        from leadflow.store import db
        from leadflow.store.schema import handoffs
        db.bulk_insert(c, handoffs, pd.DataFrame({
            "person_id": handed, "cycle": 1, "owner_rep": "r1", "route_rule": "fallback",
            "qualified_by": "threshold", "run_date": date(2026, 11, 1),
            "handed_off_at": datetime(2026, 11, 1, 9), "sla_breached": False, "status": "queued"}))
        db.analyze(c)
    cand, plan = _candidate_plan(engine, ctx)
    assert sorted(cand["person_id"]) == [i for i in ids if i % 7 == 0 and i % 14 != 0]
    assert "ix_scores_date" in plan, plan
    assert "Seq Scan on scores" not in plan and "SCAN sc" not in plan, plan
    assert "uq_handoff_person_cycle" in plan or "sqlite_autoindex_handoffs_1" in plan, plan

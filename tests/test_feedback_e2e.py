"""Outcomes through the feedback step reproduce the lifecycle a consistent warehouse implies."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import sqlalchemy as sa

from leadflow.feedback import apply_outcomes
from leadflow.report import marts, synthetic
from leadflow.store import db
from leadflow.store.schema import handoffs, outcomes, people, stg_crm_outcomes


def test_feedback_then_marts_match_the_truth(engine, make_ctx) -> None:
    frames = synthetic.seed(engine, outcomes_in_staging=True, n_people=600, seed=9)
    ctx = make_ctx({}, engine, run_date=date(2027, 3, 1))
    counts = apply_outcomes(ctx)
    n = len(frames["outcomes"])
    assert counts["rows"] == n and counts["loaded"] == n and counts["quarantined"] == 0
    with engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(outcomes)).scalar() == n
        states = c.execute(sa.select(stg_crm_outcomes.c.state).distinct()).scalars().all()
        got = db.read_df(c, sa.select(people.c.person_id, people.c.lifecycle_stage))
        ho = db.read_df(c, sa.select(handoffs.c.handoff_id, handoffs.c.first_action_at, handoffs.c.status))
    assert states == ["loaded"]
    truth = frames["people"].set_index("person_id")["lifecycle_stage"]
    assert got.set_index("person_id")["lifecycle_stage"].sort_index().to_dict() == truth.sort_index().to_dict()
    # speed-to-lead: first action = earliest outcome of the handoff
    first = pd.to_datetime(frames["outcomes"]["occurred_at"]).groupby(frames["outcomes"]["handoff_id"]).min()
    ho = ho.set_index("handoff_id")
    acted = ho.loc[first.index]
    assert (pd.to_datetime(acted["first_action_at"]) == first).all()
    assert set(ho.loc[~ho.index.isin(first.index), "status"]) <= {"queued"}
    # the funnel counts after feedback equal the truth's
    w = marts.Window(date(2026, 9, 7), date(2026, 12, 31), datetime(2027, 3, 1))
    f = marts.rollup(marts.run(engine, w, ["funnel"])["funnel"], [])
    depth = truth.map({"lead": 1, "mql": 2, "sal": 3, "sql": 4, "opportunity": 5, "customer": 6})
    ever_sal = frames["lifecycle_events"].query("to_stage == 'sal'")["person_id"].nunique()
    assert int(f["sals"].iloc[0]) == ever_sal
    assert int(f["customers"].iloc[0]) == int((depth == 6).sum())
    # a second run finds nothing to do
    assert apply_outcomes(ctx)["rows"] == 0

"""The report shows inferred losses (aging, issue 18) apart from the losses sales reported."""

from __future__ import annotations

import csv
from datetime import date

import numpy as np
import pandas as pd

from leadflow.report import build
from leadflow.store import db
from leadflow.store.schema import handoffs, lifecycle_events, outcomes, people

RUN = date(2026, 11, 26)
AGING = 60


def _seed(engine, n: int = 120, seed: int = 5) -> pd.DataFrame:
    """People handed off over a year, MQL'd 0-20 days before the handoff; some won, a few
    reported lost, the rest silent. Returns the truth per handoff."""
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2025-12-01") + pd.to_timedelta(rng.integers(0, 340 * 24, n), unit="h")
    mql = created + pd.to_timedelta(rng.integers(0, 5, n), unit="D")
    handed = mql + pd.to_timedelta(rng.integers(0, 20, n), unit="D")
    chan = np.array(["email", "referral", "organic"], dtype=object)[rng.integers(0, 3, n)]
    fate = rng.choice(["won", "lost", "silent"], n, p=[0.2, 0.1, 0.7])
    pid = np.arange(1, n + 1)
    with engine.begin() as c:
        db.bulk_insert(c, people, pd.DataFrame({
            "person_id": pid, "lifecycle_stage": "mql", "cycle": 1, "opt_out": False,
            "do_not_contact": False, "is_competitor": False, "first_source": "mqls",
            "first_channel": chan, "created_at": created, "updated_at": created}))
        db.bulk_insert(c, lifecycle_events, pd.DataFrame({
            "person_id": pid, "cycle": 1, "from_stage": "lead", "to_stage": "mql", "occurred_at": mql,
            "reason": "t", "run_id": "t"}))
        db.bulk_insert(c, handoffs, pd.DataFrame({
            "handoff_id": pid, "person_id": pid, "cycle": 1, "owner_rep": "sam",
            "route_rule": "round_robin", "qualified_by": "threshold", "run_date": handed.date,
            "handed_off_at": handed, "sla_due_at": handed, "sla_breached": False, "status": "delivered"}))
        has = fate != "silent"
        db.bulk_insert(c, outcomes, pd.DataFrame({
            "source": "crm", "source_outcome_id": [f"o{i}" for i in pid[has]], "handoff_id": pid[has],
            "person_id": pid[has], "status": fate[has],
            "occurred_at": handed[has] + pd.Timedelta(days=3)}))
    return pd.DataFrame({"channel": chan, "fate": fate, "created": created, "mql": mql, "handed": handed})


def _expected(t: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Independent pandas: no win and no reported loss AGING days after the MQL = inferred."""
    t = t[t["handed"] <= as_of]
    decided = t["handed"] + pd.Timedelta(days=3) <= as_of
    won = (t["fate"] == "won") & decided
    lost = (t["fate"] == "lost") & decided
    inferred = ~won & ~lost & (t["mql"] + pd.Timedelta(days=AGING) <= as_of)
    g = t.assign(handoffs=1, won=won, lost_reported=lost, lost_inferred=inferred,
                 open=~won & ~lost & ~inferred).groupby("channel")
    return g[["handoffs", "won", "lost_reported", "lost_inferred", "open"]].sum().astype(int)


def test_report_separates_inferred_from_reported_losses(engine, make_ctx) -> None:
    truth = _seed(engine)
    ctx = make_ctx({"feedback": {"aging_days": AGING}}, engine, run_date=RUN)
    out = build(ctx, as_of=RUN)
    as_of = pd.Timestamp(RUN) + pd.Timedelta(days=1) - pd.Timedelta(seconds=1)
    exp = _expected(truth, as_of)
    assert exp["lost_inferred"].sum() > 0 and exp["lost_reported"].sum() > 0 and exp["open"].sum() > 0
    with open(f"{out['csv_dir']}/handoff_outcomes_by_channel.csv", newline="") as f:
        got = pd.DataFrame(list(csv.DictReader(f))).set_index("channel")
    got = got[exp.columns].astype(int).sort_index()
    pd.testing.assert_frame_equal(got, exp.sort_index(), check_names=False)
    html = open(out["html"], encoding="utf-8").read()
    assert 'id="handoff_outcomes"' in html
    assert "lost (inferred)" in html and "lost (reported)" in html
    assert f"no win within {AGING} days of the MQL" in html
    # an earlier as-of: fewer handoffs have aged, and the report says so too
    early = build(ctx, end=date(2026, 6, 30), as_of=date(2026, 7, 31))
    with open(f"{early['csv_dir']}/handoff_outcomes_by_channel.csv", newline="") as f:
        e = pd.DataFrame(list(csv.DictReader(f))).set_index("channel")[exp.columns].astype(int)
    cohort = truth[truth["created"] < pd.Timestamp("2026-07-01")]
    exp_early = _expected(cohort, pd.Timestamp("2026-07-31 23:59:59"))
    pd.testing.assert_frame_equal(e.sort_index(), exp_early.sort_index(), check_names=False)
    assert exp_early["lost_inferred"].sum() < exp["lost_inferred"].sum()


def test_report_without_aging_says_losses_are_only_reported(engine, make_ctx) -> None:
    _seed(engine)
    out = build(make_ctx({}, engine, run_date=RUN), as_of=RUN)
    with open(f"{out['csv_dir']}/handoff_outcomes_by_channel.csv", newline="") as f:
        got = pd.DataFrame(list(csv.DictReader(f)))
    assert (got["lost_inferred"].astype(int) == 0).all() and (got["open"].astype(int) > 0).any()
    assert "feedback.aging_days" in open(out["html"], encoding="utf-8").read()

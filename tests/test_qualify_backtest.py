"""`leadflow qualify backtest`: the recommended threshold fits capacity, and its figures equal an
independent pandas replay of the stored scores and outcomes."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from leadflow.cli import main
from leadflow.qualify.backtest import backtest
from leadflow.store import db
from leadflow.store.schema import scores
from tests import score_helpers as H

END = date(2026, 9, 28)
WEEKS = 8


def _scored_warehouse(engine) -> tuple[pd.DataFrame, set[int]]:
    """Daily scores for a week after each person arrived (rising with engagement), plus the
    handoffs and outcomes of score_helpers (converted = opportunity)."""
    out = H.populate(engine, n=1500, seed=4)
    rng = np.random.default_rng(5)
    ppl = out["people"]
    rows = []
    for k in range(7):
        base = 100 * out["p"] + rng.normal(0, 12, len(ppl)) + 2 * k
        rows.append(pd.DataFrame({
            "person_id": ppl["person_id"], "score_date": (pd.to_datetime(ppl["created_at"])
                                                          + pd.Timedelta(days=k)).dt.date,
            "fit_points": 0.0, "grade": rng.choice(["A", "B", "C", "D"], len(ppl), p=[.3, .3, .2, .2]),
            "engagement_points": 0.0, "score": np.clip(np.round(base), 0, 100),
            "probability": np.clip(out["p"] + rng.normal(0, 0.05, len(ppl)), 0.001, 0.999)}))
    df = pd.concat(rows, ignore_index=True)
    with engine.begin() as c:
        db.bulk_insert(c, scores, df)
    won = set(ppl["person_id"][out["y"]].astype(int))
    return df, won


def _pandas_replay(df: pd.DataFrame, won: set[int], t: float, by: str, min_grade: str) -> dict:
    start = pd.Timestamp(END) - pd.Timedelta(weeks=WEEKS)
    w = df[(pd.to_datetime(df.score_date) >= start) & (pd.to_datetime(df.score_date) < pd.Timestamp(END))]
    if by == "score":
        ok = w.grade.isin(["A", "B", "C", "D"][: "ABCD".index(min_grade) + 1]) & (w.score >= t)
    else:
        ok = w.probability >= t
    mql = w[ok].sort_values("score_date").groupby("person_id").first()
    in_window_won = won & set(w.person_id)
    captured = sum(int(p) in won for p in mql.index)
    return {"mqls": len(mql), "wins_captured": captured,
            "wins_below_line": len(in_window_won) - captured,
            "expected_wins": round(float(mql.probability.sum()), 1)}


@pytest.mark.parametrize("by,capacity", [("score", 12.0), ("probability", 6.0)])
def test_recommended_threshold_fits_capacity_and_matches_replay(engine, make_ctx, by, capacity):
    df, won = _scored_warehouse(engine)
    ctx = make_ctx(H.config(), engine)
    res = backtest(ctx.settings, engine, END, capacity=capacity, weeks=WEEKS, by=by)
    rec = res["recommended"]
    assert rec["mqls_per_day"] <= capacity
    assert rec["mqls"] <= capacity * res["days"]
    hand = _pandas_replay(df, won, rec["threshold"], by, ctx.settings.qualification.min_grade)
    assert rec["mqls"] == hand["mqls"]
    assert rec["wins_captured"] == hand["wins_captured"]
    assert rec["wins_below_line"] == hand["wins_below_line"]
    assert rec["expected_wins"] == pytest.approx(hand["expected_wins"], abs=0.11)
    # it fills capacity: the next lower threshold seen in the data would exceed it
    m = df.score.where(df.grade.isin(list("AB"))) if by == "score" else df.probability
    start = pd.Timestamp(END) - pd.Timedelta(weeks=WEEKS)
    inwin = (pd.to_datetime(df.score_date) >= start) & (pd.to_datetime(df.score_date) < pd.Timestamp(END))
    best = m[inwin].groupby(df.person_id[inwin]).max()      # each person's highest value
    lower = best[best < rec["threshold"]].max()
    more = _pandas_replay(df, won, lower, by, ctx.settings.qualification.min_grade)
    assert more["mqls"] > capacity * res["days"]
    cur = res["current"] if by == "score" else None
    if cur is not None:
        hand_cur = _pandas_replay(df, won, ctx.settings.qualification.min_score, by,
                                  ctx.settings.qualification.min_grade)
        assert cur["wins_captured"] == hand_cur["wins_captured"]


def test_cli_prints_recommendation_and_changes_nothing(engine, make_ctx, capsys):
    _scored_warehouse(engine)
    ctx = make_ctx(H.config(), engine)
    before = ctx.settings.config_path.read_text()
    assert main(["qualify", "backtest", "-c", str(ctx.settings.config_path), "--capacity", "10",
                 "--date", str(END), "--weeks", str(WEEKS)]) == 0
    out = capsys.readouterr().out
    assert "recommended" in out and "current" in out
    assert "qualification.min_score" in out and "nothing has been changed" in out
    assert ctx.settings.config_path.read_text() == before
    # per rep with no reps configured: a one-line error, not a traceback
    assert main(["qualify", "backtest", "-c", str(ctx.settings.config_path), "--capacity", "3",
                 "--per", "rep"]) != 0
    assert "routing.reps" in capsys.readouterr().err


@pytest.mark.slow      # four daily pipeline runs and a feedback run of the real steps
def test_backtest_on_demo_data_fits_capacity_and_matches_pandas(tmp_path, db_url, monkeypatch):
    """The demo generator's leads through the real daily pipeline for several days (scores
    stored each day, handoffs made), the simulated sales team's outcomes loaded by the feedback
    step; the backtest's recommended threshold fits capacity and its wins captured equal a
    replay in plain pandas over the stored tables."""
    from datetime import timedelta

    import sqlalchemy as sa

    from leadflow import config as cfg
    from leadflow import demo, pipeline
    from leadflow.context import RunContext, make_run_id
    from leadflow.demo.crm import handoffs_frame, simulate_outcomes, write_outcomes
    from leadflow.store.schema import handoffs, outcomes
    from tests.conftest import demo_config

    days, end = 4, date(2026, 3, 6)
    settings = cfg.load(demo_config(tmp_path, db_url, monkeypatch))
    demo.generate(tmp_path / "data", leads=500, seed=3, days=days, end_date=end)
    eng = db.engine(db_url)
    for k in range(days - 1, -1, -1):
        d = end - timedelta(days=k)
        pipeline.run_daily(RunContext(settings, eng, d, make_run_id("test", d), "test"))
    o = simulate_outcomes(handoffs_frame(eng), tmp_path / "data", None, seed=1)
    write_outcomes(o, tmp_path / "data", end)
    d = end + timedelta(days=1)
    pipeline.run_steps(RunContext(settings, eng, d, make_run_id("fb", d), "fb"),
                       pipeline.DAILY_STEPS[:2] + pipeline.FEEDBACK_STEPS)   # land, check, apply
    stop = end + timedelta(days=1)
    sc = db.read_df(eng, sa.select(scores.c.person_id, scores.c.score_date, scores.c.grade,
                                   scores.c.score, scores.c.probability))
    sc["score_date"] = pd.to_datetime(sc["score_date"])
    assert sc["score_date"].dt.date.nunique() == days and len(sc) > 0
    won = db.read_df(eng, sa.select(handoffs.c.person_id, outcomes.c.status).join(
        outcomes, outcomes.c.handoff_id == handoffs.c.handoff_id))
    won_people = set(won.loc[won["status"].isin(["opportunity", "won"]), "person_id"].astype(int))
    assert won_people, "the simulated sales team won nothing: nothing to replay"
    capacity = round(sc["person_id"].nunique() / 7 / 3, 1)      # a third of the scored people
    res = backtest(settings, eng, stop, capacity=capacity, weeks=1, by="score")
    rec = res["recommended"]
    assert rec["mqls_per_day"] <= capacity and rec["mqls"] <= capacity * res["days"]
    # independent replay: who first reached the threshold (grade at or above min_grade)
    q = settings.qualification
    ok_grades = list("ABCD"[: "ABCD".index(q.min_grade) + 1])
    w = sc[(sc.score_date >= pd.Timestamp(stop - timedelta(days=7))) & (sc.score_date < pd.Timestamp(stop))]
    mql = w[w.grade.isin(ok_grades) & (w.score >= rec["threshold"])].groupby("person_id").size()
    assert rec["mqls"] == len(mql) > 0
    assert rec["wins_captured"] == sum(int(p) in won_people for p in mql.index)
    assert rec["wins_below_line"] == len(won_people & set(w.person_id.astype(int))) - rec["wins_captured"]

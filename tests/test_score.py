"""Scoring: rules, decay, caps, grades, reasons, the daily step, training gate and fallbacks."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from leadflow.config import Scoring
from leadflow.score import engagement, reasons, rules
from leadflow.score.features import FeatureSpec, LeakageError, guard, separation_warnings, single_feature_auc
from leadflow.store import db
from tests import score_helpers as H

AS_OF = datetime(2026, 11, 26, 23, 59, 59)


def scoring(**over) -> Scoring:
    return Scoring.model_validate({**H.SCORING, **over})


# --------------------------------------------------------------------------- rules and grades
def test_fit_rules_match_case_insensitively_and_by_range():
    people = pd.DataFrame({
        "seniority": ["VP", "manager", None, "student"],
        "job_function": ["Marketing ", "sales", "marketing", None],
        "company_size": [500, 50, None, 1000],
        "is_free_mail": [False, True, None, True],
    })
    c = rules.fit_contributions(people, scoring())
    fit = c.sum(axis=1).to_numpy()
    # VP(30) + marketing(15) + size>=200(15); manager: free mail -20; None: marketing 15;
    # student: -40 + size 15 - 20
    assert fit.tolist() == [60.0, -20.0, 15.0, -45.0]
    assert rules.grade(fit, scoring()).tolist() == ["A", "D", "C", "D"]


def test_rule_operators_contains_and_is_null():
    s = Scoring.model_validate({"fit_rules": [
        {"field": "job_title", "contains": "market", "points": 5, "reason": "x"},
        {"field": "industry", "is_null": True, "points": -3, "reason": "y"},
        {"field": "missing_col", "equals": "a", "points": 100, "reason": "z"}]})
    df = pd.DataFrame({"job_title": ["Head of MARKETING", "CFO"], "industry": [None, "retail"]})
    assert rules.fit_contributions(df, s).sum(axis=1).tolist() == [2.0, 0.0]


def test_grade_boundaries_and_score_label():
    s = scoring()
    assert rules.grade([45, 44.9, 25, 10, 9.99], s).tolist() == ["A", "B", "B", "C", "D"]
    total = rules.total_score(np.array([60.0, -50.0]), np.array([80.0, 10.0]), s)
    assert total.tolist() == [100.0, 0.0]                    # clipped to 0-100
    assert rules.label("B", 72.4) == "B / 72"
    eng_only = rules.total_score(np.array([60.0]), np.array([30.0]), scoring(score_from="engagement"))
    assert eng_only.tolist() == [30.0]


# --------------------------------------------------------------------------- decay and caps
def _touches(rows):
    return pd.DataFrame(rows, columns=["person_id", "touch_type", "occurred_at"])


def test_half_life_decay_halves_points_each_half_life():
    t = _touches([(1, "demo_request", AS_OF - timedelta(days=14)),
                  (2, "demo_request", AS_OF - timedelta(days=28)),
                  (3, "demo_request", AS_OF)])
    c = engagement.contributions(t, scoring(), AS_OF)
    pts = engagement.points(c, pd.Index([1, 2, 3, 4]))
    assert pts.round(6).tolist() == [20.0, 10.0, 40.0, 0.0]


def test_step_decay_uses_age_bands():
    s = scoring(decay="step", decay_steps=[{"max_age_days": 7, "factor": 1.0},
                                           {"max_age_days": 30, "factor": 0.5}])
    t = _touches([(1, "pricing_page", AS_OF - timedelta(days=3)),
                  (2, "pricing_page", AS_OF - timedelta(days=20)),
                  (3, "pricing_page", AS_OF - timedelta(days=31))])
    pts = engagement.points(engagement.contributions(t, s, AS_OF), pd.Index([1, 2, 3]))
    assert pts.tolist() == [10.0, 5.0, 0.0]


def test_daily_cap_per_touch_type_and_future_touches_ignored():
    s = scoring(half_life_days=1e9)                         # no decay: count points exactly
    day1 = AS_OF - timedelta(days=2)
    rows = [(1, "pricing_page", day1 + timedelta(minutes=i)) for i in range(6)]      # cap 3
    rows += [(1, "pricing_page", day1 + timedelta(days=1, minutes=i)) for i in range(2)]
    rows += [(1, "unsubscribe", day1), (1, "demo_request", AS_OF + timedelta(hours=1))]
    rows += [(1, "webinar", day1)]                          # type without a rule: no points
    c = engagement.contributions(_touches(rows), s, AS_OF)
    by_type = c.set_index("touch_type")["points"].round(6).to_dict()
    assert by_type == {"pricing_page": 50.0, "unsubscribe": -25.0}
    assert engagement.points(c, pd.Index([1])).round(6).tolist() == [25.0]


def test_per_row_scoring_time_sees_only_earlier_touches():
    t = _touches([(1, "demo_request", AS_OF - timedelta(days=5))] * 1)
    s = scoring(half_life_days=1e9)
    as_of = pd.Series([AS_OF - timedelta(days=6)])
    assert engagement.contributions(t, s, as_of).empty


# --------------------------------------------------------------------------- reasons
def test_profile_and_touch_reasons_in_plain_words():
    people = pd.DataFrame({"job_title": ["VP of Marketing", None], "company_size": [500, 12000],
                           "industry": ["Software", "education"], "seniority": ["vp", "ic"],
                           "job_function": ["marketing", "it"], "is_free_mail": [False, True]})
    s = scoring()
    fc = rules.fit_contributions(people, s)
    t = _touches([(0, "demo_request", AS_OF - timedelta(days=2, hours=3)),
                  (0, "pricing_page", AS_OF - timedelta(days=1)),
                  (0, "pricing_page", AS_OF - timedelta(days=1, hours=2)),
                  (1, "email_click", AS_OF)])
    ec = engagement.contributions(t, s, AS_OF, key="person_id")
    out = reasons.top_reasons(2, reasons.fit_candidates(people, fc, s),
                              reasons.engagement_candidates(ec, pd.Series([0, 1], index=[0, 1]), s))
    assert out[0] == ["VP of Marketing at a 500-person software company",
                      "Requested a demo 2 days ago",
                      "Viewed the pricing page twice (last yesterday)"]
    assert out[1][0] == "Uses a free-mail address"
    assert "Works at an 12,000-person education company" not in out[1]
    assert "Works at a 12,000-person education company" in out[1]
    assert len(out[1]) == 3 and "Clicked an email once (last today)" in out[1]


def test_at_most_three_reasons_one_per_topic():
    cand = pd.DataFrame({"row": [0, 0, 0, 0, 0], "weight": [5, 50, -40, 30, 49],
                         "text": ["a", "b", "c", "d", "b2"],
                         "topic": ["t1", "t2", "t3", "t4", "t2"]})
    assert reasons.top_reasons(2, cand) == [["b", "c", "d"], [reasons.NO_SIGNAL]]


# --------------------------------------------------------------------------- leakage guard
def test_guard_refuses_after_contact_features_by_name():
    specs = [FeatureSpec("industry", "categorical"), FeatureSpec("call_notes", "categorical",
                                                                 "after_contact")]
    with pytest.raises(LeakageError, match="call_notes"):
        guard(specs)
    assert guard(specs, allow_leaky=True) == specs


def test_single_feature_separation_warns():
    rng = np.random.default_rng(0)
    y = rng.random(400) < 0.4
    X = pd.DataFrame({"tag": np.where(y, "will buy", "ringing"), "noise": rng.random(400)})
    specs = [FeatureSpec("tag", "categorical"), FeatureSpec("noise", "numeric")]
    aucs = single_feature_auc(X[:300], y[:300], X[300:], y[300:], specs)
    assert aucs["tag"] == 1.0 and aucs["noise"] < 0.7
    w = separation_warnings(aucs)
    assert len(w) == 1 and "tag" in w[0]


# --------------------------------------------------------------------------- the daily step
def test_score_people_writes_once_per_day_rules_only(engine, make_ctx):
    from leadflow.score import score_people
    H.populate(engine, n=300, outcomes_share=0.1)
    with engine.begin() as c:   # an erased person and a customer are not scored
        c.exec_driver_sql("UPDATE people SET erased_at = created_at WHERE person_id = 1")
        c.exec_driver_sql("UPDATE people SET lifecycle_stage = 'customer' WHERE person_id = 2")
    ctx = make_ctx(H.config(), engine)
    first = score_people(ctx)
    assert first["scored"] == 298 and sum(first["by_grade"].values()) == 298
    assert first["model"].startswith("rules only:") and "< 50" in first["model"]
    again = score_people(ctx)
    assert set(first["seconds"]) == {"read_people", "read_touches", "load_model", "score", "write"}
    first.pop("seconds"), again.pop("seconds")
    assert again == first
    s = db.read_df(engine, "SELECT * FROM scores")
    assert len(s) == 298 and set(s["score_date"].astype(str)) == {"2026-11-26"}
    assert s["probability"].isna().all() and not s["person_id"].isin([1, 2]).any()
    rs = s["reasons"].map(lambda r: json.loads(r) if isinstance(r, str) else r)
    assert rs.map(len).between(1, 3).all()


def test_train_with_too_few_outcomes_keeps_rules(engine, make_ctx):
    from leadflow.score import train_model
    H.populate(engine, n=200, outcomes_share=0.2)
    out = train_model(make_ctx(H.config(min_conversions=100), engine))
    assert out["status"] == "rules_only" and out["conversions"] < 100
    assert out["message"].startswith(f"rules only: {out['conversions']} conversions < 100")
    assert db.read_df(engine, "SELECT * FROM models").empty


def test_train_promote_score_with_model(engine, make_ctx):
    from leadflow.score import registry, score_people, train_model
    H.populate(engine, n=1200)
    ctx = make_ctx(H.config(algorithms=["logistic"]), engine)
    out = train_model(ctx)
    assert out["status"] == "promoted", out
    assert out["roc_auc"] > out["baseline_roc_auc"]          # beats the rules on the holdout
    row = registry.current(engine)
    assert row["version"] == out["version"]
    feats = {f["name"] for f in row["features"]}
    assert "plan_interest" in feats and "call_notes" not in feats and "lifecycle_stage" not in feats
    # point in time: the demo request made after each handoff must not be visible; with it
    # the model would be near perfect
    assert out["roc_auc"] < 0.9
    again = train_model(ctx)                                   # same data: same version, no dupes
    assert again["version"] == out["version"] and len(registry.list_models(engine)) == 1
    res = score_people(ctx)
    assert res["model"] == f"model {out['version']}"
    s = db.read_df(engine, "SELECT probability, model_version, reasons FROM scores")
    assert s["probability"].between(0, 1).all() and (s["model_version"] == out["version"]).all()


def test_promotion_gate_keeps_live_model_when_not_better(tmp_path):
    """A candidate must beat the live model on the same holdout by more than model.min_gain."""
    import sqlalchemy as sa

    from leadflow import config as cfg
    from leadflow.score import registry
    from leadflow.score.train import train
    url = f"sqlite:///{tmp_path / 'w.db'}"
    eng = db.engine(url)
    db.init(eng)
    rng = np.random.default_rng(3)
    n = 2000
    X = pd.DataFrame({"industry": rng.choice(["a", "b", "c"], n), "fit_points": rng.normal(size=n),
                      "engagement_points": rng.normal(size=n)})
    z = (X["industry"] == "a") * 1.5 + 0.8 * X["engagement_points"] - 0.7
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).to_numpy(dtype=int)
    times = pd.Series(pd.date_range("2026-01-01", periods=n, freq="h"))
    doc = H.config(min_gain=0.02, algorithms=["logistic"])
    doc["model"]["artifacts_dir"] = str(tmp_path / "models")
    s = cfg.parse(doc)
    s.config_path = tmp_path / "leadflow.yaml"
    X["industry"] = X["industry"].astype(object)
    first = train(s, eng, AS_OF, frame=(X, y, times))
    assert first["status"] == "promoted"
    s.model.algorithms = ["gradient_boosting"]    # the truth is linear: boosting cannot win by 0.02
    second = train(s, eng, AS_OF, frame=(X, y, times))
    assert second["version"] != first["version"]
    assert second["status"] == "candidate" and "kept" in second["message"]
    assert registry.current(eng)["version"] == first["version"]
    registry.promote(eng, second["version"])                  # an operator may overrule
    st = dict(db.read_df(eng, sa.text("SELECT version, status FROM models")).values)
    assert st == {first["version"]: "retired", second["version"]: "promoted"}
    eng.dispose()
    db._ENGINES.pop(url, None)


def test_write_scores_upserts_same_day_and_keeps_others(engine):
    """The fast writer (driver executemany / COPY) inserts, then rewrites a day's rows in place."""
    from datetime import date

    from leadflow.score.step import write_scores
    shared = ["Senior title", "Requested a demo today"]
    out = pd.DataFrame({"person_id": [1, 2, 3], "fit_points": [30.0, 0.0, -20.0],
                        "grade": ["B", "D", "D"], "engagement_points": [40.0, 0.0, 1.5],
                        "score": [70.0, 0.0, 0.0], "probability": [0.42, np.nan, 0.1],
                        "model_version": ["m1", None, "m1"], "reasons": [shared, ["x"], shared],
                        "score_date": date(2026, 11, 26), "run_id": "r1"})
    with engine.begin() as c:
        write_scores(c, out)
        write_scores(c, out.assign(score_date=date(2026, 11, 27)))
    with engine.begin() as c:
        write_scores(c, out.assign(score=[71.0, 5.0, 0.0], run_id="r2"))
    s = db.read_df(engine, "SELECT * FROM scores ORDER BY score_date, person_id")
    assert len(s) == 6
    day1 = s[s["score_date"].astype(str) == "2026-11-26"]
    assert day1["score"].tolist() == [71.0, 5.0, 0.0] and set(day1["run_id"]) == {"r2"}
    assert day1["probability"].isna().tolist() == [False, True, False]
    assert day1["model_version"].isna().tolist() == [False, True, False]
    rs = day1["reasons"].map(lambda r: json.loads(r) if isinstance(r, str) else r).tolist()
    assert rs == [shared, ["x"], shared]

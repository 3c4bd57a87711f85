"""Training on the warehouse: too few of either outcome says so in one line, a time split at a
date, the naive-Bayes baseline beside the model, and wins-only outcomes with aging."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from leadflow.cli import main
from leadflow.score import train as tr
from leadflow.store import db
from leadflow.store.schema import outcomes
from tests import score_helpers as H

AS_OF = "2026-11-26"


def _only_wins(engine) -> int:
    """Delete every non-winning outcome: what a CRM that exports only won deals gives."""
    with engine.begin() as c:
        n = c.execute(outcomes.delete().where(outcomes.c.status != "opportunity")).rowcount
    return n


def test_too_few_negatives_says_so_in_one_line_and_keeps_rules(engine, make_ctx, capsys):
    H.populate(engine, n=600)
    _only_wins(engine)
    ctx = make_ctx(H.config(), engine)
    assert main(["model", "train", "-c", str(ctx.settings.config_path), "--date", AS_OF]) == 0
    out = capsys.readouterr()
    line = [x for x in out.out.splitlines() if x.strip()]
    assert len(line) == 1, out.out
    assert line[0].startswith("rules only: 0 non-converted handoffs (0 inferred by aging) < 30 "
                              "(model.min_negatives)")
    assert "aging_days" in line[0] and "Traceback" not in out.err
    assert db.read_df(engine, "SELECT * FROM models").empty


def test_split_date_holdout_and_naive_bayes_beside_the_model(engine, make_ctx, capsys):
    info = H.populate(engine, n=900)
    ctx = make_ctx(H.config(algorithms=["logistic"]), engine)
    handed = pd.to_datetime(info["people"]["created_at"]) + pd.Timedelta(days=6)
    split = (handed.sort_values().iloc[int(0.7 * len(handed))]).date()
    out = tr.train(ctx.settings, engine, ctx.as_of, split_date=split)
    assert out["status"] != "rules_only", out
    assert out["holdout"]["rows"] == int((handed.dt.date >= split).sum())
    assert pd.Timestamp(out["holdout"]["from"]).date() >= split
    nb = out["naive_bayes"]
    assert 0.5 < nb["roc_auc"] < 1 and nb["calibration_error"] is not None
    assert main(["model", "train", "-c", str(ctx.settings.config_path), "--date", AS_OF,
                 "--split-date", str(split)]) == 0
    text = capsys.readouterr().out
    assert f"logistic ROC AUC {out['roc_auc']} vs naive Bayes baseline {nb['roc_auc']}" in text
    # a split that leaves the holdout empty: one line, no model
    late = tr.train(ctx.settings, engine, ctx.as_of, split_date=date(2030, 1, 1))
    assert late["status"] == "rules_only"
    assert late["message"].startswith("rules only: the holdout slice has 0 examples")


def test_wins_only_with_aging_trains_on_inferred_losses(engine, make_ctx, monkeypatch):
    H.populate(engine, n=900)
    _only_wins(engine)
    ctx = make_ctx(H.config(algorithms=["logistic"]), engine)
    monkeypatch.setattr(tr, "aging", lambda settings: ({}, 30))
    ex = tr.examples(engine, ctx.as_of, ctx.settings)
    assert ex["inferred"].sum() == (~ex["converted"]).sum() > 0     # every loss inferred
    # a handoff younger than the aging window is still open: left out
    early = tr.examples(engine, pd.Timestamp("2026-06-20"), ctx.settings)
    handed = pd.to_datetime(early["as_of"])
    assert (handed[early["inferred"]] + pd.Timedelta(days=30) <= pd.Timestamp("2026-06-20")).all()
    out = tr.train(ctx.settings, engine, ctx.as_of)
    assert out["status"] == "promoted" and out["inferred_negatives"] > 0, out


def test_categorical_bayes_handles_unseen_levels_and_numbers():
    from leadflow.score import model as mdl
    from leadflow.score.features import FeatureSpec
    rng = np.random.default_rng(0)
    n = 600
    X = pd.DataFrame({"c": rng.choice(list("abc"), n), "f": rng.random(n) < 0.5,
                      "x": rng.normal(size=n)})
    y = ((X["c"] == "a") | (X["x"] > 1)).to_numpy(dtype=int)
    specs = [FeatureSpec("c", "categorical"), FeatureSpec("f", "boolean"),
             FeatureSpec("x", "numeric")]
    m = mdl.fit("naive_bayes", specs, X, y)
    new = pd.DataFrame({"c": ["zzz", "a", None], "f": [None, True, False], "x": [np.nan, 0, 5]})
    p = m.raw(new)
    assert p.shape == (3,) and np.isfinite(p).all()
    assert p[1] > p[0]                                  # "a" converts; an unseen level is neutral
    with pytest.raises(ValueError):
        mdl.build("nope", specs)


def test_warehouse_features_include_first_campaign_and_capture_time():
    from leadflow import config as cfg
    from leadflow.score import warehouse
    settings = cfg.parse(H.config())
    rng = np.random.default_rng(0)
    ppl = H.people_frame(3, pd.Timestamp("2026-06-01").to_pydatetime(), rng)
    ppl["created_at"] = pd.to_datetime(["2026-03-02 09:15", "2026-12-27 23:59", "2026-07-04 00:00"])
    ppl["first_campaign_id"] = ["spring-1", None, "summer-2"]
    tch = pd.DataFrame({"person_id": pd.Series(dtype=int), "touch_type": pd.Series(dtype=object),
                        "occurred_at": pd.Series(dtype="datetime64[ns]")})
    ex = pd.DataFrame({"person_id": ppl["person_id"], "as_of": pd.Timestamp("2027-01-10")})
    X, _, _ = warehouse.build_frame(ex, ppl, tch, settings)
    assert X["first_touch_month"].tolist() == ["Mar", "Dec", "Jul"]
    assert X["first_touch_weekday"].tolist() == ["Mon", "Sun", "Sat"]
    assert X["first_touch_hour"].tolist() == ["h09", "h23", "h00"]
    assert X["first_campaign_id"].tolist()[0] == "spring-1"
    names = {s.name: s for s in warehouse.feature_specs(settings)}
    assert {"first_campaign_id", "first_touch_month", "first_touch_weekday",
            "first_touch_hour"} <= set(names)
    assert all(names[c].known_at == "capture" for c in ("first_campaign_id", "first_touch_hour"))

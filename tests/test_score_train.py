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


def test_wins_only_with_aging_trains_on_inferred_losses(engine, make_ctx):
    """No MQL events recorded here: the aging clock starts at the handoff (labels.aging_start)."""
    H.populate(engine, n=900)
    _only_wins(engine)
    ctx = make_ctx({**H.config(algorithms=["logistic"]), "feedback": {"aging_days": 30}}, engine)
    ex = tr.examples(engine, ctx.as_of, ctx.settings)
    assert ex["inferred"].sum() == (~ex["converted"]).sum() > 0     # every loss inferred
    # mid-way, a handoff with no win younger than the aging window is still open: left out
    mid = pd.Timestamp("2026-08-01")
    early = tr.examples(engine, mid, ctx.settings)
    handed = pd.to_datetime(early["as_of"])
    assert early["inferred"].any()
    assert (handed[early["inferred"]] + pd.Timedelta(days=30) <= mid).all()
    assert (handed <= mid - pd.Timedelta(days=30)).all()     # won or not: not settled yet
    all_handed = db.read_df(engine, "SELECT handed_off_at FROM handoffs")["handed_off_at"]
    assert len(early) < int((pd.to_datetime(all_handed) <= mid).sum())
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


def _load_history(engine, n: int) -> tuple[dict, pd.Timestamp]:
    """The generated two-year MQL -> won-deal history written straight into the warehouse as
    the load would leave it (people keyed by the MQL id, one handoff at first contact, the wins
    as outcomes); returns the history's config document and its end."""
    import yaml

    from leadflow.demo import history as hist
    from leadflow.store.schema import handoffs, people
    h = hist.history_frames(n_leads=n, seed=7)
    m = h.mqls
    created = pd.to_datetime(m["first_contact_date"])
    pid = np.arange(1, len(m) + 1)
    ppl = pd.DataFrame({
        "person_id": pid, "source_key": "mqls:" + m["mql_id"], "lifecycle_stage": "mql",
        "cycle": 1, "opt_out": False, "do_not_contact": False, "is_competitor": False,
        "first_source": "mqls", "first_channel": m["origin"].map(hist.CHANNEL_MAP),
        "first_campaign_id": m["campaign"], "created_at": created, "updated_at": created,
        "attributes": [{"origin": o, "landing_page_id": p}
                       for o, p in zip(m["origin"], m["landing_page_id"])]})
    ho = pd.DataFrame({"handoff_id": pid, "person_id": pid, "cycle": 1, "owner_rep": "sam",
                       "route_rule": "round_robin", "qualified_by": "threshold",
                       "run_date": created.dt.date, "handed_off_at": created,
                       "sla_breached": False, "status": "delivered"})
    key = pd.Series(pid, index=m["mql_id"])
    d = h.deals
    oc = pd.DataFrame({"source": "deals", "source_outcome_id": d["seller_id"],
                       "handoff_id": key.reindex(d["mql_id"]).to_numpy(),
                       "person_id": key.reindex(d["mql_id"]).to_numpy(), "status": "won",
                       "occurred_at": pd.to_datetime(d["won_date"])})
    with engine.begin() as c:
        db.bulk_insert(c, people, ppl)
        db.bulk_insert(c, handoffs, ho)
        db.bulk_insert(c, outcomes, oc)
    doc = yaml.safe_load(hist.HISTORY_CONFIG.format(channel_map="{}"))
    doc["model"] = {"min_conversions": 50, "artifacts_dir": "models"}
    return doc, created.max()


def test_history_wins_only_with_aging_beats_naive_bayes_on_a_time_split(engine, make_ctx):
    """Done-when 2 of issue 18 through the warehouse path: wins only, aging from the history's
    config, a time split at a date; the model's holdout ROC AUC beats naive Bayes beside it."""
    doc, end = _load_history(engine, 6000)
    ctx = make_ctx(doc, engine, run_date=end.date())
    out = tr.train(ctx.settings, engine, ctx.as_of, split_date=date(2025, 3, 1))
    assert out["status"] in ("promoted", "candidate"), out["message"]
    assert out["inferred_negatives"] > 0 and out["holdout"]["from"] >= "2025-03-01"
    # only handoffs older than the 180-day aging window are examples (won or not)
    assert pd.Timestamp(out["holdout"]["to"]) <= pd.Timestamp(ctx.as_of) - pd.Timedelta(days=180)
    print(f"history: {out['algorithm']} ROC AUC {out['roc_auc']} vs naive Bayes "
          f"{out['naive_bayes']['roc_auc']} ({out['examples']} examples, "
          f"{out['inferred_negatives']} inferred losses)")
    assert out["roc_auc"] > out["naive_bayes"]["roc_auc"]
    # without aging the same history has no negatives: one line, rules kept
    doc.pop("feedback")
    plain = tr.train(make_ctx(doc, engine, run_date=end.date()).settings, engine, ctx.as_of)
    assert plain["status"] == "rules_only" and "aging_days" in plain["message"]


def test_first_and_last_campaign_and_landing_page_point_in_time(engine, make_ctx):
    """The warehouse model sees the lead's first and last campaign and landing page as of each
    example's own moment: a later touch is invisible; query strings are not a different page."""
    from leadflow.score import warehouse
    from leadflow.store.schema import people, touches
    t0 = pd.Timestamp("2026-03-02 10:00")
    with engine.begin() as c:
        db.bulk_insert(c, people, pd.DataFrame({
            "person_id": [1, 2], "lifecycle_stage": "mql", "cycle": 1, "opt_out": False,
            "do_not_contact": False, "is_competitor": False, "first_campaign_id": ["spring", None],
            "created_at": t0, "updated_at": t0}))
        db.bulk_insert(c, touches, pd.DataFrame({
            "source": "web", "source_touch_id": ["a", "b", "c"], "person_id": [1, 1, 1],
            "touch_type": "page_view", "campaign_id": ["spring", None, "summer"],
            "url": ["https://x.test/a?utm_source=g", "https://x.test/b#top", "https://x.test/c"],
            "occurred_at": [t0, t0 + pd.Timedelta(days=5), t0 + pd.Timedelta(days=30)]}))
    ctx = make_ctx(H.config(), engine)
    ex = pd.DataFrame({"person_id": [1, 1, 2], "as_of": [t0 + pd.Timedelta(days=10),
                                                        t0 + pd.Timedelta(days=40), t0]})
    ppl = warehouse.read_people(engine)
    tch = warehouse.read_touches(engine, t0 + pd.Timedelta(days=40))
    X, _, _ = warehouse.build_frame(ex, ppl, tch, ctx.settings)
    assert X["first_landing_page"].tolist()[:2] == ["https://x.test/a", "https://x.test/a"]
    assert X["last_landing_page"].tolist()[:2] == ["https://x.test/b", "https://x.test/c"]
    assert X["last_campaign_id"].tolist()[:2] == ["spring", "summer"]   # b has no campaign: a's stays
    assert X.loc[2, ["first_landing_page", "last_landing_page", "last_campaign_id"]].isna().all()
    specs = {s.name: s for s in warehouse.feature_specs(ctx.settings)}
    for name in ("first_campaign_id", "last_campaign_id", "first_landing_page", "last_landing_page"):
        assert specs[name].kind == "categorical" and specs[name].known_at == "capture"

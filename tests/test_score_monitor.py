"""Weekly monitoring of the live model: PSI and calibration against hand computations, alerts."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sklearn.metrics import roc_auc_score

from leadflow.score import monitor, registry
from leadflow.store import db
from leadflow.store.schema import model_monitoring, scores
from tests import score_helpers as H


def test_psi_numeric_matches_hand_computation():
    ref = monitor.numeric_reference(np.arange(100, dtype=float), bins=4)
    assert ref["shares"] == [0.25, 0.25, 0.25, 0.25]
    lo, mid, hi = ref["edges"]
    actual = np.r_[np.full(10, lo - 1), np.full(20, mid - 1), np.full(30, hi - 1), np.full(40, hi + 1)]
    hand = sum((a - 0.25) * math.log(a / 0.25) for a in (0.1, 0.2, 0.3, 0.4))
    assert abs(monitor.psi(ref, actual) - hand) < 1e-4
    assert monitor.psi(ref, np.arange(100, dtype=float)) == 0.0


def test_psi_categorical_and_empty_bins():
    ref = monitor.categorical_reference(pd.Series(["a"] * 50 + ["b"] * 30 + [None] * 20))
    assert ref["levels"] == ["a", "b", "(missing)", "(other)"]
    got = monitor.psi(ref, pd.Series(["a"] * 20 + ["b"] * 30 + ["zzz"] * 50))
    e = [0.5, 0.3, 0.2, 0.0]
    a = [0.2, 0.3, 0.0, 0.5]
    hand = sum((max(x, 1e-4) - max(y, 1e-4)) * math.log(max(x, 1e-4) / max(y, 1e-4))
               for y, x in zip(e, a))
    assert abs(got - hand) < 1e-4


def test_calibration_by_band_matches_hand_computation():
    p = np.array([0.05, 0.05, 0.15, 0.55, 0.55, 0.95, 0.95, 0.95])
    y = np.array([0, 0, 1, 1, 0, 1, 1, 0])
    bands, ece = monitor.calibration_by_band(y, p)
    assert [b["band"] for b in bands] == ["0.0-0.1", "0.1-0.2", "0.5-0.6", "0.9-1.0"]
    assert [b["observed"] for b in bands] == [0.0, 1.0, 0.5, round(2 / 3, 4)]
    hand = (2 * 0.05 + 1 * 0.85 + 2 * 0.05 + 3 * abs(0.95 - 2 / 3)) / 8
    assert abs(ece - hand) < 1e-4


def _score_rows(out: dict, version: str, prob: np.ndarray) -> pd.DataFrame:
    ppl = out["people"]
    day = (pd.to_datetime(ppl["created_at"]) + pd.Timedelta(days=6)).dt.date
    return pd.DataFrame({"person_id": ppl["person_id"], "score_date": day, "fit_points": 0.0,
                         "grade": "B", "engagement_points": 0.0, "score": 50.0,
                         "probability": prob, "model_version": version})


def _hand(out: dict, prob: np.ndarray, week_end: date) -> pd.DataFrame:
    """An independent pandas replay of the closed cohort: outcome 16 days after creation."""
    ppl = out["people"]
    closed = (pd.to_datetime(ppl["created_at"]) + pd.Timedelta(days=16))
    start = pd.Timestamp(week_end) - pd.Timedelta(days=7)
    m = (closed >= start) & (closed < pd.Timestamp(week_end))
    return pd.DataFrame({"y": out["y"][m.to_numpy()].astype(int), "p": prob[m.to_numpy()]})


def test_weekly_check_stores_figures_and_alerts(engine, make_ctx):
    from leadflow.score import train_model
    out = H.populate(engine, n=1500)
    ctx = make_ctx(H.config(algorithms=["logistic"], monitoring={
        "psi_limit": 0.25, "calibration_limit": 0.25, "min_closed": 20}), engine)
    res = train_model(ctx)
    assert res["status"] == "promoted"
    version = res["version"]
    ref = registry.get(engine, version)["metrics"]
    ref = ref if isinstance(ref, dict) else __import__("json").loads(ref)
    ref = ref["reference"]
    assert ref["score"]["shares"] and ref["features"]

    honest = out["p"].astype(float)
    with engine.begin() as c:
        db.bulk_insert(c, scores, _score_rows(out, version, honest))
    week_end = date(2026, 8, 3)
    row = monitor.weekly(ctx.settings, engine, week_end)
    hand = _hand(out, honest, week_end)
    assert row["closed"] == len(hand) >= 20
    assert abs(row["roc_auc"] - roc_auc_score(hand.y, hand.p)) < 1e-4
    edges = np.array([0, .1, .2, .3, .4, .5, .6, .7, .8, .9, 1.0001])
    band = pd.cut(hand.p, edges, right=False)
    g = hand.groupby(band, observed=True).agg(n=("y", "size"), p=("p", "mean"), y=("y", "mean"))
    ece = float((g.n * (g.p - g.y).abs()).sum() / g.n.sum())
    assert abs(row["calibration_error"] - ece) < 1e-3
    # PSI of the week's scores against the stored training reference, by hand
    wk = _score_rows(out, version, honest)
    wk = wk[(wk.score_date >= date(2026, 7, 27)) & (wk.score_date < week_end)]
    assert row["scored"] == len(wk)
    cuts = np.r_[-np.inf, ref["score"]["edges"], np.inf]
    act = pd.cut(wk.probability, cuts, right=True).value_counts(normalize=True, sort=False).to_numpy()
    exp = np.asarray(ref["score"]["shares"])
    a, e = np.clip(act, 1e-4, None), np.clip(exp, 1e-4, None)
    assert abs(row["psi_score"] - float(((a - e) * np.log(a / e)).sum())) < 1e-3
    assert set(row["metrics"]["psi_features"]) == set(ref["features"])

    # a model that drifted: every probability pushed up -> calibration and PSI alerts
    shifted = np.clip(honest + 0.5, 0, 0.999)
    with engine.begin() as c:
        c.execute(scores.delete())
        db.bulk_insert(c, scores, _score_rows(out, version, shifted))
    row2 = monitor.weekly(ctx.settings, engine, week_end)
    assert row2["calibration_error"] > 0.25
    assert any("calibration" in a for a in row2["alerts"])
    assert any("PSI" in a and "score" in a for a in row2["alerts"])
    with engine.connect() as c:      # re-running a week rewrites its row
        assert c.execute(sa.select(sa.func.count()).select_from(model_monitoring)).scalar_one() == 1
    hist = monitor.history(engine, version)
    assert hist.iloc[0]["alerts"] == row2["alerts"]
    # the marketing report's model-health table shows the stored week and its alerts
    from leadflow.report.page import _model_health
    health = _model_health(engine)
    assert len(health) == 1 and "calibration" in health.iloc[0]["alerts"]

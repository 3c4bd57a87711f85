"""Watching the live model on realised outcomes, one week at a time.

Per week and live model version (stored in ``model_monitoring``; re-running a week rewrites it):

- **score stability**: population stability index (PSI) of the probabilities the model gave that
  week against the training window's (reference bins stored in the registry at training);
- **input stability**: PSI of the model's top features (largest permutation AUC loss at
  training) for the people it scored that week, against the training window;
- **calibration on the newly closed cohort**: handoffs whose outcome became known that week,
  with the probability the model gave on the day of the handoff: per score band mean predicted
  vs observed conversion, expected calibration error (ECE), and the cohort's ROC AUC.

PSI = sum over bins of (actual share - expected share) * ln(actual / expected), shares floored at
``EPS``; under 0.1 is stable, 0.1-0.2 worth a look, above ``model.monitoring.psi_limit`` (0.2) an
alert. ECE above ``model.monitoring.calibration_limit`` is an alert. A retrained model goes
through the same promotion gate as any candidate (``leadflow model train``).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sklearn.metrics import roc_auc_score
from sqlalchemy.engine import Engine

from leadflow.config import Settings
from leadflow.score import registry
from leadflow.store import db
from leadflow.store.schema import handoffs as handoffs_t
from leadflow.store.schema import model_monitoring as mon_t
from leadflow.store.schema import outcomes as outcomes_t
from leadflow.store.schema import scores as scores_t

EPS = 1e-4
BANDS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
POSITIVE = ("opportunity", "won")
NEGATIVE = ("rejected", "lost")


# --------------------------------------------------------------------------- figures
def numeric_reference(values: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Quantile bin edges of the reference values and the share in each bin."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if not len(v):
        return {"edges": [], "shares": []}
    edges = np.unique(np.quantile(v, np.linspace(0, 1, bins + 1))[1:-1])
    return {"edges": [float(e) for e in edges], "shares": _shares_numeric(v, list(edges))}


def _shares_numeric(v: np.ndarray, edges: list[float]) -> list[float]:
    v = np.asarray(v, dtype=float)
    v = v[~np.isnan(v)]
    # bin i holds edges[i-1] < x <= edges[i]; the first and last bins are open
    idx = np.searchsorted(np.asarray(edges, dtype=float), v, side="left")
    counts = np.bincount(idx, minlength=len(edges) + 1)
    return [float(c) / max(len(v), 1) for c in counts]


def categorical_reference(values: pd.Series, most: int = 20) -> dict[str, Any]:
    """Share of each of the ``most`` commonest levels (missing as "(missing)"), rest "(other)"."""
    s = values.astype("string").fillna("(missing)")
    vc = s.value_counts(normalize=True)
    top = vc.iloc[:most]
    levels = [str(x) for x in top.index]
    shares = [float(x) for x in top.to_numpy()]
    return {"levels": levels + ["(other)"], "shares": shares + [float(max(0.0, 1 - sum(shares)))]}


def _shares_categorical(values: pd.Series, levels: list[str]) -> list[float]:
    s = values.astype("string").fillna("(missing)")
    known = set(levels[:-1])
    s = s.where(s.isin(known), "(other)")
    vc = s.value_counts(normalize=True)
    return [float(vc.get(lv, 0.0)) for lv in levels]


def psi_from_shares(expected: list[float], actual: list[float]) -> float:
    e = np.clip(np.asarray(expected, dtype=float), EPS, None)
    a = np.clip(np.asarray(actual, dtype=float), EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def psi(reference: dict[str, Any], values: Any) -> float | None:
    """PSI of ``values`` against a stored reference (numeric edges or categorical levels)."""
    if "levels" in reference:
        act = _shares_categorical(pd.Series(values), reference["levels"])
    else:
        v = np.asarray(values, dtype=float)
        if not len(reference.get("shares", [])) or not np.isfinite(v).any():
            return None
        act = _shares_numeric(v, reference["edges"])
    return round(psi_from_shares(reference["shares"], act), 4)


def calibration_by_band(y: np.ndarray, p: np.ndarray, bands: tuple[float, ...] = BANDS
                        ) -> tuple[list[dict[str, Any]], float | None]:
    """Per fixed probability band: rows, mean predicted, observed rate; and the ECE
    (row-weighted mean |predicted - observed| over non-empty bands)."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if not len(y):
        return [], None
    idx = np.clip(np.searchsorted(np.asarray(bands[1:-1]), p, side="right"), 0, len(bands) - 2)
    n = np.bincount(idx, minlength=len(bands) - 1)
    ps = np.bincount(idx, weights=p, minlength=len(bands) - 1)
    ys = np.bincount(idx, weights=y, minlength=len(bands) - 1)
    rows, gap = [], 0.0
    for i in np.flatnonzero(n):
        pred, obs = ps[i] / n[i], ys[i] / n[i]
        gap += n[i] * abs(pred - obs)
        rows.append({"band": f"{bands[i]:.1f}-{bands[i + 1]:.1f}", "n": int(n[i]),
                     "predicted": round(float(pred), 4), "observed": round(float(obs), 4)})
    return rows, round(float(gap / len(y)), 4)


def reference(probabilities: np.ndarray, X: pd.DataFrame, specs: list[Any],
              importance: dict[str, float], top: int) -> dict[str, Any]:
    """What the registry keeps from the training window for later PSI checks."""
    kinds = {s.name: s.kind for s in specs}
    feats = [c for c in importance if c in X.columns][:top]
    out: dict[str, Any] = {"score": numeric_reference(probabilities), "features": {}}
    for c in feats:
        if kinds.get(c) == "numeric":
            out["features"][c] = numeric_reference(
                pd.to_numeric(X[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan))
        else:
            out["features"][c] = categorical_reference(X[c])
    return out


# --------------------------------------------------------------------------- the weekly check
def _closed_cohort(eng: Engine, version: str, start: datetime, end: datetime) -> pd.DataFrame:
    """Handoffs whose outcome became known in [start, end), with the label and the probability
    this model version gave the person on the handoff day."""
    q = sa.select(handoffs_t.c.handoff_id, handoffs_t.c.person_id, handoffs_t.c.handed_off_at,
                  outcomes_t.c.status, outcomes_t.c.occurred_at) \
        .join(outcomes_t, outcomes_t.c.handoff_id == handoffs_t.c.handoff_id) \
        .where(outcomes_t.c.occurred_at < end)
    o = db.read_df(eng, q)
    if o.empty:
        return pd.DataFrame(columns=["person_id", "score_date", "converted", "probability"])
    o["occurred_at"] = pd.to_datetime(o["occurred_at"])
    o = o[o["status"].isin(POSITIVE + NEGATIVE)]
    g = o.groupby("handoff_id").agg(person_id=("person_id", "first"),
                                    handed_off_at=("handed_off_at", "first"),
                                    closed_at=("occurred_at", "min"),
                                    converted=("status", lambda s: s.isin(POSITIVE).any()))
    g = g[(g["closed_at"] >= start) & (g["closed_at"] < end)].reset_index()
    if g.empty:
        return g.assign(score_date=[], probability=[])
    g["score_date"] = pd.to_datetime(g["handed_off_at"]).dt.date
    sc = db.read_df(eng, sa.select(scores_t.c.person_id, scores_t.c.score_date,
                                   scores_t.c.probability)
                    .where(scores_t.c.model_version == version)
                    .where(scores_t.c.person_id.in_([int(x) for x in g["person_id"].unique()])))
    sc["score_date"] = pd.to_datetime(sc["score_date"]).dt.date
    m = g.merge(sc, on=["person_id", "score_date"], how="inner")
    return m[m["probability"].notna()]


def _week_features(eng: Engine, settings: Settings, people_ids: list[int], as_of: datetime,
                   columns: list[str]) -> pd.DataFrame:
    from leadflow.score import warehouse
    if not people_ids or not columns:
        return pd.DataFrame(columns=columns)
    ppl = warehouse.read_people(eng)
    ppl = ppl[ppl["person_id"].isin(people_ids)]
    tch = warehouse.read_touches(eng, as_of)
    tch = tch[tch["person_id"].isin(people_ids)]
    ex = pd.DataFrame({"person_id": ppl["person_id"].to_numpy(), "as_of": as_of})
    X, _, _ = warehouse.build_frame(ex, ppl, tch, settings)
    return X.reindex(columns=columns)


def weekly(settings: Settings, eng: Engine, week_end: date, *,
           computed_at: datetime | None = None) -> dict[str, Any] | None:
    """Compute, store and return the week ending (exclusive) on ``week_end`` for the live
    model; None when no model is live."""
    live = registry.current(eng)
    if live is None:
        return None
    lim = settings.model.monitoring
    version = live["version"]
    metrics_json = live["metrics"] if isinstance(live["metrics"], dict) else json.loads(live["metrics"])
    ref = metrics_json.get("reference") or {}
    start_d = week_end - timedelta(days=7)
    start, end = datetime.combine(start_d, datetime.min.time()), datetime.combine(week_end, datetime.min.time())

    sc = db.read_df(eng, sa.select(scores_t.c.person_id, scores_t.c.score_date,
                                   scores_t.c.probability)
                    .where(scores_t.c.model_version == version)
                    .where(scores_t.c.score_date >= start_d, scores_t.c.score_date < week_end))
    sc = sc[sc["probability"].notna()]
    alerts: list[str] = []
    psi_score = psi(ref["score"], sc["probability"].to_numpy(dtype=float)) \
        if "score" in ref and len(sc) else None
    if psi_score is not None and psi_score > lim.psi_limit:
        alerts.append(f"score distribution shifted: PSI {psi_score:.3f} > {lim.psi_limit} "
                      "against the training window")
    psi_features: dict[str, float | None] = {}
    feats = list((ref.get("features") or {}).keys())
    if feats and len(sc):
        ids = [int(x) for x in sc["person_id"].unique()]
        X = _week_features(eng, settings, ids, end, feats)
        for c in feats:
            psi_features[c] = psi(ref["features"][c], X[c].to_numpy()
                                  if "levels" not in ref["features"][c] else X[c]) \
                if c in X.columns else None
            shift = psi_features[c]
            if shift is not None and shift > lim.psi_limit:
                alerts.append(f"input {c} shifted: PSI {shift:.3f} > {lim.psi_limit}")

    cohort = _closed_cohort(eng, version, start, end)
    y = cohort["converted"].to_numpy(dtype=int) if len(cohort) else np.array([], dtype=int)
    p = cohort["probability"].to_numpy(dtype=float) if len(cohort) else np.array([])
    bands, ece = calibration_by_band(y, p)
    judged = len(y) >= lim.min_closed
    auc = round(float(roc_auc_score(y, p)), 4) if judged and len(np.unique(y)) == 2 else None
    if judged and ece is not None and ece > lim.calibration_limit:
        alerts.append(f"calibration off on the {len(y)} outcomes closed this week: "
                      f"expected calibration error {ece:.3f} > {lim.calibration_limit}")
    row = {"version": version, "week_start": start_d,
           "computed_at": computed_at or datetime.utcnow().replace(microsecond=0),
           "scored": int(len(sc)), "closed": int(len(y)), "roc_auc": auc,
           "calibration_error": ece if judged else None, "psi_score": psi_score,
           "metrics": {"calibration": bands, "psi_features": psi_features,
                       "observed_rate": round(float(y.mean()), 4) if len(y) else None,
                       "mean_probability": round(float(p.mean()), 4) if len(p) else None,
                       "judged": judged},
           "alerts": alerts}
    with db.transaction(eng) as c:
        c.execute(mon_t.delete().where(mon_t.c.version == version,
                                       mon_t.c.week_start == start_d))
        c.execute(mon_t.insert(), [row])
    return row


def history(eng: Engine, version: str | None = None, weeks: int = 8) -> pd.DataFrame:
    """Stored weekly checks, newest first (all versions unless one is named)."""
    q = sa.select(mon_t).order_by(mon_t.c.week_start.desc(), mon_t.c.version)
    if version:
        q = q.where(mon_t.c.version == version)
    df = db.read_df(eng, q.limit(weeks * (1 if version else 10)))
    for c in ("metrics", "alerts"):
        if len(df):
            df[c] = df[c].map(lambda v: json.loads(v) if isinstance(v, str) else v)
    return df

"""Metrics for a probability score, and the fit-calibrate-compare routine both callers share.

Reported on held-out rows only: ROC AUC (ranking), PR AUC (ranking when positives are rare),
Brier score (probability accuracy), lift in the top decile (how much richer the top 10% is than
average - what a sales team feels), a ten-bin calibration table and the expected calibration
error (the count-weighted gap between predicted and observed rates).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from leadflow.score import model as mdl
from leadflow.score.features import FeatureSpec

log = logging.getLogger("leadflow.score")


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Equal-count bins of predicted probability: mean prediction vs observed rate."""
    order = np.argsort(p, kind="stable")
    out = []
    for chunk in np.array_split(order, bins):
        if len(chunk) == 0:
            continue
        out.append({"n": int(len(chunk)), "predicted": round(float(p[chunk].mean()), 4),
                    "observed": round(float(y[chunk].mean()), 4),
                    "p_min": round(float(p[chunk].min()), 4), "p_max": round(float(p[chunk].max()), 4)})
    return out


def lift_curve(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Per decile (highest scores first): conversion rate and lift over the base rate."""
    base = float(np.mean(y)) or 1e-9
    order = np.argsort(-p, kind="stable")
    out = []
    for i, chunk in enumerate(np.array_split(order, bins)):
        rate = float(y[chunk].mean()) if len(chunk) else 0.0
        out.append({"decile": i + 1, "n": int(len(chunk)), "rate": round(rate, 4),
                    "lift": round(rate / base, 3)})
    return out


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=float)
    both = len(np.unique(y)) == 2
    cal = calibration_table(y, p)
    n = sum(b["n"] for b in cal) or 1
    ece = sum(b["n"] * abs(b["predicted"] - b["observed"]) for b in cal) / n
    lifts = lift_curve(y, p)
    return {
        "n": int(len(y)), "positives": int(y.sum()), "base_rate": round(float(y.mean()), 4),
        "roc_auc": round(float(roc_auc_score(y, p)), 4) if both else None,
        "pr_auc": round(float(average_precision_score(y, p)), 4) if both else None,
        "brier": round(float(brier_score_loss(y, p)), 4),
        "lift_top_decile": lifts[0]["lift"] if lifts else None,
        "calibration_error": round(float(ece), 4),
        "calibration": cal, "lift": lifts,
    }


@dataclass
class Comparison:
    """The outcome of fitting every algorithm: per-algorithm metrics and the chosen model."""

    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    models: dict[str, mdl.Calibrated] = field(default_factory=dict)
    best: str = ""
    test_probability: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def model(self) -> mdl.Calibrated:
        return self.models[self.best]


def compare(specs: list[FeatureSpec], algorithms: list[str],
            train: tuple[pd.DataFrame, np.ndarray], cal: tuple[pd.DataFrame, np.ndarray] | None,
            test: tuple[pd.DataFrame, np.ndarray]) -> Comparison:
    """Fit each algorithm on ``train``, calibrate on ``cal``, choose by ``cal`` ROC AUC (so the
    test slice stays untouched by every decision), report everything on ``test``.

    ``cal=None`` (data without a time order): calibrate and choose on out-of-fold scores of
    the training rows instead, so all of them are used for fitting."""
    out = Comparison()
    choose: dict[str, float] = {}
    for algo in algorithms:
        t0 = time.perf_counter()
        m = mdl.fit(algo, specs, *train)
        if cal is None:
            m.fit_calibration_oof(*train)
            choose[algo] = float(roc_auc_score(train[1], m.oof_)) \
                if len(np.unique(train[1])) == 2 else 0.0
            m.oof_ = None
        else:
            raw_cal = m.raw(cal[0])
            choose[algo] = float(roc_auc_score(cal[1], raw_cal)) \
                if len(np.unique(cal[1])) == 2 else 0.0
            m.fit_calibration(*cal)
        fit_s = time.perf_counter() - t0
        p = m.predict_proba(test[0])
        res = metrics(test[1], p)
        res.update(fit_seconds=round(fit_s, 2), calibration=res["calibration"],
                   calibration_method=m.method, selection_roc_auc=round(choose[algo], 4))
        out.results[algo], out.models[algo], out.test_probability[algo] = res, m, p
        log.info("%s: holdout ROC AUC %s in %.1fs", algo, res["roc_auc"], fit_s)
    out.best = max(choose, key=lambda a: choose[a])
    return out


def naive_bayes_baseline(specs: list[FeatureSpec], train: tuple[pd.DataFrame, np.ndarray],
                         cal: tuple[pd.DataFrame, np.ndarray] | None,
                         test: tuple[pd.DataFrame, np.ndarray]) -> dict[str, Any]:
    """The same holdout metrics for categorical naive Bayes (what Odoo's predictive lead
    scoring does), fitted and calibrated on the same slices: does the model earn its place?"""
    t0 = time.perf_counter()
    m = mdl.fit("naive_bayes", specs, *train)
    if cal is not None:
        m.fit_calibration(*cal)
    else:
        m.fit_calibration_oof(*train)
        m.oof_ = None
    res = metrics(test[1], m.predict_proba(test[0]))
    res.update(fit_seconds=round(time.perf_counter() - t0, 2), calibration_method=m.method)
    return res

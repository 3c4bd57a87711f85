"""The predictive model: two candidate families, a held-out comparison and calibration.

- ``logistic``: one-hot + scaled inputs, L2-regularised logistic regression. Transparent: its
  coefficient x centred value per feature is the attribution behind a lead's reasons.
- ``gradient_boosting``: scikit-learn's HistGradientBoosting with native categorical splits and
  missing values, early-stopped; usually a little sharper on interactions.

Both are fitted on the training slice, calibrated on the next slice (isotonic when it holds
enough rows, else Platt/sigmoid) and judged on the latest slice. The logistic model is always
kept as the explainer, even when boosting wins, so reasons stay linear and cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from leadflow.score.features import FeatureSpec, FramePrep

ALGORITHMS = ("logistic", "gradient_boosting")


def _linear_pipeline(specs: list[FeatureSpec], C: float = 1.0) -> Pipeline:
    prep = FramePrep([s.as_dict() for s in specs])
    num = [s.name for s in specs if s.kind != "categorical"]
    cat = [s.name for s in specs if s.kind == "categorical"]
    ct = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True,
                                            keep_empty_features=True), StandardScaler()), num),
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=True), cat),
    ], sparse_threshold=1.0, verbose_feature_names_out=False)
    lr = LogisticRegression(C=C, max_iter=3000, tol=1e-5)
    return Pipeline([("prep", prep), ("encode", ct), ("clf", lr)])


GB_MAX_ROWS = 300_000      # boosting fits on at most this many rows (a seeded sample)


class SampledHGB(HistGradientBoostingClassifier):
    """HistGradientBoosting that fits on a seeded random sample when data is large.

    Past a few hundred thousand rows, more rows barely move a model over a few dozen lead
    features but cost linear time; sampling keeps training on 1M outcomes within minutes on two
    cores. The logistic model still sees every row."""

    def fit(self, X, y, sample_weight=None):  # type: ignore[override]
        if len(y) > GB_MAX_ROWS:
            idx = np.sort(np.random.default_rng(0).choice(len(y), GB_MAX_ROWS, replace=False))
            X = X.iloc[idx] if hasattr(X, "iloc") else X[idx]
            y = np.asarray(y)[idx]
        return super().fit(X, y)


def _boosting_pipeline(specs: list[FeatureSpec], n_rows: int) -> Pipeline:
    prep = FramePrep([s.as_dict() for s in specs])
    gb = SampledHGB(
        learning_rate=0.05 if n_rows < 100_000 else 0.1, max_iter=800, max_leaf_nodes=15, min_samples_leaf=20,
        l2_regularization=5.0, categorical_features="from_dtype",
        early_stopping=True, validation_fraction=0.15, n_iter_no_change=30,
        scoring="loss", random_state=0)
    return Pipeline([("prep", prep), ("clf", gb)])


def build(algorithm: str, specs: list[FeatureSpec], n_rows: int = 0) -> Pipeline:
    if algorithm == "logistic":
        return _linear_pipeline(specs)
    if algorithm == "gradient_boosting":
        return _boosting_pipeline(specs, n_rows)
    raise ValueError(f"unknown algorithm {algorithm!r} (known: {', '.join(ALGORITHMS)})")


@dataclass
class Calibrated:
    """A fitted pipeline plus a monotone map from its raw scores to calibrated probabilities."""

    base: Pipeline
    method: str = "none"
    iso: IsotonicRegression | None = None
    platt: LogisticRegression | None = None
    oof_: np.ndarray | None = None

    def raw(self, X: pd.DataFrame) -> np.ndarray:
        return self.base.predict_proba(X)[:, 1]

    def fit_calibration(self, X: pd.DataFrame, y: np.ndarray) -> "Calibrated":
        self._fit_map(self.raw(X), y)
        return self

    def fit_calibration_oof(self, X: pd.DataFrame, y: np.ndarray, folds: int = 3,
                            seed: int = 0) -> "Calibrated":
        """Calibrate on out-of-fold scores of clones (every training row used for fitting
        and calibrating, never both by the same model). For data without a time order."""
        from sklearn.base import clone
        from sklearn.model_selection import StratifiedKFold
        oof = np.zeros(len(y))
        for a, b in StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y):
            oof[b] = clone(self.base).fit(X.iloc[a], y[a]).predict_proba(X.iloc[b])[:, 1]
        self.oof_ = oof
        self._fit_map(oof, y)
        return self

    def _fit_map(self, p: np.ndarray, y: np.ndarray) -> None:
        if len(np.unique(y)) < 2:
            self.method = "none"
        elif len(y) >= 1000 and min(y.sum(), len(y) - y.sum()) >= 50:
            self.iso = IsotonicRegression(out_of_bounds="clip", y_min=1e-4, y_max=1 - 1e-4).fit(p, y)
            self.method = "isotonic"
        else:
            self.platt = LogisticRegression(C=1e6).fit(_logit(p)[:, None], y)
            self.method = "sigmoid"

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = self.raw(X)
        if self.method == "isotonic" and self.iso is not None:
            # isotonic is a step function: a tiny share of the raw score breaks its ties, so
            # ranking (ROC AUC) is kept while probabilities stay calibrated.
            return np.clip(self.iso.predict(p) + 1e-6 * p, 0.0, 1.0)
        if self.method == "sigmoid" and self.platt is not None:
            return self.platt.predict_proba(_logit(p)[:, None])[:, 1]
        return p


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def fit(algorithm: str, specs: list[FeatureSpec], X: pd.DataFrame, y: np.ndarray) -> Calibrated:
    pipe = build(algorithm, specs, len(X))
    pipe.fit(X, y)
    return Calibrated(pipe)


# --------------------------------------------------------------------------- attributions
@dataclass
class LinearExplainer:
    """Per-row, per-feature log-odds contributions of a fitted logistic pipeline.

    contribution(row, feature) = sum over the feature's encoded columns of
    coefficient x (value - training mean): zero for an average lead, positive when the feature
    makes this lead likelier to convert than average.
    """

    pipeline: Pipeline
    features: list[str] = field(default_factory=list)
    group: Any = None            # sparse (n_encoded x n_features) 0/1 matrix
    baseline: np.ndarray | None = None

    @classmethod
    def from_pipeline(cls, pipe: Pipeline, X_train: pd.DataFrame) -> "LinearExplainer":
        ct: ColumnTransformer = pipe.named_steps["encode"]
        names = list(ct.get_feature_names_out())
        feats = [s["name"] for s in pipe.named_steps["prep"].specs]
        idx = {f: i for i, f in enumerate(feats)}
        cols = np.zeros(len(names), dtype=np.int64)
        for j, n in enumerate(names):
            cols[j] = idx[_owner(n, feats)]
        group = sparse.csr_matrix((np.ones(len(names)), (np.arange(len(names)), cols)),
                                  shape=(len(names), len(feats)))
        ex = cls(pipe, feats, group)
        ex.baseline = np.asarray(ex._raw(X_train.iloc[:200_000]).mean(axis=0)).ravel()
        return ex

    def _raw(self, X: pd.DataFrame) -> Any:
        enc = self.pipeline[:-1].transform(X)
        coef = self.pipeline.named_steps["clf"].coef_.ravel()
        enc = sparse.csr_matrix(enc).multiply(coef).tocsr()
        return enc @ self.group

    def explain(self, X: pd.DataFrame) -> pd.DataFrame:
        m = np.asarray(self._raw(X).todense()) - self.baseline
        return pd.DataFrame(m, columns=self.features, index=X.index)


def _owner(encoded: str, features: list[str]) -> str:
    """Which input feature an encoded column came from (longest matching name wins)."""
    if encoded.startswith("missingindicator_"):
        encoded = encoded[len("missingindicator_"):]
    best = ""
    for f in features:
        if (encoded == f or encoded.startswith(f + "_")) and len(f) > len(best):
            best = f
    if not best:
        raise ValueError(f"cannot map encoded column {encoded!r} to a feature")
    return best
